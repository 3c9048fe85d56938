"""Choosing the abstention threshold for a target precision, on synthetic examples."""

from __future__ import annotations

import math
import random

import pytest

from evals.fit import FEATURES, MAX_REFUSED, Example, feature_ablation, fit_abstention
from evals.metrics import coverage_precision, point_at


def _examples(n: int = 400, seed: int = 5) -> list[Example]:
    """Answerable questions have higher coverage; answers to them are right 80 % of the time."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        answerable = rng.random() < 0.6
        level = rng.gauss(0.7 if answerable else 0.4, 0.15)
        named = {"coverage": level, "answer_coverage": level + rng.gauss(0, 0.05), "missing_number": 0.0}
        noise = {f: rng.random() for f in ("dense", "lexical", "bigram_coverage")}
        features = tuple(named.get(f, noise.get(f, 0.0)) for f in FEATURES)
        out.append(Example(features, answerable, 1.0, 0, answerable and rng.random() < 0.8 + 0.2 * level))
    return out


def _probabilities(data: list[Example], weights: tuple[float, ...], bias: float) -> list[float]:
    return [1 / (1 + math.exp(-(bias + sum(w * f for w, f in zip(weights, e.features, strict=True))))) for e in data]


@pytest.mark.parametrize("target", [0.9, 0.95])
def test_the_confident_level_is_the_lowest_threshold_reaching_the_target_precision(target: float) -> None:
    data = _examples()
    got = fit_abstention(data, target)
    model = got.abstention
    prob = _probabilities(data, model.weights, model.bias)
    points = coverage_precision(prob, [e.correct for e in data])
    assert point_at(points, model.confident).precision >= target
    assert all(p.precision < target for p in points if p.threshold < model.confident - 1e-5)
    assert model.features == FEATURES and got.target_precision == target


def test_refusal_refuses_at_most_max_refused_of_the_answerable_questions() -> None:
    data = _examples()
    got = fit_abstention(data, 0.9)
    model = got.abstention
    prob = _probabilities(data, model.weights, model.bias)
    answerable = [p for p, e in zip(prob, data, strict=True) if e.answerable]
    refused = sum(p < model.threshold for p in answerable) / len(answerable)
    assert refused <= MAX_REFUSED
    assert refused >= MAX_REFUSED - 2 / len(answerable)  # the highest such threshold, not a timid one
    points = coverage_precision(prob, [e.correct for e in data])
    for got_point, at in ((got.at_threshold, model.threshold), (got.at_confident, model.confident)):
        want = point_at(points, at)
        assert (got_point.coverage, got_point.precision) == pytest.approx((want.coverage, want.precision))
    stored = got.to_json()
    assert stored["coverage_at_threshold"] == round(got.at_threshold.coverage, 4)
    assert stored["precision_at_confident"] == round(got.at_confident.precision, 4)
    assert model.threshold <= model.confident
    assert model.level(model.threshold - 1e-6) == "none"
    assert model.level(model.confident - 1e-6) == ("check" if model.confident > model.threshold else "none")
    assert model.level(model.confident) == "high"


def test_each_corpus_keeps_its_own_refusal_budget() -> None:
    easy = [Example((0.9,) * len(FEATURES), True, 1.0, 0, True) for _ in range(50)]
    hard = [Example((0.2 + i / 500,) * len(FEATURES), True, 1.0, 1, True) for i in range(50)]
    unanswerable = [Example((0.0,) * len(FEATURES), False, 1.0, c, False) for c in (0, 1) for _ in range(10)]
    got = fit_abstention([*easy, *hard, *unanswerable], 0.9)
    prob = _probabilities(hard, got.abstention.weights, got.abstention.bias)
    assert sum(p < got.abstention.threshold for p in prob) <= MAX_REFUSED * len(hard)


def test_without_a_target_the_threshold_maximises_f1() -> None:
    got = fit_abstention(_examples(), None)
    assert got.target_precision is None and 0.0 < got.at_confident.coverage <= got.at_threshold.coverage <= 1.0


def test_feature_ablation_refits_without_each_feature() -> None:
    data = _examples()
    table = feature_ablation(data[:300], {"held out": data[300:]})
    assert list(table) == ["all features", *[f"without {f}" for f in FEATURES]]
    assert table["all features"]["held out"] > 0.8
    assert table["without coverage"]["held out"] > 0.8  # answer_coverage carries the same signal
