"""From seeds and stored documents to a published index generation.

``sync_seeds`` brings the database in line with ``seeds/``; ``build_index`` derives a new
generation from the database; ``ensure_index`` does both only when something changed, so a
restart with unchanged seeds and a valid index costs a checksum pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ingest.chunk import chunk_document
from ingest.clean import clean_text
from ingest.config import BuildConfig, ChunkConfig, DataPaths
from ingest.doc_region import with_region
from ingest.embed import Embedder, Vectors
from ingest.errors import IndexFormatError
from ingest.index_store import IndexData, has_index, verify_generation, write_generation
from ingest.library import Library
from ingest.lock import writer_lock
from ingest.seeds import SeedEntry, read_seeds
from ingest.store import Store, text_sha256
from ingest.tokenize import tokenize, tokenizer_id
from ingest.types import Chunk, Document, IndexManifest

logger = logging.getLogger(__name__)

SEED_ORIGIN = "seed"


def seed_document(entry: SeedEntry) -> Document:
    """The cleaned document of a seed; manifest metadata wins over what cleaning found."""
    cleaned = clean_text(entry.raw.decode("utf-8-sig"))
    doc = Document(
        doc_id=entry.doc_id,
        title=entry.title,
        text=cleaned.text,
        source=entry.source,
        author=entry.author or cleaned.author,
        published=entry.published or cleaned.published,
        doc_number=entry.doc_number,
        issuer=entry.issuer,
        source_url=entry.source_url,
        sha256=entry.sha256,
    )
    return with_region(doc)


def sync_documents(store: Store, docs: Iterable[Document], chunk_cfg: ChunkConfig, origin: str) -> int:
    """Make the documents of one origin in the database exactly ``docs``.

    A document whose raw sha256 is unchanged is left alone; a changed one is re-chunked and
    replaced; one of this origin that is no longer listed is deleted. When the chunk config
    differs from the recorded one, every document is re-chunked first (:func:`rechunk_if_changed`).

    Returns:
        How many documents were added, replaced or removed.
    """
    changes = rechunk_if_changed(store, chunk_cfg)
    known = store.doc_sha256()
    listed = set()
    for doc in docs:
        listed.add(doc.doc_id)
        if known.get(doc.doc_id) == (doc.sha256, origin):
            continue
        store.put_document(doc, chunk_document(doc, chunk_cfg), origin)
        changes += 1
    for doc_id, (_, their_origin) in known.items():
        if their_origin == origin and doc_id not in listed:
            store.delete_document(doc_id)
            changes += 1
    logger.info("%s: %d documents listed, %d changes", origin, len(listed), changes)
    return changes


def sync_seeds(store: Store, seeds_dir: Path, chunk_cfg: ChunkConfig) -> int:
    """Bring the database in line with ``seeds/``: new and changed seeds in, dropped seeds out."""
    return sync_documents(store, (seed_document(e) for e in read_seeds(seeds_dir)), chunk_cfg, SEED_ORIGIN)


def rechunk_if_changed(store: Store, chunk_cfg: ChunkConfig) -> int:
    """Re-chunk every stored document, of any origin, when ``chunk_cfg`` is not the recorded one.

    Returns:
        How many documents were re-chunked (0 when the config is unchanged).
    """
    fingerprint = repr(chunk_cfg.as_dict())
    if store.get_meta("chunk_config") == fingerprint:
        return 0
    docs = store.documents()
    for doc in docs:
        row = store.status(doc.doc_id)
        origin = store.origin(doc.doc_id)
        assert row is not None and origin is not None
        store.put_document(doc, chunk_document(doc, chunk_cfg), origin, row.filename, row.fmt)
    # Recorded only once every document is re-chunked, so a failure half-way is redone next time.
    store.set_chunk_config(fingerprint)
    return len(docs)


def fill_regions(store: Store) -> int:
    """Derive the region of every stored document that has none recorded (stored before regions were).

    Returns:
        How many documents got one (each a change: the index is rebuilt with them).
    """
    regions = {d.doc_id: with_region(d).region for d in store.documents(without_region=True)}
    store.set_regions(regions)
    if regions:
        logger.info("derived the region of %d stored documents", len(regions))
    return len(regions)


def embed_with_cache(store: Store, embedder: Embedder, chunks: list[Chunk], progress: bool = False) -> Vectors:
    """Vectors of the chunks' contexts; only texts never embedded by this model are embedded."""
    from tqdm import tqdm

    model = embedder.info.name
    keys = [text_sha256(c.context) for c in chunks]
    cached = store.cached_vectors(model, set(keys))
    todo = sorted({k: c.context for k, c in zip(keys, chunks, strict=True) if k not in cached}.items())
    batch = 64
    with tqdm(total=len(todo), desc="embedding", unit="chunk", disable=not progress) as bar:
        for i in range(0, len(todo), batch):
            part = todo[i : i + batch]
            vecs = embedder.embed_chunks([t for _, t in part])
            store.cache_vectors(model, [(k, v) for (k, _), v in zip(part, vecs, strict=True)])
            cached.update((k, v) for (k, _), v in zip(part, vecs, strict=True))
            bar.update(len(part))
    logger.info("embedded %d new chunks, %d from cache", len(todo), len(chunks) - len(todo))
    dim = embedder.info.dim
    return np.stack([cached[k] for k in keys]) if keys else np.zeros((0, dim), dtype=np.float32)


def _lexical(chunks: list[Chunk], scheme: str) -> object:
    import bm25s

    if not chunks:
        return None
    model = bm25s.BM25()
    model.index([tokenize(c.context, scheme) for c in chunks], show_progress=False)
    return model


def _dense(ids: np.ndarray, vectors: Vectors, dim: int) -> object:
    import faiss

    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if len(ids):
        index.add_with_ids(vectors, ids)
    return index


def build_index(
    store: Store,
    root: Path,
    cfg: BuildConfig,
    embedder: Embedder,
    progress: bool = False,
    reason: str = "the documents changed",
) -> IndexManifest:
    """Derive a new generation from everything in the database and publish it, recording ``reason``."""
    started = time.perf_counter()
    version = store.version
    docs = {d.doc_id: d for d in store.documents()}
    rows = store.chunks()
    chunks = [c for _, c in rows]
    ids = np.array([i for i, _ in rows], dtype=np.int64)
    vectors = embed_with_cache(store, embedder, chunks, progress)
    manifest = IndexManifest(
        format_version=0,
        generation=0,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        embedder=embedder.info,
        tokenizer=tokenizer_id(cfg.tokenizer),
        chunk_config=cfg.chunk.as_dict(),
        n_docs=len(docs),
        n_chunks=len(chunks),
        store_version=version,
        reason=reason,
    )
    data = IndexData(
        manifest, docs, tuple(chunks), ids, _dense(ids, vectors, embedder.info.dim), _lexical(chunks, cfg.tokenizer)
    )
    written = write_generation(root, data)
    store.mark_indexed(docs)
    logger.info("built index of %d chunks in %.1fs", len(chunks), time.perf_counter() - started)
    return written


def index_is_current(paths: DataPaths, store: Store, cfg: BuildConfig, embedder: Embedder) -> bool:
    """True when the current generation exists, is complete, and matches the database and config."""
    return _current_manifest(paths, store, cfg, embedder)[0] is not None


def _current_manifest(
    paths: DataPaths, store: Store, cfg: BuildConfig, embedder: Embedder
) -> tuple[IndexManifest | None, str]:
    """The verified manifest of the current generation when it matches the database and config; else
    None and why a new generation is needed. A damaged generation is logged as a WARNING saying what is wrong."""
    if not has_index(paths.index):
        return None, "no index yet"
    try:
        manifest = verify_generation(paths.index)
    except IndexFormatError as e:
        logger.warning("the index is damaged and is rebuilt from the database: %s", e)
        return None, f"damaged generation rebuilt: {e}"
    if manifest.store_version != store.version:
        return None, "the documents changed"
    if (manifest.embedder, manifest.tokenizer, manifest.chunk_config) != (
        embedder.info, tokenizer_id(cfg.tokenizer), cfg.chunk.as_dict()
    ):  # fmt: skip
        logger.info("the index was built with other settings; rebuilding")
        return None, "the model, tokenizer or chunking changed"
    return manifest, ""


def ensure_index(
    paths: DataPaths,
    seeds_dir: Path | None,
    cfg: BuildConfig,
    embedder: Embedder,
    options: UpdateOptions | None = None,
) -> IndexManifest:
    """Under the writer lock: sync the seeds, parse pending uploads, and rebuild a stale, partial or missing index
    (or any index, with ``options.rebuild``). Documents stored by an older release are brought up to date
    first: uploads titled with a file hash are parsed again (``Library.retitle``), and every document
    without a recorded region gets one (``fill_regions``).

    Raises:
        WriterBusyError: another process holds the writer lock longer than ``options.wait_s``.
    """
    opts = options or UpdateOptions()
    with writer_lock(paths.root, opts.wait_s):
        library = Library(paths, cfg.chunk)
        try:
            fill_regions(library.store)  # first: re-chunking round-trips documents, an unknown region with them
            rechunk_if_changed(library.store, cfg.chunk)  # uploads too, with or without seeds
            if seeds_dir is not None:
                sync_seeds(library.store, seeds_dir, cfg.chunk)
            library.process_pending()
            library.retitle()
            if opts.rebuild:
                current, reason = None, f"damaged generation rebuilt: {opts.rebuild}"
            else:
                current, reason = _current_manifest(paths, library.store, cfg, embedder)
            if current is not None:
                # A crash may have come between publishing and recording it: the generation holds them all.
                library.store.mark_indexed(library.store.doc_sha256())
                return current
            return build_index(library.store, paths.index, cfg, embedder, opts.progress, reason)
        finally:
            library.close()


@dataclass(frozen=True, slots=True)
class UpdateOptions:
    """How an update runs: a progress bar on stderr, how long to wait for the writer lock, and, when
    set, why a new generation must be built even though the current one's manifest and checksums
    look right (its files turned out unreadable)."""

    progress: bool = False
    wait_s: float = 0.0
    rebuild: str = ""
