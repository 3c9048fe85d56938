"""Read a PDF (its text layer, OCR for pages without one) or an image (OCR) in a subprocess.

pypdf, pypdfium2, Pillow and Tesseract (``ingest.ocr``) run in a child process (``python -m
ingest.pdf_worker pdf|image …``, the file on stdin) so that a malformed, looping or huge file can
neither hang nor crash the server: the parent kills it at its deadline, a crash is only a non-zero
exit, and an address-space cap (inherited by Tesseract) turns a memory bomb into an error. The
child writes JSON lines: first ``{"ocr": [pages]}``, the pages it will OCR, which extends the
deadline by ``page_timeout_s`` each; then ``{"done": k}`` after each; last ``{"pages": [...],
"title": ..., "ocr_pages": [...]}``. The parent passes the plan and each page done to an optional
``progress(done, total)`` callback, so a long scan shows how far it is.

The page texts are laid out in the parent by ``ingest.page_layout``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.errors import DocumentError
from ingest.ocr import OcrConfig, OcrError, needs_ocr, ocr_image, ocr_pdf_pages
from ingest.page_layout import Spans, layout_pages

__all__ = ["WorkerLimits", "layout_pages", "read_image", "read_pdf", "run_worker"]

logger = logging.getLogger(__name__)

# The worker's address-space cap, so that a decompression bomb inside a PDF ends in a MemoryError
# in the worker instead of eating the server's memory.
_WORKER_MEMORY_BYTES = 2 * 2**30
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]
# Metadata titles that name a file or a tool rather than the document.
_JUNK_TITLE = re.compile(r"^(?:microsoft (?:word|excel|powerpoint) - |untitled$)|\.(?:docx?|wps|pdf)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class WorkerLimits:
    """What the worker may spend: ``timeout_s`` to read the file, plus ``ocr.page_timeout_s`` for each
    page it must OCR (the worker names them first; a PDF has at most ``max_pages`` pages)."""

    timeout_s: float
    max_pages: int
    ocr: OcrConfig = field(default_factory=OcrConfig)


@dataclass(frozen=True, slots=True)
class WorkerResult:
    """The raw text of each page, the metadata title (``""`` if none) and the 1-based pages read by OCR."""

    pages: list[str]
    title: str
    ocr_pages: list[int]


_FAILED = {"pdf": "PDF 无法解析 / the PDF could not be parsed", "image": "图片无法识别 / the image could not be read"}


def run_worker(
    name: str, data: bytes, kind: str, limits: WorkerLimits, progress: Callable[[int, int], None] | None = None
) -> WorkerResult:
    """Extract the page texts of a PDF (OCR where a page has no text layer) or OCR an image, in a subprocess.

    Args:
        name: The file name, for error messages.
        data: The file's bytes.
        kind: ``"pdf"`` or ``"image"``.
        limits: Time, page and OCR settings.
        progress: Called with ``(0, n)`` once the worker names the ``n`` pages it will OCR (if any), then
            with ``(k, n)`` after the k-th; in this thread, while the worker runs.

    Raises:
        DocumentError: On a timeout, a crash, or any pypdf, pdfium, Pillow or Tesseract error.
    """
    failed = f"{name!r}: {_FAILED[kind]}"
    ocr = limits.ocr
    command = [sys.executable, "-m", "ingest.pdf_worker", kind, str(limits.max_pages), ocr.languages, str(ocr.psm)]
    command += [str(ocr.dpi), f"{ocr.page_timeout_s:g}"]
    with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as stderr:
        stdin.write(data)
        stdin.seek(0)
        # Fixed argv; the file only goes to stdin. stderr to a file: a chatty worker never blocks on a pipe.
        # Its own session: on a timeout the whole group goes, a Tesseract it is waiting for included.
        proc = subprocess.Popen(
            command, stdin=stdin, stdout=subprocess.PIPE, stderr=stderr, cwd=_PACKAGE_ROOT, start_new_session=True
        )
        try:
            last = _last_message(proc, name, limits, failed, progress)
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            assert proc.stdout is not None
            proc.stdout.close()
        stderr.seek(0)
        lines = stderr.read().decode("utf-8", "replace").strip().splitlines()
    if proc.returncode != 0:
        reason = lines[-1] if lines else f"worker exited with code {proc.returncode}"
        raise DocumentError(f"{failed}: {reason}; re-save or re-export the file and upload it again")
    return _result(last, failed)


def _last_message(
    proc: subprocess.Popen[bytes],
    name: str,
    limits: WorkerLimits,
    failed: str,
    progress: Callable[[int, int], None] | None,
) -> str:
    """Read the worker's JSON lines until it closes stdout; the last line. The deadline grows by
    ``page_timeout_s`` for each page the worker says it will OCR; the plan and each page done go to ``progress``.

    Raises:
        DocumentError: no result by the deadline (the caller kills the worker).
    """
    assert proc.stdout is not None
    deadline, budget = time.monotonic() + limits.timeout_s, f"{limits.timeout_s:g}s"
    pending, last, planned = list[bytes](), b"", 0
    report = progress or _ignore
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while True:
            if not selector.select(max(0.0, deadline - time.monotonic())):
                raise DocumentError(f"{failed}: no result after {budget}; check the file or raise pdf_timeout_s")
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                return (b"".join(pending) or last).decode("utf-8", "replace")
            pending.append(chunk)
            if b"\n" not in chunk:  # the final result may be megabytes: join only at line ends
                continue
            *complete, rest = b"".join(pending).split(b"\n")
            pending, last = [rest], complete[-1]
            for line in complete:
                if planned_now := _planned_ocr(line):
                    planned = planned_now
                    if planned > limits.ocr.max_pages:  # the caller kills the worker
                        raise DocumentError(
                            f"{failed}: 有 {planned} 页扫描页需要识别，超过每个文件 {limits.ocr.max_pages} 页的上限，"
                            f"请拆分后分批上传 / {planned} scanned pages to read by OCR, more than "
                            f"{limits.ocr.max_pages} a file: split the scan and upload the parts"
                        )
                    deadline += planned * limits.ocr.page_timeout_s
                    budget += f" + {planned} OCR pages × {limits.ocr.page_timeout_s:g}s"
                    logger.info("%s: OCR of %d pages", name, planned)
                    report(0, planned)
                elif planned and (done := _done_ocr(line)) is not None:
                    logger.debug("%s: OCR of page %d/%d done", name, done, planned)
                    report(done, planned)


def _planned_ocr(line: bytes) -> int | None:
    """The number of pages a ``{"ocr": [...]}`` plan line names, else None."""
    if not line.startswith(b'{"ocr"'):
        return None
    try:
        return len(json.loads(line)["ocr"])
    except (ValueError, KeyError, TypeError):
        return None


def _done_ocr(line: bytes) -> int | None:
    """How many pages a ``{"done": k}`` progress line says are OCR'd, else None."""
    if not line.startswith(b'{"done"'):
        return None
    try:
        done = json.loads(line)["done"]
    except (ValueError, KeyError, TypeError):
        return None
    return done if isinstance(done, int) else None


def _ignore(done: int, total: int) -> None:
    """No one asked for the OCR progress."""


def _result(line: str, failed: str) -> WorkerResult:
    """The worker's final JSON line as a ``WorkerResult``.

    Raises:
        DocumentError: it is not JSON of the right shape.
    """
    try:
        payload = json.loads(line)
        pages, title, ocr_pages = payload["pages"], payload["title"] or "", payload["ocr_pages"]
    except (ValueError, KeyError, TypeError) as e:
        raise DocumentError(f"{failed}: the worker's output is not valid JSON ({e})") from e
    if (
        not isinstance(pages, list)
        or not all(isinstance(p, str) for p in pages)
        or not isinstance(title, str)
        or not isinstance(ocr_pages, list)
        or not all(isinstance(n, int) for n in ocr_pages)
    ):
        raise DocumentError(f"{failed}: the worker's output has the wrong shape")
    return WorkerResult(pages, title, ocr_pages)


def read_pdf(
    name: str, data: bytes, limits: WorkerLimits, progress: Callable[[int, int], None] | None = None
) -> tuple[str, Spans, str, tuple[int, ...]]:
    """Read a PDF into clean text (see ``layout_pages``): its text layer, and OCR for pages without one
    (``progress`` as in ``run_worker``).

    Returns:
        The text, the span of each page, the metadata title and the 1-based pages read by OCR.

    Raises:
        DocumentError: If the PDF cannot be parsed (see ``run_worker``) or no page has any text.
    """
    result = run_worker(name, data, "pdf", limits, progress)
    text, spans = layout_pages(result.pages)
    if not text:
        raise DocumentError(
            f"{name!r}: PDF 没有文字层（可能是扫描件），无法检索；OCR 也没有识别出文字 / the PDF has no text layer "
            "(probably scanned) and OCR read no text on its pages; upload a clearer scan (300 dpi) or the text itself"
        )
    title = " ".join(result.title.split())
    return text, spans, "" if _JUNK_TITLE.search(title) else title, _with_text(spans, result.ocr_pages)


def read_image(
    name: str, data: bytes, limits: WorkerLimits, progress: Callable[[int, int], None] | None = None
) -> tuple[str, Spans]:
    """Read an image of one page with OCR into clean text and its one page span (``progress`` as in
    ``run_worker``: ``(0, 1)``, then ``(1, 1)``).

    Raises:
        DocumentError: If the image cannot be opened, is too large, or OCR reads no text on it.
    """
    text, spans = layout_pages(run_worker(name, data, "image", limits, progress).pages)
    if not text:
        raise DocumentError(
            f"{name!r}: 图片中没有识别出文字 / OCR read no text in the image; upload a clearer scan (300 dpi)"
        )
    return text, spans


def _with_text(spans: Spans, pages: list[int]) -> tuple[int, ...]:
    """The pages of ``pages`` that have text (a span)."""
    have = {page for _, _, page in spans}
    return tuple(sorted(n for n in set(pages) if n in have))


def _limit_memory() -> None:
    """Cap the worker's address space where the platform allows it."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = _WORKER_MEMORY_BYTES if hard == resource.RLIM_INFINITY else min(hard, _WORKER_MEMORY_BYTES)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def main(argv: list[str] | None = None) -> int:
    """Worker entry: the file on stdin; JSON lines on stdout (see the module docstring).

    Arguments: ``KIND MAX_PAGES LANGUAGES PSM DPI PAGE_TIMEOUT_S`` (``pdf 2000 chi_sim 3 300 60``).
    A pypdf error is left uncaught on purpose: its traceback's last line goes to stderr and the
    exit code is non-zero, which the parent turns into a ``DocumentError``; so does an ``OcrError``.
    """
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    args = sys.argv[1:] if argv is None else argv
    kind, max_pages = (args[0], int(args[1])) if len(args) > 1 else ("pdf", 2000)
    ocr = OcrConfig(args[2], int(args[3]), int(args[4]), float(args[5])) if len(args) > 5 else OcrConfig()
    _limit_memory()
    data = sys.stdin.buffer.read()
    result: dict[str, object]
    try:
        if kind == "image":
            _emit({"ocr": [1]})
            text = ocr_image(data, ocr)
            _emit({"done": 1})
            result = {"pages": [text], "title": "", "ocr_pages": [1]}
        else:
            result = _read_pdf_pages(data, max_pages, ocr)
    except OcrError as e:
        raise SystemExit(str(e)) from e
    _emit(result)
    return 0


def _read_pdf_pages(data: bytes, max_pages: int, ocr: OcrConfig) -> dict[str, object]:
    """The worker's reading of a PDF: the text layer of each page, then OCR where it is missing."""
    from io import BytesIO

    from pypdf import PdfReader

    reader = PdfReader(BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise SystemExit("the PDF is password-protected; upload an unprotected copy")
    if len(reader.pages) > max_pages:
        raise SystemExit(f"the PDF has {len(reader.pages)} pages, more than max_pages={max_pages}")
    pages = [page.extract_text() or "" for page in reader.pages]
    title = reader.metadata.title if reader.metadata else None
    _emit({"ocr": [n for n, text in enumerate(pages, 1) if needs_ocr(text)]})
    replaced = ocr_pdf_pages(data, pages, ocr, lambda k: _emit({"done": k}))
    return {"pages": pages, "title": title if isinstance(title, str) else "", "ocr_pages": replaced}


def _emit(message: dict[str, object]) -> None:
    """Write one JSON line to stdout at once (the parent reads the plan and progress as they come)."""
    sys.stdout.write(json.dumps(message, ensure_ascii=False) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
