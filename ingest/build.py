"""From seeds and stored documents to a published index generation.

``sync_seeds`` brings the database in line with ``seeds/``; ``build_index`` derives a new
generation from the database; ``ensure_index`` does both only when something changed, so a
restart with unchanged seeds and a valid index costs a checksum pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ingest.chunk import chunk_document
from ingest.clean import clean_text
from ingest.config import BuildConfig, ChunkConfig, DataPaths
from ingest.doc_region import with_region
from ingest.embed import Embedder, SentenceEmbedder, Vectors, embed_in_processes
from ingest.errors import IndexFormatError, OutdatedIndexError
from ingest.index_store import (
    has_index,
    read_index,
    segment_doc_chunks,
    verify_generation,
    write_generation,
    write_segment,
)
from ingest.library import Library
from ingest.lock import writer_lock
from ingest.milvus_index import ChunkRow, MilvusIndex, chunk_rows, milvus_index
from ingest.seeds import SeedEntry, read_seeds
from ingest.segments import SegmentSize, merge, plan_merge, segment_from_store
from ingest.store import Store, text_sha256
from ingest.tokenize import tokenizer_id
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


# Fewer new chunks than this are embedded in-process: starting worker processes costs seconds.
PARALLEL_MIN_CHUNKS = 2048
EMBED_BATCH = 64


def embed_with_cache(
    store: Store, embedder: Embedder, chunks: Sequence[Chunk], progress: bool = False, workers: int = 1
) -> Vectors:
    """Vectors of the chunks' contexts; only texts never embedded by this model are embedded.

    Each batch is stored in the cache as soon as it is embedded, so an update killed half-way loses
    nothing and the next one embeds only the rest. With ``workers`` > 1 and many new chunks, batches are
    embedded in that many processes (:func:`ingest.embed.embed_in_processes`).
    """
    from tqdm import tqdm

    model = embedder.info.name
    keys = [text_sha256(c.context) for c in chunks]
    cached = store.cached_vectors(model, set(keys))
    todo = sorted({k: c.context for k, c in zip(keys, chunks, strict=True) if k not in cached}.items())
    batches = [todo[i : i + EMBED_BATCH] for i in range(0, len(todo), EMBED_BATCH)]
    parallel = workers > 1 and len(todo) >= PARALLEL_MIN_CHUNKS and isinstance(embedder, SentenceEmbedder)
    if parallel:
        done = embed_in_processes(model, [[t for _, t in b] for b in batches], workers)
    else:
        done = ((i, embedder.embed_chunks([t for _, t in b])) for i, b in enumerate(batches))
    with tqdm(total=len(todo), desc="embedding", unit="chunk", disable=not progress) as bar:
        for i, vecs in done:
            items = [(k, v) for (k, _), v in zip(batches[i], vecs, strict=True)]
            store.cache_vectors(model, items)
            cached.update(items)
            bar.update(len(items))
    logger.info(
        "embedded %d new chunks (%s), %d from cache",
        len(todo), f"{workers} processes" if parallel else "in-process", len(chunks) - len(todo),
    )  # fmt: skip
    dim = embedder.info.dim
    return np.stack([cached[k] for k in keys]) if keys else np.zeros((0, dim), dtype=np.float32)


def _manifest(cfg: BuildConfig, embedder: Embedder, reason: str, **counts: Any) -> IndexManifest:
    """A manifest to publish (its format version and number are the index store's to set)."""
    return IndexManifest(
        format_version=0,
        generation=0,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        embedder=embedder.info,
        tokenizer=tokenizer_id(cfg.tokenizer),
        chunk_config=cfg.chunk.as_dict(),
        reason=reason,
        engine=cfg.engine.kind,
        **counts,
    )


def _engine(root: Path, cfg: BuildConfig, embedder: Embedder) -> MilvusIndex | None:
    """The Milvus collection the chunks are searched in, or None on the embedded engine (``root``: the index)."""
    if cfg.engine.kind != "milvus":
        return None
    return milvus_index(cfg.engine, root.parent, embedder.info, tokenizer_id(cfg.tokenizer))


def reconcile_engine(store: Store, root: Path, cfg: BuildConfig, embedder: Embedder) -> None:
    """Make the Milvus collection hold exactly the searchable chunks of the database (created and filled if
    missing; missing chunks upserted, stray ones deleted): the engine is an index the database rebuilds."""
    engine = _engine(root, cfg, embedder)
    if engine is None:
        return
    engine.ensure_collection()
    pairs = store.chunk_ids()

    def rows(ids: set[int]) -> Iterable[ChunkRow]:
        doc_ids = {d for i, d in pairs if i in ids}
        chosen = [(i, c) for i, c in store.chunks(doc_ids=doc_ids) if i in ids]
        vectors = embed_with_cache(store, embedder, [c for _, c in chosen])
        return chunk_rows(store.documents(doc_ids=doc_ids), chosen, vectors, cfg.tokenizer)

    engine.reconcile({i for i, _ in pairs}, rows)


def build_index(
    store: Store,
    root: Path,
    cfg: BuildConfig,
    embedder: Embedder,
    progress: bool = False,
    reason: str = "the documents changed",
    workers: int = 1,
) -> IndexManifest:
    """Derive a new generation of one segment from everything in the database and publish it, recording ``reason``."""
    started = time.perf_counter()
    version = store.version
    embed = partial(embed_with_cache, store, embedder, progress=progress, workers=workers)
    engine = _engine(root, cfg, embedder)
    sink, held = None, set()
    if engine is not None:  # resumable: chunks the collection holds are skipped (a chunk id's text never changes)
        held = set() if engine.ensure_collection() else engine.ids()
        sink = partial(engine.upsert, skip=held, progress=progress)
    segment = segment_from_store(store, None, cfg.tokenizer, embed, sink)
    if engine is not None:  # chunks of documents gone since go too
        engine.keep_only(set(segment.ids.tolist()), held)
    name, digest = write_segment(root, segment)
    manifest = _manifest(
        cfg, embedder, reason,
        n_docs=len(segment.docs), n_chunks=segment.n_rows, store_version=version, segments={name: digest},
    )  # fmt: skip
    written = write_generation(root, manifest)
    store.mark_indexed(d.doc_id for d in segment.docs)
    logger.info("built index of %d chunks in %.1fs", segment.n_rows, time.perf_counter() - started)
    return written


def update_index(
    store: Store,
    root: Path,
    cfg: BuildConfig,
    embedder: Embedder,
    current: IndexManifest,
    progress: bool = False,
    workers: int = 1,
) -> IndexManifest:
    """Publish the changes since ``current`` as a new generation: one segment of the documents added or
    changed since, and tombstones for the versions they replace and for the documents deleted."""
    started = time.perf_counter()
    version = store.version
    changed = store.changed_since(current.store_version)
    searchable = store.searchable()
    sizes = segment_doc_chunks(root, current)
    tombstones = {name: set(docs) for name, docs in current.tombstones.items()}
    live = {d: name for name, docs in sizes.items() for d in docs if d not in tombstones.get(name, set())}
    stale = {d for d in live if d in changed or d not in searchable}
    if live and len(stale) == len(live):  # everything changed (re-chunked): cheaper to build afresh
        return build_index(store, root, cfg, embedder, progress, "every document changed", workers)
    for d in stale:
        tombstones.setdefault(live[d], set()).add(d)
    segments = dict(current.segments)
    n_docs = len(live) - len(stale)
    n_chunks = current.n_chunks - sum(sizes[live[d]][d] for d in stale)
    engine = _engine(root, cfg, embedder)
    kept: Sequence[int] = ()  # the new chunks of documents replaced
    if changed:
        embed = partial(embed_with_cache, store, embedder, progress=progress, workers=workers)
        segment = segment_from_store(store, changed, cfg.tokenizer, embed, engine.upsert if engine else None)
        name, digest = write_segment(root, segment)
        segments[name] = digest
        n_docs, n_chunks = n_docs + len(segment.docs), n_chunks + segment.n_rows
        replaced = [i for i, d in enumerate(segment.docs) if d.doc_id in stale]
        kept = segment.ids[np.isin(segment.table[:, 0], replaced)].tolist()
    manifest = _manifest(
        cfg, embedder, "the documents changed",
        n_docs=n_docs, n_chunks=n_chunks, store_version=version, segments=segments,
        tombstones={name: sorted(docs) for name, docs in sorted(tombstones.items()) if docs},
    )  # fmt: skip
    written = write_generation(root, manifest)
    if engine is not None and stale:  # after publishing: the served generation never names a chunk the engine lost
        engine.delete_docs(sorted(stale), keep=kept)
    # The generation holds every searchable document, those of an update killed before it recorded this too.
    store.mark_indexed()
    logger.info(
        "built index update: %d documents added or changed, %d tombstoned, in %.2fs",
        len(changed), len(stale), time.perf_counter() - started,
    )  # fmt: skip
    return written


def merge_index(root: Path, current: IndexManifest, everything: bool = False) -> IndexManifest | None:
    """Merge the segments the merge policy picks (all of them with ``everything``) and publish the result;
    None when there is nothing to merge. The documents and their answers stay the same."""
    data = read_index(root, current.embedder)
    if data.manifest.generation != current.generation:
        return None
    sizes = {
        name: SegmentSize(int(live.sum()), len(live) - int(live.sum()))
        for name, live in zip(data.segment_names, data.live, strict=True)
    }
    names = list(sizes) if everything and (len(sizes) > 1 or any(s.dead for s in sizes.values())) else plan_merge(sizes)
    if not names:
        return None
    started = time.perf_counter()
    segments = {n: d for n, d in current.segments.items() if n not in names}
    if sum(sizes[n].live for n in names):  # segments with no live row are dropped, not rewritten empty
        name, digest = write_segment(root, merge(data, names))
        segments[name] = digest
    tombstones = {n: docs for n, docs in current.tombstones.items() if n not in names}
    manifest = replace(
        current, created_at=datetime.now(UTC).isoformat(timespec="seconds"), segments=segments,
        tombstones=tombstones, reason=f"merged {len(names)} segments",
    )  # fmt: skip
    written = write_generation(root, manifest)
    logger.info("merged %d segments (%s) in %.2fs", len(names), ", ".join(names), time.perf_counter() - started)
    return written


def index_is_current(paths: DataPaths, store: Store, cfg: BuildConfig, embedder: Embedder) -> bool:
    """True when the current generation exists, is complete, and matches the database and config."""
    current = _current_manifest(paths, cfg, embedder)[0]
    return current is not None and current.store_version == store.version


def _current_manifest(paths: DataPaths, cfg: BuildConfig, embedder: Embedder) -> tuple[IndexManifest | None, str]:
    """The verified manifest of the current generation when it was built with these settings (it may miss
    the latest changes); else None and why a whole new index is needed. A damaged generation is logged as a
    WARNING saying what is wrong."""
    if not has_index(paths.index):
        return None, "no index yet"
    try:
        manifest = verify_generation(paths.index)
    except OutdatedIndexError as e:
        logger.info("the index was written by another release; rebuilding: %s", e)
        return None, "the index format changed"
    except IndexFormatError as e:
        logger.warning("the index is damaged and is rebuilt from the database: %s", e)
        return None, f"damaged generation rebuilt: {e}"
    if (manifest.embedder, manifest.tokenizer, manifest.chunk_config) != (
        embedder.info, tokenizer_id(cfg.tokenizer), cfg.chunk.as_dict()
    ):  # fmt: skip
        logger.info("the index was built with other settings; rebuilding")
        return None, "the model, tokenizer or chunking changed"
    if manifest.engine != cfg.engine.kind:
        logger.info("the index was built for the %s search engine, %s is configured; rebuilding",
                    manifest.engine, cfg.engine.kind)  # fmt: skip
        return None, f"the search engine changed to {cfg.engine.kind}"
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
                current, reason = _current_manifest(paths, cfg, embedder)
            if current is None:  # a build fills the Milvus collection and removes what it holds besides
                return build_index(library.store, paths.index, cfg, embedder, opts.progress, reason, opts.workers)
            engine = _engine(paths.index, cfg, embedder)
            # A collection found missing (an engine restarted without its data) is created here, filled below.
            refill = engine is not None and engine.ensure_collection()
            if current.store_version != library.store.version:
                current = update_index(library.store, paths.index, cfg, embedder, current, opts.progress, opts.workers)
            else:  # a crash may have come between publishing and recording it: the generation holds them all
                library.store.mark_indexed()
            if opts.reconcile or refill:
                reconcile_engine(library.store, paths.index, cfg, embedder)
            return current
        finally:
            library.close()


def compact_index(paths: DataPaths, embedder: Embedder, wait_s: float = 0.0, everything: bool = False) -> bool:
    """Under the writer lock, make one merge the merge policy asks for (or merge all segments into one, with
    ``everything``), publishing a generation with the same documents. Callers loop while it returns True,
    checking between merges whether they have more urgent work (the lock is free between two merges).

    Returns:
        Whether a merge was published.

    Raises:
        WriterBusyError: another process holds the writer lock longer than ``wait_s``.
    """
    with writer_lock(paths.root, wait_s):
        if not has_index(paths.index):
            return False
        try:
            current = verify_generation(paths.index)
        except IndexFormatError:
            return False  # the next update rebuilds it
        return current.embedder == embedder.info and merge_index(paths.index, current, everything) is not None


@dataclass(frozen=True, slots=True)
class UpdateOptions:
    """How an update runs: a progress bar on stderr, how long to wait for the writer lock, when set, why
    a new generation must be built even though the current one's manifest and checksums look right (its
    files turned out unreadable), and how many processes embed."""

    progress: bool = False
    wait_s: float = 0.0
    rebuild: str = ""
    # Processes embedding new chunks when there are many.
    workers: int = 1
    # Check the Milvus collection against the database too (at startup, and after the engine was
    # unreachable): a missing or partial collection is filled from the database, strays deleted.
    reconcile: bool = False
