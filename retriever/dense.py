"""Inner-product search over unit vectors, across segments: exact for small ones, HNSW for large ones.

Rows are numbered across segments, segment after segment, as in ``ingest.index_store.IndexData``.
A segment's vectors are memory mapped (workers share them); a large segment also has a FAISS HNSW
graph (``ingest.segments.dense_graph``), searched with the rows of deleted documents excluded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.index_store import Segment
from ingest.segments import HNSW_EF_SEARCH
from retriever.lexical import top_rows

Rows = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]
EF_SEARCH = HNSW_EF_SEARCH  # at least the k asked for
# A filtered search (``retriever.filters``) over at most this many rows of a segment is exact (a few ms);
# over more, the HNSW graph is searched with the other rows excluded.
EXACT_FILTERED = 50_000


def _hnsw_params(live: npt.NDArray[np.bool_]) -> tuple[Any, ...]:
    """HNSW search parameters (the search breadth, and the rows of deleted documents left out), followed
    by the selectors they point to, which must live as long as they do."""
    import faiss

    params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
    params.efSearch = EF_SEARCH
    dead = np.flatnonzero(~live).astype(np.int64)
    if not len(dead):
        return (params,)
    batch = faiss.IDSelectorBatch(dead)
    params.sel = faiss.IDSelectorNot(batch)
    return params, params.sel, batch


class DenseSearcher:
    """Nearest chunks to a query vector among the live rows of every segment."""

    def __init__(self, segments: Sequence[Segment], live: Sequence[npt.NDArray[np.bool_]]) -> None:
        self.segments = tuple(segments)
        self._live = tuple(live)
        self._dead = tuple(int(len(m) - m.sum()) for m in self._live)
        self._offsets = np.cumsum([0, *(s.n_rows for s in self.segments)]).astype(np.int64)
        self._params = tuple(
            _hnsw_params(m) if s.dense is not None else () for s, m in zip(self.segments, self._live, strict=True)
        )

    def search(
        self, query: npt.NDArray[np.float32], k: int, allowed: Sequence[npt.NDArray[np.bool_]] | None = None
    ) -> tuple[Rows, Scores]:
        """The rows and cosine scores of the ``k`` nearest live chunks, best first (ties by row); with
        ``allowed`` (per segment, which rows may be found: live ones of admitted documents), among those only."""
        rows: list[Rows] = []
        scores: list[Scores] = []
        for s, segment in enumerate(self.segments):
            if allowed is None:
                local, found = self._search_segment(s, segment, query, k)
            else:
                local, found = _search_allowed(segment, query, k, allowed[s])
            rows.append(local + self._offsets[s])
            scores.append(found)
        all_rows = np.concatenate([np.zeros(0, dtype=np.int64), *rows])
        all_scores = np.concatenate([np.zeros(0, dtype=np.float32), *scores])
        order = np.lexsort((all_rows, -all_scores))[:k]
        return all_rows[order], all_scores[order]

    def _search_segment(self, s: int, segment: Segment, query: npt.NDArray[np.float32], k: int) -> tuple[Rows, Scores]:
        live = self._live[s]
        if segment.dense is None:
            scores = np.asarray(segment.vectors @ query, dtype=np.float32)
            if self._dead[s]:
                scores = np.where(live, scores, -np.inf).astype(np.float32)
            rows = top_rows(scores, min(k, segment.n_rows - self._dead[s]))
            return rows.astype(np.int64), scores[rows]
        params = self._params[s][0]
        params.efSearch = max(EF_SEARCH, k)
        found, ids = segment.dense.search(query.reshape(1, -1), min(k, segment.n_rows), params=params)
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), found[0][keep]

    def scores(self, query: npt.NDArray[np.float32], rows: Rows) -> Scores:
        """Cosine scores of the given rows (for candidates only the lexical list found)."""
        out = np.zeros(len(rows), dtype=np.float32)
        segment_of = np.searchsorted(self._offsets, rows, "right") - 1
        for s in np.unique(segment_of):
            mine = segment_of == s
            local = rows[mine] - self._offsets[s]
            out[mine] = self.segments[s].vectors[local] @ query
        return out


def _search_allowed(
    segment: Segment,
    query: npt.NDArray[np.float32],
    k: int,
    allowed: npt.NDArray[np.bool_],
    exact_max: int = EXACT_FILTERED,
) -> tuple[Rows, Scores]:
    """The ``k`` nearest of a segment's ``allowed`` rows: exact over at most ``exact_max``, else the graph
    with the other rows masked out by a bitmap."""
    n_allowed = int(allowed.sum())
    if not n_allowed:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if segment.dense is None or n_allowed <= exact_max:
        rows = np.flatnonzero(allowed)
        scores = np.asarray(segment.vectors[rows] @ query, dtype=np.float32)
        best = top_rows(scores, min(k, len(rows)))
        return rows[best].astype(np.int64), scores[best]
    import faiss

    bitmap = np.packbits(allowed, bitorder="little")
    selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))  # its size is in bytes
    params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
    params.efSearch = max(EF_SEARCH, k)
    params.sel = selector  # ``selector`` and ``bitmap`` stay referenced until the search returns
    found, ids = segment.dense.search(query.reshape(1, -1), min(k, n_allowed), params=params)
    keep = ids[0] >= 0
    return ids[0][keep].astype(np.int64), found[0][keep]
