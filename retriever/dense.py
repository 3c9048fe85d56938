"""Exact inner-product search over unit vectors with FAISS."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.errors import IndexFormatError

Rows = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]


class DenseSearcher:
    """A FAISS ``IndexIDMap2(IndexFlatIP)`` whose ids are chunk ids; results come back as row numbers.

    The index was filled in row order, so FAISS position ``i`` is row ``i``; that is checked here.
    """

    def __init__(self, index: Any, ids: npt.NDArray[np.int64]) -> None:
        import faiss

        self.index = index
        if not np.array_equal(faiss.vector_to_array(index.id_map), ids):
            raise IndexFormatError("dense.faiss ids do not follow chunks.jsonl; rebuild with `zhengce ingest`")
        self._row_of = {int(i): r for r, i in enumerate(ids)}
        self._ids = ids

    def search(self, query: npt.NDArray[np.float32], k: int) -> tuple[Rows, Scores]:
        """The rows and cosine scores of the ``k`` nearest chunks, best first."""
        k = min(k, int(self.index.ntotal))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, ids = self.index.search(query.reshape(1, -1), k)
        rows = np.array([self._row_of[int(i)] for i in ids[0]], dtype=np.int64)
        return rows, scores[0]

    def scores(self, query: npt.NDArray[np.float32], rows: Rows) -> Scores:
        """Cosine scores of the given rows (for candidates only the lexical list found)."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        vectors = self.index.reconstruct_batch(self._ids[rows])
        return np.asarray(vectors @ query, dtype=np.float32)
