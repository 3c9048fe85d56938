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
    signals = [retriever.signals(c.question, c.excluded) for c in cases if c.answerable]
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
    """One labelled question for the abstention model: its features, its label, its weight and corpus."""

    features: tuple[float, ...]
    answerable: bool
    weight: float
    corpus: int = 0


def examples(results: Sequence[CaseResult], weight: float, corpus: int) -> list[Example]:
    """Labelled examples from evaluated cases: answering is right when the question is answerable.

    The decision says whether the library holds the answer at all (what the abstention message
    tells the user); which passage answers is retrieval's job, measured by hit@1.
    """
    return [Example(tuple(r.answer.features[f] for f in FEATURES), r.case.answerable, weight, corpus) for r in results]


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


def f1_by_threshold(
    prob: npt.NDArray[np.float64], y: npt.NDArray[np.bool_], cuts: npt.NDArray[np.float64]
) -> np.ndarray:
    """F1 of "answer when the probability reaches the cut" (answerable is positive), for each cut."""
    answered = prob[None, :] >= cuts[:, None]
    hits = (answered & y[None, :]).sum(axis=1)
    precision = hits / np.maximum(answered.sum(axis=1), 1)
    recall = hits / max(int(y.sum()), 1)
    return np.asarray(2 * precision * recall / np.maximum(precision + recall, 1e-12))


def fit_abstention(data: Sequence[Example], target_precision: float | None) -> Abstention:
    """Fit the abstention model and choose its threshold.

    The model is fitted on all examples, each corpus weighing the same in total. The threshold is
    the one with the best mean F1 over the corpora (each corpus's own F1, so the choice suits the
    small policy set and the large benchmark alike), or, with ``target_precision``, the lowest cut
    reaching that weighted precision.

    Args:
        data: labelled, weighted examples.
        target_precision: the wanted precision of answered questions; None for the best mean F1.
    """
    x = np.array([e.features for e in data], dtype=np.float64)
    y = np.array([e.answerable for e in data], dtype=bool)
    w = np.array([e.weight for e in data], dtype=np.float64)
    corpus = np.array([e.corpus for e in data])
    coef, bias = fit_logistic(x, y.astype(np.float64), w)
    prob = 1.0 / (1.0 + np.exp(-(x @ coef + bias)))
    if target_precision is None:
        cuts = np.unique(prob)
        mean_f1 = np.mean([f1_by_threshold(prob[corpus == c], y[corpus == c], cuts) for c in np.unique(corpus)], axis=0)
        threshold = float(cuts[int(np.argmax(mean_f1))])
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
        hits = [retriever.rank(retriever.signals(c.question, c.excluded), 5) for c in answerable]
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
