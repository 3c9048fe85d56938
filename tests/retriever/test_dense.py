"""Tests for retriever.dense: FAISS search against numpy brute force, on random and on real vectors."""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np
import pytest

from ingest.errors import IndexFormatError
from retriever.dense import DenseSearcher
from retriever.pipeline import Retriever

DIM = 48


def _unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    v = rng.standard_normal((n, dim))
    unit: np.ndarray = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    return unit


def _searcher(vectors: np.ndarray, ids: np.ndarray) -> DenseSearcher:
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    if len(ids):
        index.add_with_ids(vectors, ids)
    return DenseSearcher(index, ids)


def _random_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unsorted, non-contiguous int64 ids, some beyond 32 bits, as SQLite row ids after edits can be."""
    return rng.choice(np.arange(10**12, 10**12 + 50 * n, dtype=np.int64), size=n, replace=False)


@pytest.mark.parametrize("seed", range(5))
def test_search_returns_the_rows_and_scores_of_numpy_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    vectors, ids = _unit(rng, 300), _random_ids(rng, 300)
    searcher = _searcher(vectors, ids)
    for query in _unit(rng, 10):
        rows, scores = searcher.search(query, 10)
        exact = vectors @ query
        expected = np.argsort(-exact, kind="stable")[:10]
        np.testing.assert_array_equal(rows, expected)
        np.testing.assert_allclose(scores, exact[expected], atol=1e-5)
        assert rows.dtype == np.int64
        assert (np.diff(scores) <= 1e-7).all()


def test_scores_of_given_rows_equal_brute_force() -> None:
    rng = np.random.default_rng(11)
    vectors, ids = _unit(rng, 120), _random_ids(rng, 120)
    searcher = _searcher(vectors, ids)
    query = _unit(rng, 1)[0]
    rows = np.array([119, 0, 57, 57, 3], dtype=np.int64)
    np.testing.assert_allclose(searcher.scores(query, rows), vectors[rows] @ query, atol=1e-6)
    assert searcher.scores(query, rows).dtype == np.float32
    assert searcher.scores(query, np.zeros(0, dtype=np.int64)).shape == (0,)


def test_search_for_more_than_there_is_returns_everything_in_order() -> None:
    rng = np.random.default_rng(3)
    vectors, ids = _unit(rng, 7), _random_ids(rng, 7)
    rows, scores = _searcher(vectors, ids).search(_unit(rng, 1)[0], 50)
    assert sorted(rows.tolist()) == list(range(7))
    assert (np.diff(scores) <= 1e-7).all()


def test_an_empty_index_finds_nothing() -> None:
    rows, scores = _searcher(np.zeros((0, DIM), dtype=np.float32), np.zeros(0, dtype=np.int64)).search(
        np.ones(DIM, dtype=np.float32), 5
    )
    assert rows.shape == (0,) and scores.shape == (0,)


def test_ids_that_do_not_follow_the_chunk_rows_raise_index_format_error() -> None:
    rng = np.random.default_rng(5)
    vectors, ids = _unit(rng, 10), _random_ids(rng, 10)
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    index.add_with_ids(vectors, ids)
    with pytest.raises(IndexFormatError, match="rebuild"):
        DenseSearcher(index, ids[::-1].copy())


def test_the_stored_vectors_are_the_vectors_that_were_added() -> None:
    rng = np.random.default_rng(9)
    vectors, ids = _unit(rng, 25), _random_ids(rng, 25)
    searcher = _searcher(vectors, ids)
    stored = searcher.index.reconstruct_batch(ids)
    np.testing.assert_array_equal(stored, vectors)


@pytest.mark.model
def test_the_real_seed_index_search_equals_brute_force_over_the_real_chunk_embeddings(
    seed_retriever: Retriever, real_embedder: Any
) -> None:
    contexts = [c.context for c in seed_retriever.data.chunks]
    vectors = real_embedder.embed_chunks(contexts)
    stored = seed_retriever.dense.index.reconstruct_batch(seed_retriever.data.ids)
    np.testing.assert_allclose(stored, vectors, atol=1e-5)
    for question in ("脱贫人口收入是多少", "六项重点任务有哪些", "“三大革命”指的是什么"):
        query = real_embedder.embed_query(question)
        rows, scores = seed_retriever.dense.search(query, 5)
        exact = vectors @ query
        np.testing.assert_array_equal(rows, np.argsort(-exact, kind="stable")[:5])
        np.testing.assert_allclose(scores, exact[rows], atol=1e-5)
