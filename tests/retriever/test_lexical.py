"""Tests for retriever.lexical: BM25 against a ten-line reference and against bm25s itself, on hand-written
and real chunks; a library split into segments with deleted documents scores like one index of the live ones.

The reference is Lucene's BM25 as bm25s implements it (``method="lucene"``, k1=1.5, b=0.75):
idf = ln(1 + (N - df + 0.5) / (df + 0.5)) and tf / (tf + k1·(1 - b + b·dl/avgdl)). Like Lucene since
8.0 it has no ``(k1 + 1)`` factor in the numerator; that factor would scale every score by 2.5 and
change no ranking.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence

import bm25s
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.postings import Postings
from ingest.tokenize import tokenize
from retriever.lexical import LexicalSearcher, top_rows
from retriever.pipeline import Retriever

K1, B = 1.5, 0.75

CORPUS = (
    "重庆出台衔接政策130余个，打造产业帮扶基地5.6万个。",
    "脱贫人口人均纯收入达到16118元、高出全国脱贫人口收入1776元。",
    "确保脱贫人口就业规模稳定在75万人以上。",
    "全面推进农村厕所、垃圾、污水“三大革命”。",
    "力争今年全市农产品加工总产值达到3967亿元，打造2—3个年销售额10亿元以上的“爆品”。",
    "对小型微利企业减按25%计算应纳税所得额，按20%的税率缴纳企业所得税。",
)
QUESTIONS = ("脱贫人口收入是多少", "产业帮扶基地有多少个", "16118元", "三大革命", "企业所得税税率", "火星殖民计划")


def reference_bm25(docs: Sequence[Sequence[str]], query: Sequence[str]) -> np.ndarray:
    """Lucene BM25 of every doc for the distinct query tokens."""
    n, avgdl = len(docs), sum(len(d) for d in docs) / len(docs)
    df = Counter(t for d in docs for t in set(d))
    out = np.zeros(n)
    for i, doc in enumerate(docs):
        tf = Counter(doc)
        for t in dict.fromkeys(query):
            if tf[t]:
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                out[i] += idf * tf[t] / (tf[t] + K1 * (1 - B + B * len(doc) / avgdl))
    return out


def searcher_of(docs: Sequence[Sequence[str]], scheme: str) -> LexicalSearcher:
    """One segment of ``docs``, all live."""
    return LexicalSearcher([Postings.build(docs)], [np.ones(len(docs), dtype=bool)], scheme)


@pytest.fixture(scope="module", params=["char12", "word", "word+char12"])
def corpus(request: pytest.FixtureRequest) -> tuple[list[list[str]], LexicalSearcher]:
    docs = [tokenize(text, request.param) for text in CORPUS]
    return docs, searcher_of(docs, request.param)


def test_the_scores_are_bm25s_lucene_scores_with_its_k1_and_b(corpus: tuple[list[list[str]], LexicalSearcher]) -> None:
    docs, searcher = corpus
    bm25 = bm25s.BM25()
    assert (bm25.method, bm25.k1, bm25.b) == ("lucene", K1, B)
    bm25.index(docs, show_progress=False)
    for question in QUESTIONS:
        known = [t for t in searcher.tokens(question) if t in bm25.vocab_dict]
        if known:
            np.testing.assert_array_equal(searcher.scores(known), bm25.get_scores(known))


texts = st.lists(st.sampled_from(CORPUS + QUESTIONS), min_size=2, max_size=12)


@settings(max_examples=60, deadline=None)
@given(texts, st.data())
def test_segments_with_deleted_rows_score_like_one_index_of_the_live_rows(
    chunks: list[str], data: st.DataObject
) -> None:
    docs = [tokenize(text, "char12") for text in chunks]
    cuts = sorted(data.draw(st.sets(st.integers(1, len(docs) - 1), max_size=3)))
    live = np.array(data.draw(st.lists(st.booleans(), min_size=len(docs), max_size=len(docs))))
    live[data.draw(st.integers(0, len(docs) - 1))] = True
    bounds = [0, *cuts, len(docs)]
    parts = list(itertools.pairwise(bounds))
    split = LexicalSearcher([Postings.build(docs[a:b]) for a, b in parts], [live[a:b] for a, b in parts], "char12")
    whole = searcher_of([d for d, keep in zip(docs, live, strict=True) if keep], "char12")
    for question in QUESTIONS:
        tokens = split.tokens(question)
        np.testing.assert_array_equal(split.scores(tokens)[live], whole.scores(tokens))
        assert not split.scores(tokens)[~live].any()
        assert [split.idf(t) for t in tokens] == [whole.idf(t) for t in tokens]


def test_postings_combined_from_segments_equal_postings_built_at_once() -> None:
    docs = [tokenize(text, "char12") for text in CORPUS]
    first, second = Postings.build(docs[:4]), Postings.build(docs[4:])
    # The whole without document 2, rows in a new order: 4 5 | 0 1 3.
    combined = Postings.combine([(first, np.array([2, 3, -1, 4])), (second, np.array([0, 1]))], 5)
    direct = Postings.build([docs[4], docs[5], docs[0], docs[1], docs[3]])
    assert set(combined.vocab) <= set(direct.vocab) | set(first.vocab)
    for token in direct.vocab:
        rows, tf = combined.lookup(token)
        want_rows, want_tf = direct.lookup(token)
        np.testing.assert_array_equal(rows, want_rows)
        np.testing.assert_array_equal(tf, want_tf)
    np.testing.assert_array_equal(combined.doclen, direct.doclen)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 4), max_size=40), st.integers(0, 45))
def test_top_rows_is_a_stable_argsort_cut_to_k(values: list[int], k: int) -> None:
    scores = np.array(values, dtype=np.float32)
    np.testing.assert_array_equal(top_rows(scores, k), np.argsort(-scores, kind="stable")[:k])


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 60), st.integers(0, 40_000), st.integers(1, 6))
def test_top_rows_of_a_long_array_is_the_same_stable_argsort_cut(seed: int, k: int, n: int, distinct: int) -> None:
    """Long enough for the block maxima to cut first; few distinct values, so ties straddle the k-th."""
    rng = np.random.default_rng(seed)
    scores = (rng.integers(0, distinct, n) * rng.random(n).round(1)).astype(np.float32)
    np.testing.assert_array_equal(top_rows(scores, k), np.argsort(-scores, kind="stable")[:k])


def test_scores_equal_the_reference_bm25(corpus: tuple[list[list[str]], LexicalSearcher]) -> None:
    docs, searcher = corpus
    for question in QUESTIONS:
        tokens = searcher.tokens(question)
        np.testing.assert_allclose(searcher.scores(tokens), reference_bm25(docs, tokens), rtol=1e-5, atol=1e-6)


def test_the_16118_question_ranks_the_16118_sentence_first(corpus: tuple[list[list[str]], LexicalSearcher]) -> None:
    _, searcher = corpus
    assert int(np.argmax(searcher.scores(searcher.tokens("人均纯收入16118元")))) == 1


def test_idf_equals_lucene_idf_and_an_unseen_token_gets_the_maximum(
    corpus: tuple[list[list[str]], LexicalSearcher],
) -> None:
    docs, searcher = corpus
    n = len(docs)
    df = Counter(t for d in docs for t in set(d))
    for token, count in df.items():
        assert searcher.idf(token) == pytest.approx(math.log(1 + (n - count + 0.5) / (count + 0.5)))
    unseen = searcher.idf("火星")
    assert unseen == pytest.approx(math.log(1 + (n + 0.5) / 0.5))
    assert unseen > max(searcher.idf(t) for t in df)


def test_tokens_are_the_distinct_tokens_of_the_index_scheme_in_order(
    corpus: tuple[list[list[str]], LexicalSearcher],
) -> None:
    _, searcher = corpus
    text = "脱贫人口脱贫人口16118"
    assert searcher.tokens(text) == list(dict.fromkeys(tokenize(text, searcher.scheme)))


def test_a_question_with_no_known_token_scores_zero_everywhere(
    corpus: tuple[list[list[str]], LexicalSearcher],
) -> None:
    docs, searcher = corpus
    for tokens in ([], ["火星"], searcher.tokens("？？")):
        scores = searcher.scores(tokens)
        assert scores.shape == (len(docs),) and not scores.any()


@pytest.mark.model
def test_the_real_seed_index_scores_equal_the_reference_over_its_chunk_contexts(seed_retriever: Retriever) -> None:
    searcher = seed_retriever.lexical
    assert searcher.scheme == seed_retriever.manifest.tokenizer
    docs = [tokenize(c.context, searcher.scheme) for c in seed_retriever.data.chunks]
    for question in ("脱贫人口收入是多少", "六项重点任务有哪些", "鲁渝协作", "２０２５年"):
        tokens = searcher.tokens(question)
        np.testing.assert_allclose(searcher.scores(tokens), reference_bm25(docs, tokens), rtol=1e-5, atol=1e-6)


def test_postings_built_in_batches_equal_postings_built_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest import postings

    docs = [tokenize(text, "char12") for text in CORPUS + QUESTIONS + CORPUS]
    whole = Postings.build(docs)
    monkeypatch.setattr(postings, "BUILD_BATCH", 4)
    batched = Postings.build(docs)
    assert batched.vocab == whole.vocab and list(batched.vocab) == list(whole.vocab)
    for name in ("indptr", "rows", "tf", "doclen"):
        np.testing.assert_array_equal(getattr(batched, name), getattr(whole, name))
