"""Documents staff add: receive (acknowledged once committed) → parse → searchable; replace, delete, correct.

The raw bytes are stored under their sha256 (``files/<sha256>``), never under the client's name.
Parsing runs later (``process_pending``), so an upload is acknowledged fast and a crash between
the two loses nothing: on restart, every ``received`` document is parsed again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from ingest.audit import Actor
from ingest.chunk import chunk_document
from ingest.config import ChunkConfig, DataPaths
from ingest.doc_region import with_region
from ingest.errors import DocumentError
from ingest.lead import first_clause, looks_like_file_id
from ingest.metadata import extract_metadata, guess_title
from ingest.readers import ReadLimits, check_upload, read_document
from ingest.store import INDEXABLE, Store
from ingest.types import DocStatus, Document

logger = logging.getLogger(__name__)

UPLOAD_ORIGIN = "upload"


@dataclass(frozen=True, slots=True)
class Received:
    """The outcome of handing over one file: its status row, and whether the same bytes were there already."""

    status: DocStatus
    duplicate: bool


# Recorded once the uploads of older releases were parsed again for their titles (``Library.retitle``).
_RETITLED = "retitled_uploads"


class Library:
    """The documents of one data directory, as staff add, replace and delete them."""

    def __init__(self, paths: DataPaths, chunk: ChunkConfig, limits: ReadLimits | None = None) -> None:
        self.paths = paths
        self.chunk = chunk
        self.limits = limits or ReadLimits()
        self.store = Store(paths.db)

    def close(self) -> None:
        """Close the database connection."""
        self.store.close()

    def _raw_path(self, sha256: str) -> Path:
        return self.paths.root / "files" / sha256

    def _save_raw(self, sha256: str, data: bytes) -> None:
        path = self._raw_path(sha256)
        if path.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def receive_each(
        self, files: Iterable[tuple[str, bytes]], by: Actor | None = None
    ) -> Iterator[Received | DocumentError]:
        """Receive each ``(filename, bytes)`` in turn: its acknowledgment, or the reason it was refused.

        One refused file never stops the others; each result is committed (with its audit record when
        ``by`` is given) before it is yielded.
        """
        for name, data in files:
            try:
                yield self.receive(name, data, by=by)
            except DocumentError as e:
                yield e

    def receive(self, filename: str, data: bytes, doc_id: str | None = None, by: Actor | None = None) -> Received:
        """Store an upload and record it as ``received``; identical bytes already here are a no-op.

        A new version of an existing document is kept apart until it parses: if it cannot be read,
        the document keeps its current version (and says why in ``error``).

        Args:
            filename: the client's file name (only its last component is kept).
            data: the file's bytes.
            doc_id: the document to replace; None for a new document.
            by: who sends it, for the audit trail (None: not audited). Identical bytes already here change
                nothing and are not audited, unless they cancel a pending new version.

        Raises:
            DocumentError: the upload is refused (UnsupportedFormatError for its type); nothing was stored.
        """
        name = check_upload(filename, data, self.limits)[0] or "unnamed"
        sha = hashlib.sha256(data).hexdigest()
        existing = self.store.find_by_sha256(sha, UPLOAD_ORIGIN)
        if existing is not None and doc_id in (None, existing):
            if doc_id is not None and self._status(doc_id).sha256 == sha:
                self._cancel_replacement(doc_id, by)  # back to the bytes it has: a pending new version is void
            return Received(self._status(existing), duplicate=True)
        self._save_raw(sha, data)
        if doc_id is not None and self.store.status(doc_id) is not None:
            self.store.add_replacement(doc_id, name, sha, by)
            logger.info("received a new version of %s: %s (%d bytes)", doc_id, name, len(data))
            return Received(replace(self._status(doc_id), status="received", filename=name), duplicate=False)
        new_id = doc_id or self._free_id(f"doc-{sha[:16]}", sha)
        self.store.add_received(new_id, name, sha, UPLOAD_ORIGIN, by)
        logger.info("received %s as %s (%d bytes)", name, new_id, len(data))
        return Received(self._status(new_id), duplicate=False)

    def _cancel_replacement(self, doc_id: str, by: Actor | None) -> None:
        for pending_id, _, sha in self.store.replacements():
            if pending_id == doc_id:
                self.store.drop_replacement(doc_id, sha, None, by)
                self._remove_raw_if_unused(sha)

    def _status(self, doc_id: str) -> DocStatus:
        status = self.store.status(doc_id)
        assert status is not None, doc_id
        return status

    def _free_id(self, wanted: str, sha256: str) -> str:
        """``wanted``, or ``wanted-2``, ``-3``…: the id may belong to a document since replaced by other bytes.

        An id whose document failed with these very bytes is free again: sending them again retries.
        """
        candidate, n = wanted, 1
        while (row := self.store.status(candidate)) is not None and not (
            row.status == "failed" and row.sha256 == sha256
        ):
            n += 1
            candidate = f"{wanted}-{n}"
        return candidate

    def _read(self, doc_id: str, filename: str, sha256: str) -> tuple[Document, str]:
        """The parsed document and its format.

        Raises:
            DocumentError: the file cannot be read into text (or its bytes are gone).
        """
        try:
            data = self._raw_path(sha256).read_bytes()
        except OSError as e:
            raise DocumentError(f"{filename!r}: 原始文件丢失 / the stored file is missing ({e.strerror})") from e
        with self._ocr_progress(doc_id) as progress:
            parsed = read_document(filename, data, self.limits, progress)
        # A title the reader only guessed from the text is no hint: the text read whole knows better
        # (a title wrapped over two lines under a masthead).
        hint = "" if parsed.title == guess_title(parsed.text) else parsed.title
        meta = extract_metadata(parsed.text, hint, parsed.source)
        doc = Document(
            doc_id=doc_id,
            title=meta.title or parsed.title or _name_title(filename) or first_clause(parsed.text),
            text=parsed.text,
            source=parsed.source,
            author=parsed.author,
            published=meta.published or parsed.published,
            doc_number=meta.doc_number,
            issuer=meta.issuer,
            sha256=sha256,
            pages=tuple((p.start, p.end, p.page) for p in parsed.pages),
            ocr_pages=parsed.ocr_pages,
        )
        return with_region(doc), parsed.fmt

    @contextmanager
    def _ocr_progress(self, doc_id: str) -> Iterator[Callable[[int, int], None]]:
        """A callback that records how far OCR of the document is (``OCR 3/10 页``) for the list to show;
        cleared once the reading ends, for a new version that fails or a title read again changes no status."""
        shown = False

        def record(done: int, total: int) -> None:
            nonlocal shown
            shown = True
            self.store.set_progress(doc_id, f"OCR {done}/{total} 页")

        try:
            yield record
        finally:
            if shown:
                self.store.set_progress(doc_id, None)

    def parse(self, status: DocStatus) -> DocStatus | None:
        """Read, clean, describe and chunk one received document; a failure is recorded with its reason.

        Returns:
            The new status row, or None when the document was deleted while it was being read.
        """
        try:
            doc, fmt = self._read(status.doc_id, status.filename, status.sha256)
        except DocumentError as e:
            self.store.set_status(status.doc_id, "failed", str(e))
            logger.warning("could not parse %s: %s", status.doc_id, e)
        else:
            chunks = chunk_document(doc, self.chunk)
            self.store.put_document(doc, chunks, UPLOAD_ORIGIN, status.filename, fmt, existing_only=True)
        return self.store.status(status.doc_id)

    def _apply_replacement(self, doc_id: str, filename: str, sha256: str) -> DocStatus | None:
        old = self.store.status(doc_id)
        if old is None:
            return None
        try:
            doc, fmt = self._read(doc_id, filename, sha256)
        except DocumentError as e:
            self.store.drop_replacement(doc_id, sha256, f"新版本未采用 / the new version was not used: {e}")
            self._remove_raw_if_unused(sha256)
            return self.store.status(doc_id)
        chunks = chunk_document(doc, self.chunk)
        if self.store.put_document(doc, chunks, UPLOAD_ORIGIN, filename, fmt, existing_only=True):
            self.store.drop_replacement(doc_id, sha256, None)
        self._remove_raw_if_unused(old.sha256)
        return self.store.status(doc_id)

    def retitle(self) -> int:
        """Parse again, once, every upload whose title is a file hash or a number, as uploads parsed before
        titles were read from run-on text have; one that cannot be read now, or whose title is still
        the same, stays as it is.

        Returns:
            How many documents got a new title.
        """
        if self.store.get_meta(_RETITLED) == "1":
            return 0
        stale = [
            s
            for s in self.store.statuses()
            if s.status in INDEXABLE and looks_like_file_id(s.title) and self.store.origin(s.doc_id) == UPLOAD_ORIGIN
        ]
        retitled = 0
        for status in stale:
            try:
                doc, fmt = self._read(status.doc_id, status.filename, status.sha256)
            except DocumentError as e:
                logger.warning("could not parse %s again: %s", status.doc_id, e)
                continue
            if doc.title != status.title:
                chunks = chunk_document(doc, self.chunk)
                self.store.put_document(doc, chunks, UPLOAD_ORIGIN, status.filename, fmt, existing_only=True)
                retitled += 1
        self.store.set_meta(_RETITLED, "1")
        return retitled

    def _remove_raw_if_unused(self, sha256: str) -> None:
        if self.store.find_by_sha256(sha256, UPLOAD_ORIGIN) is None:
            self._raw_path(sha256).unlink(missing_ok=True)

    def process_pending(self) -> list[DocStatus]:
        """Parse every ``received`` document and new version (after a crash too); returns their status rows."""
        done = [self.parse(s) for s in self.store.statuses(status="received")]
        done += [self._apply_replacement(*r) for r in self.store.replacements()]
        return [s for s in done if s is not None]

    def delete(self, doc_id: str, by: Actor | None = None) -> bool:
        """Delete a document, its chunks and (when nothing else uses them) its raw bytes; audited when ``by``
        is given."""
        status = self.store.status(doc_id)
        pending = [sha for d, _, sha in self.store.replacements() if d == doc_id]
        if status is None or not self.store.delete_document(doc_id, by):
            return False
        for sha in [status.sha256, *pending]:
            self._remove_raw_if_unused(sha)
        logger.info("deleted %s", doc_id)
        return True


def _name_title(filename: str) -> str:
    """A file name that names the document (``关于停车收费的通知.txt``), without its extension; else ``""``.

    A hash or a number is never a title, nor a name without two Chinese characters (``scan01``).
    """
    stem = os.path.splitext(filename)[0].strip()
    return stem if len(re.findall(r"[\u4e00-\u9fff]", stem)) >= 2 and not looks_like_file_id(stem) else ""
