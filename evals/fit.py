"""Fit the retriever's data-driven settings: the dense weight of fusion and the abstention model.

Both are fitted on development splits only (half of the seed eval set by id, half of DRCD's
paragraphs) and written to ``retriever/calibration.json`` together with what they were fitted on.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from evals.dataset import EvalCase
from evals.metrics import (
    OperatingPoint,
    auroc,
    coverage_precision,
    first_relevant_rank,
    mrr,
    point_at,
    point_for_precision,
)
from evals.run import CaseResult, hit_passages
from retriever.answer import Sentence, score_sentences
from retriever.config import Abstention, AnswerConfig, SentenceRanker
from retriever.pipeline import Retriever

Weights = dict[str, float]
WEIGHT_GRID = tuple(round(float(w), 2) for w in np.arange(0.0, 1.0001, 0.05))
DENSE_GRID: tuple[Weights, ...] = tuple({"dense_weight": w} for w in WEIGHT_GRID)
# Title and scope (region + year) weights are fitted together: both lift a candidate by its document.
DOCUMENT_GRID: tuple[Weights, ...] = tuple(
    {"title_weight": t, "scope_weight": r} for t in (0.0, 0.5, 1.0, 2.0, 4.0) for r in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
)
FEATURES = (
    "coverage", "answer_coverage", "bigram_coverage", "missing_number", "missing_entity", "number_fit", "region",
    "dense", "lexical",
)  # fmt: skip


def weight_curve(
    retriever: Retriever, cases: Sequence[EvalCase], grid: Sequence[Weights] = (), k: int = 5
) -> dict[str, float]:
    """Chunk-level MRR@k of the full ranking at every point of ``grid`` (default: the dense weights), by label."""
    signals = [retriever.signals(retriever.parse(c.question), c.excluded) for c in cases if c.answerable]
    answerable = [c for c in cases if c.answerable]
    curve = {}
    for point in grid or DENSE_GRID:
        ranks = [
            first_relevant_rank(c, hit_passages(retriever.rank(s, k, "fused", **point)))  # type: ignore[arg-type]
            for c, s in zip(answerable, signals, strict=True)
        ]
        curve[label(point)] = mrr(ranks)
    return curve


def label(point: Weights) -> str:
    """A grid point as text: its values joined by a slash (``0.1``, ``4/0.5``)."""
    return "/".join(f"{v:g}" for v in point.values())


def best_weight(curves: Sequence[dict[str, float]], grid: Sequence[Weights] = ()) -> Weights:
    """The grid point with the best mean MRR over several corpora's curves (each corpus counts equally).

    Ties go to the dense weight nearest 0.3, and to the smallest title and region weights.
    """
    points = grid or DENSE_GRID
    mean = {label(p): float(np.mean([c[label(p)] for c in curves])) for p in points}

    def preference(p: Weights) -> float:
        return -abs(p["dense_weight"] - 0.3) if "dense_weight" in p else -sum(p.values())

    return max(points, key=lambda p: (round(mean[label(p)], 4), preference(p)))


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled question for the abstention model.

    ``answerable`` is the model's label (does the library hold the answer); ``correct`` says whether
    the answer, if given, would be right, which is what the precision of a threshold counts;
    ``absent`` says the evidence-of-absence rules refuse it whatever the threshold
    (:func:`retriever.answer.absence`).
    """

    features: tuple[float, ...]
    answerable: bool
    weight: float
    corpus: int = 0
    correct: bool = False
    absent: bool = False


def examples(results: Sequence[CaseResult], weight: float, corpus: int) -> list[Example]:
    """Labelled examples from evaluated cases: answering is right when the question is answerable.

    The model's decision says whether the library holds the answer at all (what the abstention
    message tells the user); which passage answers is retrieval's job, measured by hit@1.
    """
    return [
        Example(
            tuple(r.answer.features[f] for f in FEATURES),
            r.case.answerable,
            weight,
            corpus,
            r.correct_if_answered,
            r.answer.features.get("absent", 0.0) == 1.0,
        )
        for r in results
    ]


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


def f1_by_threshold(
    prob: npt.NDArray[np.float64], y: npt.NDArray[np.bool_], cuts: npt.NDArray[np.float64]
) -> np.ndarray:
    """F1 of "answer when the probability reaches the cut" (answerable is positive), for each cut."""
    answered = prob[None, :] >= cuts[:, None]
    hits = (answered & y[None, :]).sum(axis=1)
    precision = hits / np.maximum(answered.sum(axis=1), 1)
    recall = hits / max(int(y.sum()), 1)
    return np.asarray(2 * precision * recall / np.maximum(precision + recall, 1e-12))


@dataclass(frozen=True, slots=True)
class AbstentionFit:
    """A fitted abstention model and its two operating points on the (weighted) fit data.

    ``at_threshold`` is the refusal threshold's point (share of fit questions answered, share of
    those answered rightly), ``at_confident`` the 请核对原文 level's (answers not marked);
    ``target_precision`` is None when the confident level maximises F1 instead.
    """

    abstention: Abstention
    target_precision: float | None
    at_threshold: OperatingPoint
    at_confident: OperatingPoint

    def to_json(self) -> dict[str, float | None]:
        """The operating points, stored next to the thresholds in ``calibration.json``."""
        return {
            "target_precision": self.target_precision,
            "coverage_at_threshold": round(self.at_threshold.coverage, 4),
            "precision_at_threshold": round(self.at_threshold.precision, 4),
            "coverage_at_confident": round(self.at_confident.coverage, 4),
            "precision_at_confident": round(self.at_confident.precision, 4),
        }


def _best_f1_cut(prob: npt.NDArray[np.float64], data: Sequence[Example]) -> float:
    """The cut with the best mean F1 over the corpora (each corpus's own F1, answerable = positive)."""
    y = np.array([e.answerable for e in data], dtype=bool)
    corpus = np.array([e.corpus for e in data])
    cuts = np.unique(prob)
    mean_f1 = np.mean([f1_by_threshold(prob[corpus == c], y[corpus == c], cuts) for c in np.unique(corpus)], axis=0)
    return float(cuts[int(np.argmax(mean_f1))])


# At most this share of any fit corpus's answerable questions may be refused (the gate allows 5 % held-out).
MAX_REFUSED = 0.03


def refusal_threshold(prob: npt.NDArray[np.float64], data: Sequence[Example], max_refused: float) -> float:
    """The highest threshold that refuses at most ``max_refused`` of each corpus's answerable questions.

    The answerable questions the evidence-of-absence rules refuse already spend that budget; the
    threshold spends what is left on the lowest probabilities of the others.
    """
    corpus = np.array([e.corpus for e in data])
    answerable = np.array([e.answerable for e in data], dtype=bool)
    absent = np.array([e.absent for e in data], dtype=bool)
    cuts = []
    for c in np.unique(corpus):
        mine = (corpus == c) & answerable
        p = np.sort(prob[mine & ~absent])
        left = math.floor(max_refused * int(mine.sum())) - int((mine & absent).sum())
        if len(p):
            cuts.append(float(p[min(max(left, 0), len(p) - 1)]))
    return min(cuts) if cuts else 0.0


def fit_abstention(data: Sequence[Example], target_precision: float | None) -> AbstentionFit:
    """Fit the abstention model and choose its two thresholds.

    The model (label: answerable) is fitted on all examples, each corpus weighing the same in total.
    The refusal threshold is :func:`refusal_threshold` (at most ``MAX_REFUSED`` of answerable
    questions refused). Answers below the confident level are marked 请核对原文: with
    ``target_precision`` that level is the lowest threshold whose weighted precision (answers that
    are right) on the pooled examples reaches the target; without it, the threshold with the best
    mean F1 over the corpora. Coverage and precision are reported at both.

    Args:
        data: labelled, weighted examples.
        target_precision: the wanted precision of unmarked answers; None for the best mean F1.
    """
    x = np.array([e.features for e in data], dtype=np.float64)
    w = np.array([e.weight for e in data], dtype=np.float64)
    coef, bias = fit_logistic(x, np.array([e.answerable for e in data], dtype=np.float64), w)
    coef, bias = np.round(coef, 5), round(bias, 5)
    # Choose on the probabilities of the model as stored (rounded), so the stored point is exact.
    prob = 1.0 / (1.0 + np.exp(-(x @ coef + bias)))
    points = coverage_precision(prob.tolist(), [e.correct for e in data], w.tolist())
    if target_precision is None:
        confident = _best_f1_cut(prob, data)
    else:
        chosen = point_for_precision(points, target_precision)
        confident = chosen.threshold if chosen else float(prob.max()) + 1e-5
    # Rounded down so that the question sitting on a threshold is still answered.
    threshold = math.floor(refusal_threshold(prob, data, MAX_REFUSED) * 1e5) / 1e5
    confident = max(threshold, math.floor(confident * 1e5) / 1e5)
    model = Abstention(tuple(float(c) for c in coef), bias, threshold, FEATURES, confident)
    return AbstentionFit(model, target_precision, point_at(points, threshold), point_at(points, confident))


def _auroc_of(coef: np.ndarray, bias: float, keep: list[int], test: Sequence[Example]) -> float:
    x = np.array([[e.features[i] for i in keep] for e in test], dtype=np.float64)
    return auroc((x @ coef + bias).tolist(), [e.answerable for e in test])


def feature_ablation(
    train: Sequence[Example], tests: Mapping[str, Sequence[Example]], features: Sequence[str] = FEATURES
) -> dict[str, dict[str, float]]:
    """AUROC (answerable vs not) on each test set of the model refitted without each feature in turn.

    Returns:
        ``{"all features": {test: auroc}, "without <feature>": {test: auroc}, ...}``.
    """
    w = np.array([e.weight for e in train], dtype=np.float64)
    y = np.array([e.answerable for e in train], dtype=np.float64)
    table = {}
    for dropped in (None, *range(len(features))):
        keep = [i for i in range(len(features)) if i != dropped]
        x = np.array([[e.features[i] for i in keep] for e in train], dtype=np.float64)
        coef, bias = fit_logistic(x, y, w)
        name = "all features" if dropped is None else f"without {features[dropped]}"
        table[name] = {t: round(_auroc_of(coef, bias, keep, data), 4) for t, data in tests.items()}
    return table


def sentence_examples(
    retriever: Retriever, cases: Sequence[EvalCase]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Every candidate sentence of each answerable case's answering hits: features, label, weight.

    The label says whether the sentence holds a gold answer (overlaps a gold quote or contains a gold
    answer string); each question weighs 1 in total, shared by its candidates, and questions whose
    candidates are all of one label are left out (they teach nothing about choosing).
    """
    from evals.metrics import is_relevant

    rows: list[tuple[float, ...]] = []
    labels: list[float] = []
    weights: list[float] = []
    k = retriever.config.answer_hits
    for case in (c for c in cases if c.answerable):
        q = retriever.parse(case.question)
        hits = retriever.rank(retriever.signals(q, case.excluded), k)
        scored = score_sentences(q, hits, retriever.texts, retriever.lexical.tokens, retriever.config.answer)
        y = [float(is_relevant(case, s.hit.chunk.doc_id, s.span, _text(retriever, s))) for s in scored]
        if not scored or min(y) == max(y):
            continue
        rows += [s.features for s in scored]
        labels += y
        weights += [1.0 / len(scored)] * len(scored)
    return np.array(rows, dtype=np.float64), np.array(labels), np.array(weights)


def _text(retriever: Retriever, sentence: Sentence) -> str:
    return retriever.texts[sentence.hit.chunk.doc_id][sentence.span.start : sentence.span.end]


def fit_sentence_ranker(corpora: Sequence[tuple[Retriever, Sequence[EvalCase]]]) -> SentenceRanker:
    """A logistic regression of "holds the gold answer" over ``SENTENCE_FEATURES``, each corpus weighing the same."""
    from retriever.answer import SENTENCE_FEATURES

    parts = [sentence_examples(r, cases) for r, cases in corpora]
    x = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    w = np.concatenate([p[2] / p[2].sum() for p in parts])
    coef, bias = fit_logistic(x, y, w * len(y) / len(parts))
    return SentenceRanker(tuple(round(float(c), 5) for c in coef), round(bias, 5), SENTENCE_FEATURES)


ANSWER_GRID = {
    "rank_weight": (0.0, 0.1, 0.2, 0.35, 0.5),
    "number_weight": (0.0, 0.5, 1.0),
    "join_gain": (0.1, 0.15, 0.2),
    "join_gain_far": (0.2, 0.3, 1.01),
}


def fit_answer(corpora: Sequence[tuple[Retriever, Sequence[EvalCase]]]) -> tuple[AnswerConfig, float]:
    """The answer-extraction settings with the best mean of citation hit@1 and answer correctness.

    Each corpus counts equally. Retrieval does not depend on these settings, so hits are
    retrieved once per question; abstention is off while fitting, so every answer is judged. With
    a fitted sentence ranker only the joining settings are searched (the others weigh the hand-set score).
    """
    from evals.run import judge

    prepared = []
    for retriever, cases in corpora:
        answerable = [c for c in cases if c.answerable]
        questions = [retriever.parse(c.question) for c in answerable]
        hits = [retriever.rank(retriever.signals(q, c.excluded), 5) for q, c in zip(questions, answerable, strict=True)]
        prepared.append((retriever, answerable, questions, hits))
    base = [r.config for r, *_ in prepared]
    best: tuple[float, AnswerConfig] = (-1.0, base[0].answer)
    grid = {k: v for k, v in ANSWER_GRID.items() if not base[0].answer.ranker.weights or k.startswith("join")}
    for values in itertools.product(*grid.values()):
        cfg = replace(base[0].answer, **dict(zip(grid, values, strict=True)))  # type: ignore[arg-type]
        scores = []
        for (retriever, cases, questions, hits), config in zip(prepared, base, strict=True):
            retriever.config = replace(config, answer=cfg, abstention=Abstention(rules=False))
            answers = [retriever.answer_from(q, h, 5) for q, h in zip(questions, hits, strict=True)]
            judged = [judge(c, a) for c, a in zip(cases, answers, strict=True)]
            scores.append(sum((rank == 1) + ok for rank, ok in judged) / (2 * len(judged)))
        if float(np.mean(scores)) > best[0] + 1e-9:
            best = (float(np.mean(scores)), cfg)
    for (retriever, *_), config in zip(prepared, base, strict=True):
        retriever.config = config
    return best[1], best[0]
