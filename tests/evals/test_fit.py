"""Choosing the abstention threshold for a target precision, on synthetic examples."""

from __future__ import annotations

import math
import random

import pytest

from evals.fit import FEATURES, Example, feature_ablation, fit_abstention
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
def test_the_threshold_is_the_lowest_reaching_the_target_precision(target: float) -> None:
    data = _examples()
    got = fit_abstention(data, target)
    model = got.abstention
    prob = _probabilities(data, model.weights, model.bias)
    points = coverage_precision(prob, [e.correct for e in data])
    at = point_at(points, model.threshold)
    assert at.precision >= target
    assert got.coverage == pytest.approx(at.coverage)
    assert got.precision == pytest.approx(at.precision)
    assert all(p.precision < target for p in points if p.threshold < model.threshold - 1e-5)
    assert model.features == FEATURES and got.target_precision == target
    assert got.to_json()["coverage_at_target"] == round(got.coverage, 4)


def test_an_unreachable_target_answers_nothing() -> None:
    data = [Example((0.5,) * len(FEATURES), True, 1.0, 0, False), Example((0.1,) * len(FEATURES), False, 1.0, 0)]
    got = fit_abstention(data, 0.9)
    prob = _probabilities(data, got.abstention.weights, got.abstention.bias)
    assert got.coverage == 0.0 and all(p < got.abstention.threshold for p in prob)


def test_without_a_target_the_threshold_maximises_f1() -> None:
    got = fit_abstention(_examples(), None)
    assert got.target_precision is None and 0.0 < got.coverage <= 1.0


def test_feature_ablation_refits_without_each_feature() -> None:
    data = _examples()
    table = feature_ablation(data[:300], {"held out": data[300:]})
    assert list(table) == ["all features", *[f"without {f}" for f in FEATURES]]
    assert table["all features"]["held out"] > 0.8
    assert table["without coverage"]["held out"] > 0.8  # answer_coverage carries the same signal
