"""Open a retriever over an eval corpus, building (or reusing) its own data directory (I/O)."""

from __future__ import annotations

import logging
from pathlib import Path

from ingest.build import build_index, ensure_index, index_is_current, sync_documents
from ingest.config import BuildConfig, DataPaths
from ingest.embed import Embedder
from ingest.store import Store
from ingest.types import Document
from retriever.config import RetrievalConfig
from retriever.pipeline import Retriever

logger = logging.getLogger(__name__)


def seed_retriever(
    data_dir: Path, seeds_dir: Path, cfg: BuildConfig, embedder: Embedder, config: RetrievalConfig
) -> Retriever:
    """A retriever over ``seeds/`` exactly as the product builds it."""
    paths = DataPaths(data_dir)
    ensure_index(paths, seeds_dir, cfg, embedder)
    return Retriever.open(paths.index, embedder, config)


def corpus_retriever(
    data_dir: Path, docs: dict[str, Document], cfg: BuildConfig, embedder: Embedder, config: RetrievalConfig
) -> Retriever:
    """A retriever over already clean documents (a benchmark's paragraphs), reused when unchanged."""
    paths = DataPaths(data_dir)
    store = Store(paths.db)
    try:
        sync_documents(store, docs.values(), cfg.chunk, "benchmark")
        if not index_is_current(paths, store, cfg, embedder):
            build_index(store, paths.index, cfg, embedder, progress=False)
    finally:
        store.close()
    return Retriever.open(paths.index, embedder, config)
