"""Adding, replacing and deleting documents while the server keeps answering.

Uploads are stored and acknowledged at once (status ``received``); one background thread then
parses them, publishes a new index generation under the data directory's writer lock (a small
segment of what changed), and swaps the served retriever; then, if the merge policy asks, it merges
segments and swaps again. Questions keep being answered from the previous generation meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time

from ingest.audit import Actor, AuditQuery, AuditRecord
from ingest.build import SEED_ORIGIN, UpdateOptions, compact_index, ensure_index
from ingest.config import DataPaths
from ingest.embed import Embedder
from ingest.errors import DocumentError
from ingest.index_store import current_generation
from ingest.library import Library, Received
from ingest.milvus_index import EngineUnavailableError
from ingest.readers import ReadLimits
from ingest.store import StatusQuery
from ingest.types import DocStatus
from retriever.pipeline import Retriever
from server.runtime import LOCK_WAIT_S, Service
from server.settings import Settings

logger = logging.getLogger(__name__)


class SeedDocumentError(DocumentError):
    """Seed documents are managed in ``seeds/``, not through the API."""


# How often the indexer looks for a generation published by another process (`zhengce add`, or
# another worker of this server, which then serves the documents this one hid as deleted).
POLL_S = 0.25
# While idle, how often the indexer checks that the search engine answers (an embedded one always does).
ENGINE_CHECK_S = 5.0


class Indexer:
    """One background thread that turns received documents into a served generation.

    It also notices a generation that another writer process published and serves it.
    """

    def __init__(self, settings: Settings, embedder: Embedder, service: Service) -> None:
        self.settings = settings
        self.embedder = embedder
        self.service = service
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        # The search engine was unreachable: retry every poll, and check its collection against the database.
        self._engine_failed = False
        self._engine_checked = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="indexer", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after the update under way."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=LOCK_WAIT_S)

    def request(self) -> None:
        """Ask for an update; several requests before it starts make one update."""
        self._idle.clear()
        self._wake.set()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no update is pending or running; False on timeout."""
        return self._idle.wait(timeout)

    def _published_elsewhere(self) -> bool:
        current = current_generation(DataPaths(self.settings.data).index)
        return current is not None and current != self.service.generation

    def _run(self) -> None:
        while not self._stop.is_set():
            woken = self._wake.wait(POLL_S)
            self._wake.clear()
            if self._stop.is_set():
                break
            if not woken and not self._engine_failed and not self._published_elsewhere() and self._engine_ok():
                continue
            try:
                self.update()
                self._engine_failed = False
            except EngineUnavailableError as e:
                self._engine_failed = True
                logger.error("index update waits for the search engine (retried every %.2fs): %s", POLL_S, e)
            except Exception:  # the thread must survive any one failed update; the next upload retries
                logger.exception("index update failed; the previous generation is still served")
            if not self._wake.is_set():
                self._idle.set()

    def _engine_ok(self) -> bool:
        """Whether the search engine answers (checked every ``ENGINE_CHECK_S`` while idle): an engine restarted
        without its data is noticed, and refilled from the database, without waiting for an upload."""
        now = time.monotonic()
        if now - self._engine_checked < ENGINE_CHECK_S:
            return True
        self._engine_checked = now
        try:
            self.service.retriever.index.check()
        except EngineUnavailableError as e:
            logger.error("the search engine is unavailable; the index waits for it: %s", e)
            self._engine_failed = True
            return False
        return True

    def update(self) -> None:
        """Parse pending documents, publish what changed, and serve the new generation; then merge
        segments if the merge policy asks, serving each merged generation as it is published."""
        s = self.settings
        paths = DataPaths(s.data)
        options = UpdateOptions(wait_s=LOCK_WAIT_S, workers=s.embed_processes, reconcile=self._engine_failed)
        manifest = ensure_index(paths, s.seeds, s.build_config(), self.embedder, options)
        self._serve_current()
        logger.info("index generation %d published (%d documents)", manifest.generation, manifest.n_docs)
        # Merges one at a time, stopping as soon as another update is asked for: changes come first.
        while not self._wake.is_set() and not self._stop.is_set() and compact_index(paths, self.embedder, LOCK_WAIT_S):
            self._serve_current()

    def _serve_current(self) -> None:
        """Serve the current generation if it is not the one served."""
        index = DataPaths(self.settings.data).index
        if current_generation(index) != self.service.generation:
            engine = self.settings.build_config().engine
            self.service.swap(Retriever.open(index, self.embedder, previous=self.service.retriever, engine=engine))


class Documents:
    """The document routes' service: acknowledge uploads, then let the indexer do the work."""

    def __init__(self, settings: Settings, service: Service, indexer: Indexer) -> None:
        self.settings = settings
        self.service = service
        self.indexer = indexer
        limits = ReadLimits(max_bytes=settings.max_upload_bytes)
        # One connection for the app's lifetime (SQLite in WAL mode: every read sees the last commit,
        # the indexer's too); requests from the thread pool take turns on it.
        self._library = Library(DataPaths(settings.data), settings.build_config().chunk, limits)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._library.close()

    def add(self, files: list[tuple[str, bytes]], by: Actor) -> list[Received | DocumentError]:
        """Store each file and acknowledge it (audited as sent ``by``), or say why it was refused; then ask for
        an update."""
        with self._lock:
            results = list(self._library.receive_each(files, by))
        if any(isinstance(r, Received) and not r.duplicate for r in results):
            self.indexer.request()
        return results

    def replace(self, doc_id: str, name: str, data: bytes, by: Actor) -> Received | None:
        """Replace a document with a new version (audited as sent ``by``); None when there is no such document.

        Raises:
            SeedDocumentError: it is a seed document.
            DocumentError: the new file is refused (UnsupportedFormatError for its type); the old version stays.
        """
        with self._lock:
            if self._guard(self._library, doc_id) is None:
                return None
            received = self._library.receive(name, data, doc_id=doc_id, by=by)
        self.indexer.request()
        return received

    def delete(self, doc_id: str, by: Actor) -> bool:
        """Delete a document (audited as done ``by``); it is never cited again once the next generation is served."""
        with self._lock:
            if self._guard(self._library, doc_id) is None:
                return False
            deleted = self._library.delete(doc_id, by)
        if deleted:
            self.service.hide(doc_id)
        self.indexer.request()
        return deleted

    def patch(self, doc_id: str, fields: dict[str, str | list[str] | None], by: Actor) -> DocStatus | None:
        """Correct a document's metadata (audited as done ``by``); None when there is no such document.

        Raises:
            SeedDocumentError: it is a seed document (its metadata lives in ``seeds/manifest.jsonl``).
        """
        with self._lock:
            self._guard(self._library, doc_id)
            if not self._library.store.update_metadata(doc_id, fields, by):
                return None
            status = self._library.store.status(doc_id)
        self.indexer.request()
        return status

    def statuses(self, doc_id: str | None = None) -> list[DocStatus]:
        """The status rows of every document, or of one."""
        with self._lock:
            return self._library.store.statuses(doc_id)

    def page(self, query: StatusQuery) -> tuple[list[DocStatus], int]:
        """One page of the status rows a query selects, and how many it selects in all."""
        with self._lock:
            return self._library.store.statuses(page=query), self._library.store.count_statuses(query)

    def audit(self, query: AuditQuery) -> list[AuditRecord]:
        """The audit records a query selects."""
        with self._lock:
            return self._library.store.audit_records(query)

    @staticmethod
    def _guard(library: Library, doc_id: str) -> DocStatus | None:
        status = library.store.status(doc_id)
        if status is not None and library.store.origin(doc_id) == SEED_ORIGIN:
            raise SeedDocumentError(
                f"{doc_id} is a seed document; edit seeds/manifest.jsonl and restart to change or remove it"
            )
        return status
