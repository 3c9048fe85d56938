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

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ingest.index_store import IndexData
from ingest.milvus_index import EngineUnavailableError, MilvusIndex, doc_filter
from retriever.dense import DenseSearcher
from retriever.lexical import LexicalSearcher, top_rows

Rows = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]
# A lexical query: its tokens and the weight of their BM25 (the question's 1, its synonyms' less).
Query = tuple[Sequence[str], float]
# How far Milvus's lists are widened (×4 a step) while chunks the generation does not serve crowd them,
# or while a row outside the lists could still beat the k-th (synonyms): at most this many times k.
MAX_WIDENING = 64


class Hits(Protocol):
    """The best rows of one search (best first), and the same score of any other row."""

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

    def lexical(self, queries: Sequence[Query], k: int, allowed: Any = None) -> Hits:
        """The ``k`` best rows by the weighted sum of the queries' BM25 (scores above 0 only)."""
        ...

    def dense(self, query: npt.NDArray[np.float32], k: int, allowed: Any = None) -> Hits:
        """The ``k`` nearest rows by cosine."""
        ...

    def check(self) -> None:
        """Raise ``ingest.milvus_index.EngineUnavailableError`` when the engine cannot serve the generation."""
        ...


@dataclass(frozen=True, slots=True)
class Scored:
    """A search's best rows and scores, and how to score any other row."""

    rows: Rows
    scores: Scores
    score_of: Callable[[Rows], Scores]

    def at(self, rows: Rows) -> Scores:
        return self.score_of(rows)


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

    def lexical(self, queries: Sequence[Query], k: int, allowed: Any = None) -> Hits:
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
        return Scored(rows, every[rows], every.__getitem__)

    def dense(self, query: npt.NDArray[np.float32], k: int, allowed: Any = None) -> Hits:
        rows, scores = self.dense_searcher.search(query, k, allowed)
        return Scored(rows, scores, lambda wanted: self.dense_searcher.scores(query, wanted))

    def check(self) -> None:
        """Nothing to reach: the files are mapped in this process."""


class MilvusSearch:
    """The generation's live chunks searched in a Milvus collection (by chunk id).

    The collection may hold chunks this generation does not serve (uploads not yet published, chunks
    left by a crash); they are dropped from the results, and a list they crowd is asked for again, wider.
    While the collection holds fewer chunks than the generation serves (being refilled after a loss),
    every search is refused: a 503, not an answer from part of the library.
    """

    def __init__(self, data: IndexData, engine: MilvusIndex) -> None:
        self.data = data
        self.engine = engine
        ids = np.concatenate([np.zeros(0, dtype=np.int64), *(s.ids for s in data.segments)])
        live = np.concatenate([np.zeros(0, dtype=bool), *data.live])
        rows = np.flatnonzero(live)
        order = np.argsort(ids[rows], kind="stable")
        self._ids = ids  # row -> chunk id
        self._sorted_ids, self._sorted_rows = ids[rows][order], rows[order]
        self._incomplete = ""
        self.check()

    def check(self) -> None:
        held = self.engine.count()
        served = len(self._sorted_ids)
        self._incomplete = (
            f"the Milvus collection {self.engine.collection} holds {held} chunks of the {served} served; "
            "it is being refilled from the database" if held < served else ""
        )  # fmt: skip
        if self._incomplete:
            raise EngineUnavailableError(self._incomplete)

    def _ready(self) -> None:
        if self._incomplete:
            raise EngineUnavailableError(self._incomplete)

    def _rows(self, ids: Sequence[int]) -> Rows:
        """The live rows of chunk ids (-1 for a chunk this generation does not serve)."""
        wanted = np.asarray(ids, dtype=np.int64)
        if not len(self._sorted_ids):
            return np.full(len(wanted), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._sorted_ids, wanted), len(self._sorted_ids) - 1)
        return np.where(self._sorted_ids[at] == wanted, self._sorted_rows[at], -1).astype(np.int64)

    def _served(self, ids: Sequence[int], scores: Sequence[float]) -> tuple[Rows, Scores]:
        rows = self._rows(ids)
        keep = rows >= 0
        return rows[keep], np.asarray(scores, dtype=np.float32)[keep]

    def allowed(self, only: Collection[str] | None) -> str | None:
        return None if only is None else doc_filter(only, self.data.docs)

    def lexical(self, queries: Sequence[Query], k: int, allowed: Any = None) -> Hits:
        """Each query's top list from Milvus, widened until the k-th best weighted total is one no row outside
        the lists can beat (the threshold algorithm: such a row scores at most each list's last score)."""
        self._ready()
        fetch = k
        while True:
            found: list[dict[int, float]] = []
            bound, exhausted = 0.0, True
            for tokens, weight in queries:
                ids, scores = self.engine.bm25(list(tokens), fetch, where=allowed or "")
                rows, kept = self._served(ids, scores)
                found.append(dict(zip(rows.tolist(), kept.tolist(), strict=True)))
                if len(ids) == fetch:
                    bound, exhausted = bound + weight * scores[-1], False
            union = sorted({r for hits in found for r in hits})
            if len(queries) > 1:  # a row one query found needs its score for the others too
                for (tokens, _), hits in zip(queries, found, strict=True):
                    if more := [r for r in union if r not in hits]:
                        hits.update(zip(more, self._bm25_among(tokens, more), strict=True))
            totals = {r: sum(w * hits.get(r, 0.0) for (_, w), hits in zip(queries, found, strict=True)) for r in union}
            ranked = sorted((r for r in union if totals[r] > 0), key=lambda r: (-totals[r], r))[:k]
            if exhausted or fetch >= k * MAX_WIDENING or (len(ranked) == k and totals[ranked[-1]] >= bound):
                break
            fetch *= 4
        known = dict(totals)

        def score_of(rows: Rows) -> Scores:
            if unknown := [int(r) for r in rows if int(r) not in known]:
                known.update(zip(unknown, self._weighted_at(queries, unknown), strict=True))
            return np.array([known[int(r)] for r in rows], dtype=np.float32)

        return Scored(
            np.array(ranked, dtype=np.int64), np.array([totals[r] for r in ranked], dtype=np.float32), score_of
        )

    def _bm25_among(self, tokens: Sequence[str], rows: Sequence[int]) -> list[float]:
        """BM25 of the query tokens for the given rows (0 where a row holds none of them)."""
        ids = self._ids[np.asarray(rows, dtype=np.int64)].tolist()
        found_ids, scores = self.engine.bm25(list(tokens), len(ids), ids=ids)
        by_id = dict(zip(found_ids, scores, strict=True))
        return [by_id.get(i, 0.0) for i in ids]

    def _weighted_at(self, queries: Sequence[Query], rows: Sequence[int]) -> list[float]:
        """The weighted BM25 of the queries for the given rows."""
        totals = np.zeros(len(rows), dtype=np.float64)
        for tokens, weight in queries:
            totals += weight * np.array(self._bm25_among(tokens, rows), dtype=np.float64)
        return totals.tolist()

    def dense(self, query: npt.NDArray[np.float32], k: int, allowed: Any = None) -> Hits:
        self._ready()
        fetch = k
        while True:
            ids, scores = self.engine.dense(query, fetch, where=allowed or "")
            rows, kept = self._served(ids, scores)
            if len(rows) >= k or len(ids) < fetch or fetch >= k * MAX_WIDENING:
                break
            fetch *= 4
        rows, kept = rows[:k], kept[:k]
        known = dict(zip(rows.tolist(), kept.tolist(), strict=True))

        def score_of(wanted: Rows) -> Scores:
            if unknown := [int(r) for r in wanted if int(r) not in known]:
                known.update(zip(unknown, self._cosine_at(query, unknown), strict=True))
            return np.array([known[int(r)] for r in wanted], dtype=np.float32)

        return Scored(rows, kept, score_of)

    def _cosine_at(self, query: npt.NDArray[np.float32], rows: Sequence[int]) -> list[float]:
        """Cosine scores of the given rows: a search among their ids (no vectors travel), and for any the
        search leaves out (an approximate index's filtered search can), their vectors."""
        ids = self._ids[np.asarray(rows, dtype=np.int64)].tolist()
        found, scores = self.engine.dense(query, len(ids), ids=ids)
        by_id = dict(zip(found, scores, strict=True))
        if missing := [i for i in ids if i not in by_id]:
            by_id.update((i, float(v @ query)) for i, v in self.engine.vectors(missing).items())
        return [by_id.get(i, 0.0) for i in ids]
