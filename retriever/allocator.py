"""How a searching process's C allocator treats the large arrays every question allocates and frees.

At a million chunks a question allocates tens of megabytes of numpy temporaries (a score per row, the
shares of a posting list). glibc serves each above its mmap threshold (128 KB, raised on the fly up
to 32 MB) with fresh pages and trims the heap back to the system whenever more than twice that lies
free at its top, so every question faulted the same pages in again: 2.3 million minor page faults in
195 questions. Keeping up to ``TRIM_BYTES`` free in the heap and serving blocks below ``MMAP_BYTES``
from it (Linux, glibc; elsewhere nothing changes), the same questions took 0.3 million faults and
the in-process ask p50 fell from 42.6 to 34–39 ms (three runs), at the same peak memory.
Blocks of ``MMAP_BYTES`` and more (an index build's, a merge's) are still mapped and given back
when freed; setting the trim threshold alone would turn off the raised mmap threshold and fault
four times as often.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

logger = logging.getLogger(__name__)

MMAP_BYTES = 64 * 2**20
TRIM_BYTES = 256 * 2**20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
_done = False


def keep_freed_memory() -> bool:
    """Set the thresholds for this process (once); whether the allocator took them."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux") or not (name := ctypes.util.find_library("c")):
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_BYTES))
    if not _done:
        logger.warning("the C allocator refused the mmap/trim thresholds; questions on a large library run slower")
    return _done
