"""What the server and the CLI share at run time: logging setup, opening the index, asking safely."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TextIO

from ingest.build import UpdateOptions, ensure_index
from ingest.config import DataPaths
from ingest.embed import SentenceEmbedder
from ingest.errors import IndexFormatError
from ingest.types import Document
from retriever.errors import CitationError
from retriever.filters import Filters, admitted, facets
from retriever.followup import resolve
from retriever.pipeline import Retriever, check_question
from retriever.types import Answer, Citation
from server.settings import Settings

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log too much at INFO or below: bm25s sets its own logger to DEBUG at import,
# and faiss.loader reports every CPU-specific build it fails to find before the one that loads.
_QUIET_LOGGERS = ("bm25s", "faiss.loader")
WARM_UP_QUESTION = "政策的主要内容是什么"
# How long the server waits for another writer (a `zhengce ingest` or `add` run) to finish.
LOCK_WAIT_S = 120.0


class _StderrHandler(logging.StreamHandler[TextIO]):
    """The one handler this module installs, marked by its class so reconfiguring replaces it."""


def configure_logging(level: str = "INFO") -> None:
    """Send every log record to stderr in one format; safe to call more than once.

    Args:
        level: a level name such as ``INFO`` or ``DEBUG``.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    handler = _StderrHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    # bm25s calls setLevel(DEBUG) on its logger when imported, which would undo the level below;
    # every caller loads it anyway, so import it first.
    import bm25s  # noqa: F401

    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def open_retriever(settings: Settings, progress: bool = False) -> Retriever:
    """Sync the seeds, build the index if it is stale or missing, and open it.

    A generation that is corrupt or partial (caught only when its files are read) is rebuilt
    from the database once; if the rebuilt one cannot be opened either, the error propagates,
    so an empty or mismatched index is never served.

    Args:
        settings: where the data and seeds are and how to build.
        progress: show a tqdm progress bar on stderr while embedding.

    Raises:
        IngestError: the seeds are malformed, the model is unknown, or the index cannot be rebuilt.
    """
    paths = DataPaths(settings.data)
    cfg = settings.build_config()
    embedder = SentenceEmbedder(settings.embedder)
    options = UpdateOptions(progress=progress, wait_s=LOCK_WAIT_S, workers=settings.embed_processes, reconcile=True)
    ensure_index(paths, settings.seeds, cfg, embedder, options)
    try:
        return Retriever.open(paths.index, embedder, engine=cfg.engine)
    except IndexFormatError as e:
        logger.warning("the index is damaged and is rebuilt from the database: %s", e)
        reason = str(e)
    ensure_index(paths, settings.seeds, cfg, embedder, replace(options, rebuild=reason))
    return Retriever.open(paths.index, embedder, engine=cfg.engine)


def verify_citations(citations: tuple[Citation, ...], docs: Mapping[str, Document]) -> None:
    """Check that every quote, and the context shown around it, is its document's text at its offsets.

    Raises:
        CitationError: a citation names an unknown document or does not match its text.
    """
    for c in citations:
        doc = docs.get(c.doc_id)
        context_end = c.context_start + len(c.context)
        if (
            doc is None
            or doc.text[c.start : c.end] != c.quote
            or doc.text[c.context_start : context_end] != c.context
            or not c.context_start <= c.start <= c.end <= context_end
        ):
            raise CitationError(f"citation {c.chunk_id} [{c.start}:{c.end}] does not match the text of {c.doc_id}")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one question is answered from: a generation's retriever and the documents deleted since it was built."""

    retriever: Retriever
    hidden: frozenset[str] = frozenset()


class Service:
    """An open retriever shared by concurrent requests, with the facts the API reports about it.

    A question reads the current :class:`Snapshot` once and is answered from it without a lock, so
    questions run side by side; ``swap`` and ``hide`` publish a new snapshot (the one lock only
    orders those writers). What is not thread-safe guards itself (the embedder's model).
    """

    def __init__(self, retriever: Retriever) -> None:
        """Wrap an open retriever.

        Args:
            retriever: the retriever of the generation to serve.
        """
        self._snapshot = Snapshot(retriever)
        self._writers = threading.Lock()

    @property
    def retriever(self) -> Retriever:
        """The retriever of the generation being served."""
        return self._snapshot.retriever

    @property
    def hidden(self) -> frozenset[str]:
        """Documents deleted since the served generation was built: never cited."""
        return self._snapshot.hidden

    def hide(self, doc_id: str) -> None:
        """Never cite ``doc_id`` again, from this moment, though the served generation still holds it."""
        with self._writers:
            self._snapshot = replace(self._snapshot, hidden=self._snapshot.hidden | {doc_id})

    def swap(self, retriever: Retriever) -> None:
        """Serve another generation from the next question on; questions under way finish on the old one."""
        with self._writers:
            # A generation built before a delete still holds that document: keep hiding it.
            hidden = frozenset(d for d in self._snapshot.hidden if d in retriever.docs)
            self._snapshot = Snapshot(retriever, hidden)
        logger.info("now serving index generation %d", retriever.manifest.generation)

    def warm_up(self) -> float:
        """Ask one question so the first user does not pay for lazy initialization.

        The first question takes ~1.7 s (the embedding model's first call and jieba's dictionaries);
        later ones take ~5 ms.

        Returns:
            How long the warm-up question took, in milliseconds.
        """
        started = time.perf_counter()
        self.ask(WARM_UP_QUESTION, 1)
        return (time.perf_counter() - started) * 1000

    @property
    def generation(self) -> int:
        """The number of the index generation being served."""
        return self.retriever.manifest.generation

    def ask(self, question: str, top_k: int, filters: Filters | None = None, history: Sequence[str] = ()) -> Answer:
        """Answer a question from the current snapshot, with every citation checked against its document.

        A follow-up is first made whole from ``history`` (``retriever.followup``); the answer's
        ``question`` is the question answered. With ``filters``, only the documents they admit answer.

        Raises:
            QuestionError: the question is empty, blank or too long.
            CitationError: a quote does not match its document (a bug; never returned).
        """
        snapshot = self._snapshot
        only = None
        if filters is not None and filters.active:
            only = admitted(snapshot.retriever.docs.values(), filters) - snapshot.hidden
        resolved = resolve(check_question(question), history)
        answer = snapshot.retriever.ask(resolved, top_k, exclude=snapshot.hidden, only=only)
        verify_citations(answer.citations + answer.related, snapshot.retriever.docs)
        return answer

    def facets(self) -> Mapping[str, list[tuple[str, int]]]:
        """The values each filter can take among the documents served, with their counts."""
        snapshot = self._snapshot
        return facets(d for d in snapshot.retriever.docs.values() if d.doc_id not in snapshot.hidden)
