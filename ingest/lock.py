"""One writer at a time per data directory: an advisory ``flock`` on ``writer.lock``.

Readers (the server answering questions) never take it: they read a published generation, which
is never changed in place. Writers (ingest, add, rebuild) hold it for the whole update.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ingest.errors import IngestError

logger = logging.getLogger(__name__)

LOCK_NAME = "writer.lock"


class WriterBusyError(IngestError):
    """Another process is updating the data directory."""


@contextmanager
def writer_lock(root: Path, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the data directory's writer lock, waiting up to ``wait_s`` seconds for it.

    Raises:
        WriterBusyError: another writer holds it (its pid is in the message).
    """
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    with path.open("a+") as f:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    f.seek(0)
                    holder = f.read().strip() or "unknown"
                    raise WriterBusyError(
                        f"{root} is being updated by another process (pid {holder}); "
                        "wait until it finishes, or add documents through that process (the server's upload)"
                    ) from None
                time.sleep(0.1)
        try:
            f.seek(0)
            f.truncate()
            f.write(str(os.getpid()))
            f.flush()
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
