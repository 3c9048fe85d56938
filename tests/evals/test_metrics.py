"""Pure answer-quality and coverage–precision metrics, checked by hand and against brute force."""

from __future__ import annotations

import itertools
import random

import pytest

from evals.metrics import (
    OperatingPoint,
    char_f1,
    contains_gold,
    coverage_precision,
    lcs_length,
    normalize_answer,
    point_at,
    point_for_precision,
    rouge_l,
)


def test_normalize_answer_drops_whitespace_and_punctuation_but_keeps_symbols() -> None:
    assert normalize_answer(" 增长５.７％，\n达到 ＡＢ。") == "增长57%达到ab"


def test_char_f1_counts_shared_characters() -> None:
    # answer 6 chars, gold 4 chars, 3 shared: P = 1/2, R = 3/4, F1 = 0.6
    assert char_f1("收入达到一万", ["收入达标"]) == pytest.approx(0.6)


def test_char_f1_is_the_best_over_golds_and_ignores_punctuation() -> None:
    assert char_f1("16118元。", ["1776元", "16,118元"]) == pytest.approx(1.0)


def test_char_f1_is_zero_without_overlap_or_golds() -> None:
    assert char_f1("未找到", ["16118元"]) == 0.0
    assert char_f1("16118元", []) == 0.0
    assert char_f1("", ["16118元"]) == 0.0


def test_char_f1_counts_repeated_characters_once_per_occurrence() -> None:
    # answer "aaa" vs gold "a": overlap 1, P = 1/3, R = 1
    assert char_f1("aaa", ["a"]) == pytest.approx(0.5)


def _lcs_reference(a: str, b: str) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, j in itertools.product(range(len(a)), range(len(b))):
        table[i + 1][j + 1] = table[i][j] + 1 if a[i] == b[j] else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def test_lcs_length_agrees_with_the_dynamic_programme() -> None:
    rng = random.Random(7)
    for _ in range(300):
        a = "".join(rng.choice("甲乙丙丁戊") for _ in range(rng.randint(0, 40)))
        b = "".join(rng.choice("甲乙丙丁戊") for _ in range(rng.randint(0, 40)))
        assert lcs_length(a, b) == _lcs_reference(a, b), (a, b)


def test_rouge_l_is_the_f1_of_the_longest_common_subsequence() -> None:
    # LCS("重庆地区生产总值增长", "地区总值增长快") = 地区总值增长 (6): P = 6/10, R = 6/7
    expected = 2 * 0.6 * (6 / 7) / (0.6 + 6 / 7)
    assert rouge_l("重庆地区生产总值增长", ["地区总值增长快"]) == pytest.approx(expected)


def test_rouge_l_cares_about_order_where_char_f1_does_not() -> None:
    assert char_f1("乙甲", ["甲乙"]) == pytest.approx(1.0)
    assert rouge_l("乙甲", ["甲乙"]) == pytest.approx(0.5)


def test_contains_gold_needs_every_part_of_one_gold() -> None:
    answer = "确保脱贫人口就业规模稳定在75万人以上,人均纯收入达到16118元"
    assert contains_gold(answer, [["75万人", "16118元"]])
    assert not contains_gold(answer, [["75万人", "1776元"]])
    assert contains_gold(answer, [["1776元"], ["16118元"]])


def test_contains_gold_folds_width_and_whitespace_but_not_punctuation() -> None:
    assert contains_gold("增长 ５.７％", [["5.7%"]])
    assert not contains_gold("增长57%", [["5.7%"]])
    assert not contains_gold("任何回答", [])
    assert not contains_gold("任何回答", [[]])


def test_coverage_precision_has_one_point_per_distinct_score() -> None:
    points = coverage_precision([0.9, 0.8, 0.8, 0.3], [True, False, True, False])
    assert [(p.threshold, p.coverage, p.precision) for p in points] == [
        (0.9, 0.25, 1.0),
        (0.8, 0.75, pytest.approx(2 / 3)),
        (0.3, 1.0, 0.5),
    ]


def test_coverage_precision_weighs_questions() -> None:
    points = coverage_precision([0.9, 0.5], [True, False], weights=[3.0, 1.0])
    assert points == [OperatingPoint(0.9, 0.75, 1.0), OperatingPoint(0.5, 1.0, 0.75)]


def test_coverage_precision_matches_brute_force_on_random_scores() -> None:
    rng = random.Random(3)
    scores = [round(rng.random(), 1) for _ in range(200)]
    correct = [rng.random() < s for s in scores]
    for p in coverage_precision(scores, correct):
        answered = [c for s, c in zip(scores, correct, strict=True) if s >= p.threshold]
        assert p.coverage == pytest.approx(len(answered) / len(scores))
        assert p.precision == pytest.approx(sum(answered) / len(answered))


def test_point_for_precision_takes_the_lowest_threshold_reaching_the_target() -> None:
    # precision by threshold: 0.9 → 1.0, 0.7 → 0.5, 0.6 → 2/3, 0.2 → 0.5; not monotonic.
    points = coverage_precision([0.9, 0.7, 0.6, 0.2], [True, False, True, False])
    assert point_for_precision(points, 0.95) == OperatingPoint(0.9, 0.25, 1.0)
    chosen = point_for_precision(points, 0.6)
    assert chosen is not None
    assert (chosen.threshold, chosen.coverage) == (0.6, 0.75)
    assert point_for_precision(coverage_precision([0.5], [False]), 0.9) is None


def test_point_at_answers_the_questions_reaching_the_threshold() -> None:
    points = coverage_precision([0.9, 0.7, 0.6, 0.2], [True, False, True, False])
    assert point_at(points, 0.65) == OperatingPoint(0.65, 0.5, 0.5)
    at = point_at(points, 0.6)
    assert (at.threshold, at.coverage) == (0.6, 0.75)
    assert at.precision == pytest.approx(2 / 3)
    assert point_at(points, 0.95) == OperatingPoint(0.95, 0.0, 1.0)
    assert point_at(points, 0.0).coverage == 1.0
