"""Where a generation's chunks are searched: the one interface both search engines implement.

The answer path (fusion, answers, citations, number checks, abstention) is the same code for both; only
the two candidate lists and the scores of candidates come from the engine:

- :class:`EmbeddedSearch`: BM25 over the segments' postings and FAISS over their vectors, in this process
  (the default; ``retriever.lexical``, ``retriever.dense``).
- :class:`MilvusSearch`: a Milvus collection (``ingest.milvus_index``) searched for chunk ids, mapped back
  to the generation's rows; chunks the generation does not serve (a newer upload, one deleted since) are
  dropped.

Rows are numbered across the generation's segments, as in ``ingest.index_store.IndexData``. Writes are
the index store's and the indexer's (``ingest.build``): both engines publish the same generations.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ingest.index_store import IndexData
from ingest.milvus_index import MilvusIndex
from retriever.dense import DenseSearcher
from retriever.lexical import LexicalSearcher, top_rows

Rows = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]
# A lexical query: its tokens and the weight of their BM25 (the question's 1, its synonyms' less).
Query = tuple[Sequence[str], float]


class LexicalHits(Protocol):
    """The best rows by weighted BM25 (scores above 0, best first), and the same score of any other row."""

    @property
    def rows(self) -> Rows: ...

    @property
    def scores(self) -> Scores: ...

    def at(self, rows: Rows) -> Scores: ...


class SearchIndex(Protocol):
    """The two searches of a generation's live chunks, optionally among some documents only."""

    def allowed(self, only: Collection[str] | None) -> Any:
        """The engine's form of "these documents only" (None: all), worked out once per question."""
        ...

    def lexical(self, queries: Sequence[Query], k: int, allowed: Any = None) -> LexicalHits: ...

    def dense(self, query: npt.NDArray[np.float32], k: int, allowed: Any = None) -> tuple[Rows, Scores]: ...

    def dense_scores(self, query: npt.NDArray[np.float32], rows: Rows) -> Scores: ...

    def check(self) -> None:
        """Raise ``ingest.milvus_index.EngineUnavailableError`` when the engine cannot be reached."""
        ...


@dataclass(frozen=True, slots=True)
class _AllScores:
    """Every row's score at hand (the embedded engine scores them all)."""

    rows: Rows
    scores: Scores
    every: Scores

    def at(self, rows: Rows) -> Scores:
        return self.every[rows]


class EmbeddedSearch:
    """BM25 and FAISS over the generation's own segment files."""

    def __init__(self, data: IndexData, lexical: LexicalSearcher) -> None:
        self.data = data
        self.lexical_searcher = lexical
        self.dense_searcher = DenseSearcher(data.segments, data.live)

    def allowed(self, only: Collection[str] | None) -> list[npt.NDArray[np.bool_]] | None:
        """Per segment, which rows are live chunks of the ``only`` documents; None when all may be found."""
        if only is None:
            return None
        wanted = set(only)
        masks = []
        for segment, live in zip(self.data.segments, self.data.live, strict=True):
            ix = np.array([i for i, d in enumerate(segment.docs) if d.doc_id in wanted], dtype=np.int64)
            masks.append(live & np.isin(segment.table[:, 0], ix) if len(ix) else np.zeros_like(live))
        return masks

    def lexical(self, queries: Sequence[Query], k: int, allowed: Any = None) -> LexicalHits:
        every: Scores | None = None
        for tokens, weight in queries:
            scores = self.lexical_searcher.scores(list(tokens))
            every = scores if every is None else every + np.float32(weight) * scores
        if every is None:
            every = np.zeros(self.lexical_searcher.n_rows, dtype=np.float32)
        if allowed is not None:
            every = np.where(np.concatenate([np.zeros(0, dtype=bool), *allowed]), every, np.float32(0))
        rows = top_rows(every, k)
        rows = rows[every[rows] > 0]
        return _AllScores(rows, every[rows], every)

    def dense(self, query: npt.NDArray[np.float32], k: int, allowed: Any = None) -> tuple[Rows, Scores]:
        return self.dense_searcher.search(query, k, allowed)

    def dense_scores(self, query: npt.NDArray[np.float32], rows: Rows) -> Scores:
        return self.dense_searcher.scores(query, rows)

    def check(self) -> None:
        """Nothing to reach: the files are mapped in this process."""


@dataclass(slots=True)
class _MilvusLexical:
    """BM25 hits from Milvus; the score of a row outside them is asked for (a search among those ids)."""

    search: MilvusSearch
    queries: Sequence[Query]
    rows: Rows
    scores: Scores
    known: dict[int, float] = field(default_factory=dict)

    def at(self, rows: Rows) -> Scores:
        unknown = [int(r) for r in rows if int(r) not in self.known]
        if unknown:
            self.known.update(zip(unknown, self.search.bm25_at(self.queries, unknown), strict=True))
        return np.array([self.known[int(r)] for r in rows], dtype=np.float32)


class MilvusSearch:
    """The generation's live chunks searched in a Milvus collection (by chunk id)."""

    def __init__(self, data: IndexData, engine: MilvusIndex) -> None:
        self.data = data
        self.engine = engine
        ids = np.concatenate([np.zeros(0, dtype=np.int64), *(s.ids for s in data.segments)])
        live = np.concatenate([np.zeros(0, dtype=bool), *data.live])
        rows = np.flatnonzero(live)
        order = np.argsort(ids[rows], kind="stable")
        self._ids = ids  # row -> chunk id
        self._sorted_ids, self._sorted_rows = ids[rows][order], rows[order]

    def _rows(self, ids: Sequence[int]) -> Rows:
        """The live rows of chunk ids (-1 for a chunk this generation does not serve)."""
        wanted = np.asarray(ids, dtype=np.int64)
        at = np.searchsorted(self._sorted_ids, wanted)
        at = np.minimum(at, max(len(self._sorted_ids) - 1, 0))
        found = len(self._sorted_ids) > 0
        hit = (self._sorted_ids[at] == wanted) if found else np.zeros(len(wanted), dtype=bool)
        return np.where(hit, self._sorted_rows[at] if found else -1, -1).astype(np.int64)

    def _served(self, ids: Sequence[int], scores: Sequence[float]) -> tuple[Rows, Scores]:
        rows = self._rows(ids)
        keep = rows >= 0
        return rows[keep], np.asarray(scores, dtype=np.float32)[keep]

    def allowed(self, only: Collection[str] | None) -> list[str] | None:
        return None if only is None else sorted(only)

    def lexical(self, queries: Sequence[Query], k: int, allowed: Any = None) -> LexicalHits:
        found: list[dict[int, float]] = []
        for tokens, _ in queries:
            rows, scores = self._served(*self.engine.bm25(list(tokens), k, doc_ids=allowed))
            found.append(dict(zip(rows.tolist(), scores.tolist(), strict=True)))
        union = sorted({r for hits in found for r in hits})
        if len(queries) > 1:  # a row one query found needs its score for the others too
            for (tokens, _), hits in zip(queries, found, strict=True):
                if more := [r for r in union if r not in hits]:
                    hits.update(zip(more, self._bm25_among(tokens, more), strict=True))
        totals = {r: sum(w * hits.get(r, 0.0) for (_, w), hits in zip(queries, found, strict=True)) for r in union}
        ranked = sorted((r for r in union if totals[r] > 0), key=lambda r: (-totals[r], r))[:k]
        scores = np.array([totals[r] for r in ranked], dtype=np.float32)
        return _MilvusLexical(self, queries, np.array(ranked, dtype=np.int64), scores, totals)

    def _bm25_among(self, tokens: Sequence[str], rows: Sequence[int]) -> list[float]:
        """BM25 of the query tokens for the given rows (0 where a row holds none of them)."""
        ids = self._ids[np.asarray(rows, dtype=np.int64)].tolist()
        found_ids, scores = self.engine.bm25(list(tokens), len(ids), ids=ids)
        by_id = dict(zip(found_ids, scores, strict=True))
        return [by_id.get(i, 0.0) for i in ids]

    def bm25_at(self, queries: Sequence[Query], rows: Sequence[int]) -> list[float]:
        """The weighted BM25 of the queries for the given rows."""
        totals = np.zeros(len(rows), dtype=np.float64)
        for tokens, weight in queries:
            totals += weight * np.array(self._bm25_among(tokens, rows), dtype=np.float64)
        return totals.tolist()

    def dense(self, query: npt.NDArray[np.float32], k: int, allowed: Any = None) -> tuple[Rows, Scores]:
        ids, scores = self.engine.dense(query, k, doc_ids=allowed)
        return self._served(ids, scores)

    def check(self) -> None:
        self.engine.ping()

    def dense_scores(self, query: npt.NDArray[np.float32], rows: Rows) -> Scores:
        """Cosine scores of the given rows: a search among their ids (no vectors travel), and for any the
        search leaves out (an approximate index's filtered search can), their vectors."""
        ids = self._ids[rows].tolist()
        found, scores = self.engine.dense(query, len(ids), ids=ids)
        by_id = dict(zip(found, scores, strict=True))
        if missing := [i for i in ids if i not in by_id]:
            by_id.update((i, float(v @ query)) for i, v in self.engine.vectors(missing).items())
        return np.array([by_id.get(i, 0.0) for i in ids], dtype=np.float32)
