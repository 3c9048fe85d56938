"""Fit the retriever's data-driven settings: the dense weight of fusion and the abstention model.

Both are fitted on development splits only (half of the seed eval set by id, half of DRCD's
paragraphs) and written to ``retriever/calibration.json`` together with what they were fitted on.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from evals.dataset import EvalCase
from evals.metrics import first_relevant_rank, mrr
from evals.run import CaseResult, hit_passages
from retriever.config import Abstention, AnswerConfig
from retriever.pipeline import Retriever

WEIGHT_GRID = tuple(round(float(w), 2) for w in np.arange(0.0, 1.0001, 0.05))
FEATURES = ("coverage", "answer_coverage", "bigram_coverage", "missing_number", "missing_entity", "dense", "lexical")


def weight_curve(retriever: Retriever, cases: Sequence[EvalCase], k: int = 5) -> dict[float, float]:
    """Chunk-level MRR@k of fused retrieval for every dense weight of the grid."""
    signals = [retriever.signals(c.question, c.exclude_doc) for c in cases if c.answerable]
    answerable = [c for c in cases if c.answerable]
    curve = {}
    for w in WEIGHT_GRID:
        ranks = [
            first_relevant_rank(c, hit_passages(retriever.rank(s, k, "fused", w)))
            for c, s in zip(answerable, signals, strict=True)
        ]
        curve[w] = mrr(ranks)
    return curve


def best_weight(curves: Sequence[dict[float, float]]) -> float:
    """The weight with the best mean MRR over several corpora's curves (each corpus counts equally)."""
    mean = {w: float(np.mean([c[w] for c in curves])) for w in WEIGHT_GRID}
    return max(WEIGHT_GRID, key=lambda w: (round(mean[w], 4), -abs(w - 0.3)))


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled question for the abstention model: its features, whether answering was right, its weight."""

    features: tuple[float, ...]
    correct: bool
    weight: float


def examples(results: Sequence[CaseResult], weight: float) -> list[Example]:
    """Labelled examples from evaluated cases: answering is right when the question is answerable.

    The decision says whether the library holds the answer at all (what the abstention message
    tells the user); which passage answers is retrieval's job, measured by hit@1.
    """
    return [Example(tuple(r.answer.features[f] for f in FEATURES), r.case.answerable, weight) for r in results]


def fit_logistic(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], w: npt.NDArray[np.float64], l2: float = 1e-3
) -> tuple[np.ndarray, float]:
    """Weighted L2-regularised logistic regression by Newton's method (a handful of features)."""
    design = np.hstack([x, np.ones((len(x), 1))])
    beta = np.zeros(design.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-design @ beta))
        grad = design.T @ (w * (p - y)) + l2 * np.r_[beta[:-1], 0.0]
        hess = (design * (w * p * (1 - p))[:, None]).T @ design + l2 * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta[:-1], float(beta[-1])


def threshold_for_precision(
    prob: npt.NDArray[np.float64], y: npt.NDArray[np.bool_], w: npt.NDArray[np.float64], target: float
) -> float:
    """The lowest probability cut whose answered set reaches ``target`` weighted precision (most coverage)."""
    order = np.argsort(-prob, kind="stable")
    correct = np.cumsum(w[order] * y[order])
    answered = np.cumsum(w[order])
    precision = correct / answered
    ok = np.nonzero(precision >= target)[0]
    if len(ok) == 0:
        return float(prob.max()) + 1e-9
    return float(prob[order][ok[-1]])


def threshold_for_f_beta(
    prob: npt.NDArray[np.float64], y: npt.NDArray[np.bool_], w: npt.NDArray[np.float64], beta: float = 0.5
) -> float:
    """The probability cut with the best weighted F-beta of answering correctly.

    ``beta = 0.5`` weighs precision (a wrong answer shown) twice as much as recall (a right answer held back).
    """
    order = np.argsort(-prob, kind="stable")
    correct = np.cumsum(w[order] * y[order])
    precision = correct / np.cumsum(w[order])
    recall = correct / max(float((w * y).sum()), 1e-12)
    f = (1 + beta**2) * precision * recall / np.maximum(beta**2 * precision + recall, 1e-12)
    return float(prob[order][int(np.argmax(f))])


def fit_abstention(data: Sequence[Example], target_precision: float | None) -> Abstention:
    """Fit the abstention model and choose its threshold.

    Args:
        data: labelled, weighted examples.
        target_precision: the wanted precision of answered questions; None for the best F0.5.
    """
    x = np.array([e.features for e in data], dtype=np.float64)
    y = np.array([e.correct for e in data], dtype=bool)
    w = np.array([e.weight for e in data], dtype=np.float64)
    coef, bias = fit_logistic(x, y.astype(np.float64), w)
    prob = 1.0 / (1.0 + np.exp(-(x @ coef + bias)))
    if target_precision is None:
        threshold = threshold_for_f_beta(prob, y, w)
    else:
        threshold = threshold_for_precision(prob, y, w, target_precision)
    return Abstention(tuple(round(float(c), 5) for c in coef), round(bias, 5), round(threshold, 5), FEATURES)


ANSWER_GRID = {
    "rank_weight": (0.0, 0.1, 0.2, 0.35, 0.5),
    "intent_bonus": (0.0, 0.15, 0.3),
    "join_gain": (0.1, 0.15, 0.2),
    "join_gain_far": (0.2, 0.3, 1.01),
}


def fit_answer(corpora: Sequence[tuple[Retriever, Sequence[EvalCase]]]) -> tuple[AnswerConfig, float]:
    """The answer-extraction settings with the best mean of citation hit@1 and answer correctness.

    Each corpus counts equally. Retrieval does not depend on these settings, so hits are
    retrieved once per question; abstention is off while fitting, so every answer is judged.
    """
    from evals.run import judge

    prepared = []
    for retriever, cases in corpora:
        answerable = [c for c in cases if c.answerable]
        hits = [retriever.rank(retriever.signals(c.question, c.exclude_doc), 5) for c in answerable]
        prepared.append((retriever, answerable, hits))
    base = [r.config for r, _, _ in prepared]
    best: tuple[float, AnswerConfig] = (-1.0, base[0].answer)
    for values in itertools.product(*ANSWER_GRID.values()):
        cfg = replace(base[0].answer, **dict(zip(ANSWER_GRID, values, strict=True)))  # type: ignore[arg-type]
        scores = []
        for (retriever, cases, hits), config in zip(prepared, base, strict=True):
            retriever.config = replace(config, answer=cfg, abstention=Abstention())
            judged = [judge(c, retriever.answer_from(c.question, h, 5)) for c, h in zip(cases, hits, strict=True)]
            scores.append(sum((rank == 1) + ok for rank, ok in judged) / (2 * len(judged)))
        if float(np.mean(scores)) > best[0] + 1e-9:
            best = (float(np.mean(scores)), cfg)
    for (retriever, _, _), config in zip(prepared, base, strict=True):
        retriever.config = config
    return best[1], best[0]
