"""Tests for retriever.dense: search across segments against numpy brute force over the live rows, on
random and on real vectors; an HNSW segment against exact search."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from ingest.index_store import Segment
from ingest.postings import Postings
from ingest.segments import dense_graph
from retriever.dense import DenseSearcher
from retriever.pipeline import Retriever

DIM = 48


def _unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    v = rng.standard_normal((n, dim))
    unit: np.ndarray = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    return unit


def _graph(vectors: np.ndarray) -> Any:
    return dense_graph(len(vectors), vectors.shape[1], lambda start, stop: vectors[start:stop])


def _segment(vectors: np.ndarray, graph: Any = None) -> Segment:
    """A segment holding only vectors (one row each): what dense search reads."""
    n = len(vectors)
    table = np.zeros((n, 5), dtype=np.int32)
    postings = Postings.build([[] for _ in range(n)])
    return Segment((), np.arange(n, dtype=np.int64), table, ((),), vectors, postings, graph)


def _searcher(vectors: np.ndarray, cuts: tuple[int, ...] = (), live: np.ndarray | None = None) -> DenseSearcher:
    """The vectors split into segments at ``cuts``, with ``live`` rows (all by default)."""
    live = np.ones(len(vectors), dtype=bool) if live is None else live
    bounds = [0, *cuts, len(vectors)]
    parts = list(itertools.pairwise(bounds))
    return DenseSearcher([_segment(vectors[a:b]) for a, b in parts], [live[a:b] for a, b in parts])


@pytest.mark.parametrize("seed", range(5))
def test_search_returns_the_live_rows_and_scores_of_numpy_brute_force_across_segments(seed: int) -> None:
    rng = np.random.default_rng(seed)
    vectors = _unit(rng, 300)
    live = rng.random(300) > 0.3
    searcher = _searcher(vectors, (40, 41, 200), live)
    for query in _unit(rng, 10):
        rows, scores = searcher.search(query, 10)
        exact = np.where(live, vectors @ query, -np.inf)
        expected = np.argsort(-exact, kind="stable")[:10]
        np.testing.assert_array_equal(rows, expected)
        np.testing.assert_allclose(scores, exact[expected], atol=1e-5)
        assert rows.dtype == np.int64
        assert (np.diff(scores) <= 1e-7).all()


def test_scores_of_given_rows_equal_brute_force() -> None:
    rng = np.random.default_rng(11)
    vectors = _unit(rng, 120)
    searcher = _searcher(vectors, (50,))
    query = _unit(rng, 1)[0]
    rows = np.array([119, 0, 57, 57, 3], dtype=np.int64)
    np.testing.assert_allclose(searcher.scores(query, rows), vectors[rows] @ query, atol=1e-6)
    assert searcher.scores(query, rows).dtype == np.float32
    assert searcher.scores(query, np.zeros(0, dtype=np.int64)).shape == (0,)


def test_search_for_more_than_there_is_returns_every_live_row_in_order() -> None:
    rng = np.random.default_rng(3)
    live = np.array([True, True, False, True, True, True, False])
    rows, scores = _searcher(_unit(rng, 7), (3,), live).search(_unit(rng, 1)[0], 50)
    assert sorted(rows.tolist()) == [0, 1, 3, 4, 5]
    assert (np.diff(scores) <= 1e-7).all()


def test_an_empty_index_finds_nothing() -> None:
    rows, scores = _searcher(np.zeros((0, DIM), dtype=np.float32)).search(np.ones(DIM, dtype=np.float32), 5)
    assert rows.shape == (0,) and scores.shape == (0,)


def test_an_hnsw_segment_finds_nearly_what_exact_search_finds_and_never_a_deleted_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ingest import segments

    monkeypatch.setattr(segments, "HNSW_MIN_CHUNKS", 100)
    rng = np.random.default_rng(7)
    vectors = _unit(rng, 3000)
    graph = _graph(vectors)
    assert graph is not None and graph.ntotal == 3000
    live = rng.random(3000) > 0.2
    searcher = DenseSearcher([_segment(vectors, graph)], [live])
    found = 0
    for query in _unit(rng, 50):
        rows, scores = searcher.search(query, 10)
        assert live[rows].all()
        np.testing.assert_allclose(scores, vectors[rows] @ query, atol=1e-5)
        exact = np.argsort(-np.where(live, vectors @ query, -np.inf), kind="stable")[:10]
        found += len(set(rows.tolist()) & set(exact.tolist()))
    assert found / 500 >= 0.9


def test_a_small_segment_gets_no_graph() -> None:
    assert _graph(_unit(np.random.default_rng(1), 50)) is None


@pytest.mark.model
def test_the_real_seed_index_search_equals_brute_force_over_the_real_chunk_embeddings(
    seed_retriever: Retriever, real_embedder: Any
) -> None:
    contexts = [c.context for c in seed_retriever.data.chunks]
    vectors = real_embedder.embed_chunks(contexts)
    stored = np.concatenate([s.vectors for s in seed_retriever.data.segments])
    np.testing.assert_allclose(stored, vectors, atol=1e-5)
    for question in ("脱贫人口收入是多少", "六项重点任务有哪些", "“三大革命”指的是什么"):
        query = real_embedder.embed_query(question)
        hits = seed_retriever.index.dense(query, 5)
        rows, scores = hits.rows, hits.scores
        exact = vectors @ query
        np.testing.assert_array_equal(rows, np.argsort(-exact, kind="stable")[:5])
        np.testing.assert_allclose(scores, exact[rows], atol=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_a_filtered_search_finds_the_nearest_allowed_rows_of_every_segment_exactly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    vectors = _unit(rng, 300)
    live = rng.random(300) > 0.2
    allowed = live & (rng.random(300) > 0.9)  # a narrow filter: about 24 rows
    searcher = _searcher(vectors, (40, 200), live)
    masks = [allowed[:40], allowed[40:200], allowed[200:]]
    for query in _unit(rng, 5):
        rows, scores = searcher.search(query, 10, masks)
        exact = np.where(allowed, vectors @ query, -np.inf)
        expected = np.argsort(-exact, kind="stable")[:10]
        np.testing.assert_array_equal(rows, expected)  # the full k, though unfiltered they are far down
        np.testing.assert_allclose(scores, exact[expected], atol=1e-5)


def test_a_filtered_search_of_a_graph_segment_never_leaves_the_allowed_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest import segments
    from retriever.dense import _search_allowed

    monkeypatch.setattr(segments, "HNSW_MIN_CHUNKS", 100)
    rng = np.random.default_rng(3)
    vectors = _unit(rng, 3000)
    segment = _segment(vectors, _graph(vectors))
    allowed = rng.random(3000) > 0.5
    found = 0
    for query in _unit(rng, 30):
        rows, scores = _search_allowed(segment, query, 10, allowed, exact_max=100)  # through the bitmap
        assert len(rows) == 10 and allowed[rows].all()
        np.testing.assert_allclose(scores, vectors[rows] @ query, atol=1e-5)
        exact = np.argsort(-np.where(allowed, vectors @ query, -np.inf), kind="stable")[:10]
        found += len(set(rows.tolist()) & set(exact.tolist()))
    assert found / 300 >= 0.9
    empty = _search_allowed(segment, vectors[0], 10, np.zeros(3000, dtype=bool))
    assert len(empty[0]) == 0
