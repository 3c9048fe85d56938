"""Making segments: from documents in the database, or by merging segments; and when to merge.

A change writes one small segment (its documents) and tombstones the versions it replaces, so an
update costs what changed. Small segments and dead rows accumulate; the merge policy picks what to
combine, tier by tier as Lucene's does: four or more segments of one size class (a power of ten in
rows) are merged, and a segment whose rows are a third dead is rewritten. Merging re-tokenizes and
re-embeds nothing: term frequencies, vectors and chunk rows are copied, documents in doc_id order,
so merging every segment gives exactly the segment a fresh build of the same documents gives.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.index_store import IndexData, Segment, graph_vectors
from ingest.milvus_index import ChunkRow, chunk_rows
from ingest.postings import Postings
from ingest.store import Store
from ingest.tokenize import tokenize
from ingest.types import Chunk, Document

logger = logging.getLogger(__name__)

Sink = Callable[[Iterator[ChunkRow]], object]

# From this many chunks on, a segment's dense search is an HNSW graph instead of exact. Measured here on
# the 28k-chunk library of ../shared/data with real question embeddings: exact search 3.2 ms a question
# (reading every vector), HNSW (M 32, efSearch 256) 0.6-0.7 ms at recall@10 0.97-0.998 (see
# retriever.dense.EF_SEARCH); exact is ~1 ms at 10k.
# `make bench-scale` reports recall and both latencies per size (README "Scale").
HNSW_MIN_CHUNKS = 20_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
# HNSW search breadth. Recall@10 against exact search on the 28k-chunk library of ../shared/data, real
# questions: 0.972 for the seed questions (0.948 with 128), 0.998 for 200 DRCD ones, 0.6-0.7 ms a
# question; `make bench-scale` reports it per size. A Milvus server's HNSW is searched with it too.
HNSW_EF_SEARCH = 256
MERGE_FACTOR = 4
MAX_DEAD_SHARE = 1 / 3
_BLOCK_ROWS = 65_536  # vectors added to a graph this many rows at a time (128 MB at 512-d)


def dense_graph(n: int, dim: int, block: Callable[[int, int], npt.NDArray[np.float32]]) -> Any:
    """An HNSW graph over ``n`` unit vectors (inner product) when there are enough of them, else None (and
    always None for a segment without vectors: its engine holds them).

    ``block(start, stop)`` gives rows ``[start, stop)``; they are added ``_BLOCK_ROWS`` at a time into
    storage reserved for all of them, so a merge never holds its vectors twice (a million are 2 GB),
    and the graph of a merge is the graph of a fresh build: the same blocks, added in the same order.
    """
    if n < HNSW_MIN_CHUNKS or not dim:
        return None
    import faiss

    graph = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    codes = faiss.downcast_index(graph.storage).codes  # type: ignore[attr-defined]
    codes.resize(n * dim * np.dtype(np.float32).itemsize)  # reserved: adding never reallocates
    codes.resize(0)
    for start in range(0, n, _BLOCK_ROWS):
        graph.add(np.ascontiguousarray(block(start, min(n, start + _BLOCK_ROWS)), dtype=np.float32))
    return graph


def dense_vectors(
    n: int, dim: int, block: Callable[[int, int], npt.NDArray[np.float32]]
) -> tuple[npt.NDArray[np.float32], Any]:
    """A segment's vectors and their graph (None below ``HNSW_MIN_CHUNKS``): with a graph, its own copy
    of the vectors stands in for them, so they are held once."""
    graph = dense_graph(n, dim, block)
    return (block(0, n), None) if graph is None else (graph_vectors(graph), graph)


def new_segment(
    docs: Sequence[Document],
    rows: Sequence[tuple[int, Chunk]],
    vectors: npt.NDArray[np.float32],
    scheme: str,
    sink: Sink | None = None,
) -> Segment:
    """A segment of documents (in doc_id order) and their chunks with database ids and vectors; with a
    ``sink`` (a Milvus collection's upsert), the chunks are written there and the segment keeps no vectors:
    it is the catalog of what the engine searches."""
    chunks = [c for _, c in rows]
    if sink is not None:
        sink(chunk_rows(docs, rows, vectors, scheme))
        vectors = vectors[:, :0]
    # Token lists streamed, not held: at a million chunks holding them all took 20 GB.
    postings = Postings.build(tokenize(c.context, scheme) for c in chunks)
    ids = np.array([i for i, _ in rows], dtype=np.int64)
    embedded = vectors
    vectors, graph = dense_vectors(len(embedded), embedded.shape[1], lambda start, stop: embedded[start:stop])
    return Segment.of(docs, chunks, ids, vectors, postings, graph)


def segment_from_store(
    store: Store,
    doc_ids: set[str] | None,
    scheme: str,
    embed: Any,
    sink: Sink | None = None,
) -> Segment:
    """The segment of the searchable documents ``doc_ids`` (all of them when None), as stored now.

    Args:
        embed: chunks -> their vectors (the embedding cache in front of the model).
        sink: where the chunks go to be searched, if not in the segment (a Milvus collection's upsert).
    """
    docs = store.documents(doc_ids=doc_ids)
    rows = store.chunks(doc_ids=doc_ids)
    return new_segment(docs, rows, embed([c for _, c in rows]), scheme, sink)


@dataclass(frozen=True, slots=True)
class SegmentSize:
    """A segment's rows: live, and dead (of tombstoned documents)."""

    live: int
    dead: int

    @property
    def tier(self) -> int:
        """Its size class: the power of ten of its live rows."""
        return int(math.log10(self.live)) if self.live >= 1 else 0


def plan_merge(sizes: dict[str, SegmentSize]) -> list[str]:
    """The segments to merge into one now, in order (empty: leave them).

    Every segment that is a third dead is rewritten (one with no live row is simply dropped); the
    smallest tier that holds ``MERGE_FACTOR`` segments is merged together with every smaller one.
    """
    chosen = {n for n, s in sizes.items() if s.dead and s.dead >= MAX_DEAD_SHARE * (s.live + s.dead)}
    tiers = [s.tier for s in sizes.values()]
    for tier in sorted(set(tiers)):
        if tiers.count(tier) >= MERGE_FACTOR:
            chosen.update(n for n, s in sizes.items() if s.tier <= tier)
            break
    if len(chosen) == 1 and not sizes[next(iter(chosen))].dead:
        return []
    return [n for n in sizes if n in chosen]


def merge(data: IndexData, names: Sequence[str]) -> Segment:
    """One segment holding the live documents of the named segments of ``data``, in doc_id order."""
    picked = [data.segment_names.index(n) for n in names]
    home = sorted(
        (d.doc_id, s, i) for s in picked for i, d in enumerate(data.segments[s].docs) if data.home(d.doc_id) == (s, i)
    )
    new_rows = {s: np.full(data.segments[s].n_rows, -1, dtype=np.int64) for s in picked}
    doc_of = {s: np.full(len(data.segments[s].docs), -1, dtype=np.int64) for s in picked}
    n = 0
    for new_doc, (_, s, i) in enumerate(home):
        rows = data.segments[s].doc_rows(i)
        new_rows[s][rows.start : rows.stop] = np.arange(n, n + len(rows))
        doc_of[s][i] = new_doc
        n += len(rows)
    # The postings first: their sort is the merge's largest transient, and it is gone before the vectors come.
    postings = Postings.combine([(data.segments[s].postings, new_rows[s]) for s in picked], n)
    dim = data.segments[picked[0]].vectors.shape[1]  # 0 when a Milvus collection holds the vectors
    source = np.zeros(n, dtype=np.int32)  # new row -> its segment and its row there
    source_row = np.zeros(n, dtype=np.int64)
    ids = np.zeros(n, dtype=np.int64)
    table = np.zeros((n, 5), dtype=np.int32)
    headings: dict[tuple[str, ...], int] = {}
    for s in picked:
        segment, target = data.segments[s], new_rows[s]
        keep = target >= 0
        source[target[keep]] = s
        source_row[target[keep]] = np.flatnonzero(keep)
        heading_of = np.array([headings.setdefault(h, len(headings)) for h in segment.headings], dtype=np.int32)
        ids[target[keep]] = segment.ids[keep]
        kept = np.array(segment.table[keep])
        kept[:, 0] = doc_of[s][kept[:, 0]]
        if len(heading_of):
            kept[:, 4] = heading_of[kept[:, 4]]
        table[target[keep]] = kept

    def block(start: int, stop: int) -> npt.NDArray[np.float32]:
        """The merged segment's vectors of rows [start, stop), gathered from the segments' (mapped) ones."""
        out = np.empty((stop - start, dim), dtype=np.float32)
        of, at = source[start:stop], source_row[start:stop]
        for s in np.unique(of):
            mine = of == s
            out[mine] = data.segments[s].vectors[at[mine]]
        return out

    vectors, graph = dense_vectors(n, dim, block)
    docs = tuple(data.segments[s].docs[i] for _, s, i in home)
    return Segment(docs, ids, table, tuple(headings), vectors, postings, graph)
