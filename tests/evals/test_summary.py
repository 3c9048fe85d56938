"""Judging answers against gold, summaries, the gate with its ceilings, and regressions by direction."""

from __future__ import annotations

from dataclasses import replace

import pytest

from evals.dataset import EvalCase, Gold
from evals.report import regressions
from evals.run import FULL, CaseResult, gold_answers, outcome
from evals.summary import answering_metrics, check_gate, summarize, user_outcomes
from ingest.types import Span
from retriever.types import Answer, Citation

QUOTE = "脱贫人口人均纯收入达到16118元、高出全国脱贫人口收入1776元。"


def _case(answerable: bool = True, kind: str = "number", must: tuple[str, ...] = ("16118元",)) -> EvalCase:
    gold = (Gold("doc", QUOTE, Span(10, 10 + len(QUOTE))),) if answerable else ()
    return EvalCase(f"c-{kind}-{answerable}", "脱贫人口收入是多少", kind, answerable, gold, must if answerable else ())


def _answer(text: str | None, confidence: float = 0.9) -> Answer:
    cite = Citation("doc", "标题", "doc:10-50", QUOTE, 10, 10 + len(QUOTE), 1.0)
    if text is None:
        return Answer("q", "未在已收录的文档中找到相关内容。", True, (), (cite,), confidence)
    return Answer("q", text, False, (cite,), (), confidence)


def _result(case: EvalCase, answer: Answer, right_if_answered: bool, unsupported: tuple[str, ...] = ()) -> CaseResult:
    return CaseResult(case, answer, {FULL: outcome(case, answer, ())}, right_if_answered, unsupported, 1, 1, 1.0)


def test_gold_answers_are_all_required_strings_or_any_drcd_answer() -> None:
    assert gold_answers(_case(must=("75万人", "16118元"))) == (("75万人", "16118元"),)
    assert gold_answers(_case(kind="drcd", must=("甲", "乙"))) == (("甲",), ("乙",))
    assert gold_answers(_case(must=())) == ((QUOTE,),)
    assert gold_answers(_case(answerable=False)) == ()


def test_an_answer_holding_the_gold_is_right_and_scores_its_text_against_the_gold_passage() -> None:
    got = outcome(_case(), _answer(QUOTE), ())
    assert got.correct and got.answered and got.cite_rank == 1 and got.chunk_rank is None and got.doc_rank is None
    assert got.char_f1 == got.rouge_l == 1.0  # the written sets' text scores compare with the gold quote
    clause = outcome(_case(), _answer("脱贫人口人均纯收入达到16118元"), ())
    assert clause.correct and 0.0 < clause.char_f1 < 1.0
    assert clause.rouge_l == pytest.approx(clause.char_f1)  # the answer is a substring: LCS = its length


def test_drcd_answers_are_scored_against_its_short_answers() -> None:
    got = outcome(_case(kind="drcd", must=("16118元",)), _answer(QUOTE), ())
    assert got.correct and 0.0 < got.rouge_l < 1.0


def test_a_refusal_of_an_answerable_case_scores_zero_and_ranks_nothing() -> None:
    got = outcome(_case(), _answer(None), ())
    assert (got.correct, got.answered, got.char_f1, got.rouge_l) == (False, False, 0.0, 0.0)
    assert got.cite_rank is None  # the related passages offered are not an answer


def test_an_abstention_is_right_on_an_unanswerable_case() -> None:
    assert outcome(_case(answerable=False), _answer(None), ()).correct
    assert not outcome(_case(answerable=False), _answer("随便一句"), ()).correct


def test_answering_metrics_count_coverage_precision_and_unsupported_numbers() -> None:
    results = [
        _result(_case(), _answer(QUOTE, 0.9), True),
        _result(_case(), _answer("收入达到16119元", 0.8), False, unsupported=("16119元",)),
        _result(_case(), _answer(None, 0.3), True),
        _result(_case(answerable=False), _answer(None, 0.1), False),
    ]
    m = answering_metrics(results)
    assert (m["coverage"], m["precision"], m["unsupported_number_rate"]) == (0.5, 0.5, 0.5)
    # Precision 1.0 only when answering the top question alone; 0.9 is never reached above that.
    assert m["coverage@p0.95"] == 0.25 and m["threshold@p0.95"] == 0.9
    assert m["coverage@p0.9"] == 0.25


def test_summarize_reports_answer_quality_of_answerable_cases_only() -> None:
    results = [_result(_case(), _answer(QUOTE), True), _result(_case(answerable=False), _answer(None, 0.1), False)]
    m = summarize(results)
    assert m["answer_correct"] == 1.0 and m["n_answerable"] == 1
    assert m["char_f1"] > 0 and m["unsupported_number_rate"] == 0.0
    assert m["abstain_precision"] == 1.0 and m["abstain_recall"] == 1.0


def test_user_outcomes_split_every_question_and_a_refused_answerable_one_is_a_failure() -> None:
    check = Answer("q", QUOTE, False, (), (), 0.5, confidence_level="check")
    results = [
        _result(_case(), _answer(QUOTE), True),  # answered right
        _result(_case(), check, True),  # answered right, marked 请核对原文
        _result(_case(), _answer("别的句子"), False),  # answered wrong
        _result(_case(), _answer(None), True),  # refused though answerable
        _result(_case(answerable=False), _answer(None), False),  # refused, rightly
        _result(_case(answerable=False), _answer("随便一句"), False),  # answered though unanswerable
        _result(_case(answerable=False), replace(check, text="随便一句"), False),  # the same, marked 请核对原文
    ]
    m = user_outcomes(results)
    assert (m["answered_right"], m["answered_wrong"], m["refused_answerable"]) == (2 / 7, 1 / 7, 1 / 7)
    assert (m["refused_unanswerable"], m["answered_unanswerable"]) == (1 / 7, 2 / 7)
    assert m["refused_answerable_rate"] == 1 / 4 and m["answered_unanswerable_rate"] == 2 / 3
    assert m["unmarked_unanswerable_rate"] == 1 / 3
    assert m["checked_answers"] == 2 / 5


def test_the_gate_checks_floors_and_ceilings_of_every_suite() -> None:
    metrics = {"seed": {"hit@1": 0.9, "unsupported_number_rate": 0.0}, "drcd": {"unsupported_number_rate": 0.01}}
    thresholds = {"seed": {"hit@1": 0.95}, "ceilings": {"*": {"unsupported_number_rate": 0.0}}}
    assert check_gate(metrics, thresholds) == [
        "seed.hit@1 = 0.9 is below the floor 0.95",
        "drcd.unsupported_number_rate = 0.01 is above the ceiling 0.0",
    ]
    assert check_gate(metrics, {"ceilings": {"library": {"unsupported_number_rate": 0.0}}}) == [
        "library.unsupported_number_rate = None is above the ceiling 0.0"
    ]


def test_regressions_know_which_way_is_worse() -> None:
    baseline = {"seed": {"hit@1": 0.9, "unsupported_number_rate": 0.0, "latency_p50_ms": 1.0, "threshold@p0.9": 0.5}}
    now = {"seed": {"hit@1": 0.95, "unsupported_number_rate": 0.02, "latency_p50_ms": 9.0, "threshold@p0.9": 0.1}}
    assert regressions(now, baseline) == ["seed.unsupported_number_rate: 0.0 → 0.02"]
    assert regressions({"seed": {"hit@1": 0.8}}, baseline) == ["seed.hit@1: 0.9 → 0.8"]
