"""Pure IR and QA metrics; no I/O."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from evals.dataset import EvalCase
from ingest.types import Span


def is_relevant(case: EvalCase, doc_id: str, span: Span, text: str) -> bool:
    """A passage is relevant when it overlaps a gold span or contains a gold quote of the same document."""
    return any(g.doc_id == doc_id and (g.span.overlaps(span) or g.quote in text) for g in case.gold)


def first_relevant_rank(case: EvalCase, passages: Iterable[tuple[str, Span, str]]) -> int | None:
    """The 1-based rank of the first relevant ``(doc_id, span, text)`` passage, or None."""
    for rank, (doc_id, span, text) in enumerate(passages, start=1):
        if is_relevant(case, doc_id, span, text):
            return rank
    return None


def hit_at_k(ranks: Sequence[int | None], k: int) -> float:
    """The share of questions with a relevant passage in the top ``k``."""
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr(ranks: Sequence[int | None]) -> float:
    """Mean reciprocal rank; a question with no relevant passage counts 0."""
    return sum(1.0 / r for r in ranks if r is not None) / len(ranks) if ranks else 0.0


def abstention_quality(abstained: Sequence[bool], answerable: Sequence[bool]) -> dict[str, float]:
    """Precision and recall of abstaining, treating "unanswerable" as the positive class."""
    pairs = list(zip(abstained, answerable, strict=True))
    true_pos = sum(1 for a, ok in pairs if a and not ok)
    predicted = sum(1 for a, _ in pairs if a)
    actual = sum(1 for _, ok in pairs if not ok)
    return {
        "abstain_precision": true_pos / predicted if predicted else 1.0,
        "abstain_recall": true_pos / actual if actual else 1.0,
    }


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve: the chance a positive scores above a negative (ties count half)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    # The average 1-based rank of each distinct score, so that ties count half (Mann–Whitney U).
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0
    ranks = average_rank[inverse]
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


# --- Answer quality -------------------------------------------------------------------------------

# Unicode files these under punctuation, but 5.7% and 5.7 are different answers.
_UNITS = frozenset("%‰")


def normalize_answer(text: str) -> str:
    """SQuAD-style normalisation for Chinese: NFKC, case-folded, without whitespace or punctuation.

    Symbols (``¥``, ``+``) and the percent signs are kept: in policy answers they are units.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch in _UNITS or not (ch.isspace() or unicodedata.category(ch)[0] == "P"))


def _best(answer: str, golds: Sequence[str], score: Callable[[str, str], float]) -> float:
    a = normalize_answer(answer)
    return max((score(a, normalize_answer(g)) for g in golds), default=0.0)


def _f_measure(overlap: int, n_answer: int, n_gold: int, beta: float = 1.0) -> float:
    if overlap == 0 or n_answer == 0 or n_gold == 0:
        return 0.0
    precision, recall = overlap / n_answer, overlap / n_gold
    return (1 + beta**2) * precision * recall / (recall + beta**2 * precision)


def _bag_f1(a: str, g: str) -> float:
    overlap = sum((Counter(a) & Counter(g)).values())
    return _f_measure(overlap, len(a), len(g))


def char_f1(answer: str, golds: Sequence[str]) -> float:
    """Character-level F1 (bags of characters after ``normalize_answer``), the best over the gold answers.

    This is SQuAD's token F1 with characters as tokens, as CMRC and DRCD score Chinese. No gold → 0.
    """
    return _best(answer, golds, _bag_f1)


def lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence, bit-parallel over ``a`` (Allison–Dix; Hyyrö 2004).

    Each character of ``b`` costs a few big-integer operations instead of a row of the DP table.
    """
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, ch in enumerate(a):
        masks[ch] = masks.get(ch, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for ch in b:
        u = v & masks.get(ch, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def _lcs_f(a: str, g: str) -> float:
    return _f_measure(lcs_length(a, g), len(a), len(g))


def rouge_l(answer: str, golds: Sequence[str]) -> float:
    """ROUGE-L: the F1 of the longest common character subsequence (after ``normalize_answer``), best over golds."""
    return _best(answer, golds, _lcs_f)


def _squeeze(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def contains_gold(answer: str, golds: Sequence[Sequence[str]]) -> bool:
    """True when the answer holds every part of at least one gold answer (NFKC, whitespace removed).

    Punctuation is kept here: dropping it would let ``26%`` match ``2.6%``.

    Args:
        answer: the returned answer text.
        golds: alternative gold answers, each a sequence of parts that must all occur.
    """
    text = _squeeze(answer)
    return any(parts and all(_squeeze(p) in text for p in parts) for parts in golds)


# --- Coverage and precision of answering ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """Answer every question whose confidence reaches ``threshold``: the share answered and right."""

    threshold: float
    coverage: float
    precision: float


def coverage_precision(
    scores: Sequence[float], correct: Sequence[bool], weights: Sequence[float] | None = None
) -> list[OperatingPoint]:
    """Coverage and precision for every distinct confidence used as the threshold, highest first.

    Coverage is the (weighted) share of questions with ``score >= threshold``; precision is the
    (weighted) share of those that are ``correct``. Tied scores are answered together.
    """
    s = np.asarray(scores, dtype=np.float64)
    if len(s) == 0:
        return []
    y = np.asarray(correct, dtype=np.float64)
    w = np.ones_like(s) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    answered, right = np.cumsum(w[order]), np.cumsum(w[order] * y[order])
    sorted_s = s[order]
    # The last position of each run of equal scores: a threshold answers the whole run.
    ends = np.nonzero(np.r_[sorted_s[1:] != sorted_s[:-1], True])[0]
    total = float(answered[-1])
    return [OperatingPoint(float(sorted_s[i]), float(answered[i] / total), float(right[i] / answered[i])) for i in ends]


def point_at(points: Sequence[OperatingPoint], threshold: float) -> OperatingPoint:
    """The operating point of answering when the confidence reaches ``threshold`` (nothing answered: 0, 1)."""
    reached = [p for p in points if p.threshold >= threshold]
    return replace(reached[-1], threshold=threshold) if reached else OperatingPoint(threshold, 0.0, 1.0)


def point_for_precision(points: Sequence[OperatingPoint], target: float) -> OperatingPoint | None:
    """The lowest threshold (most coverage) whose precision reaches ``target``; None when none does."""
    good = [p for p in points if p.precision >= target - 1e-12]
    return max(good, key=lambda p: (p.coverage, -p.threshold)) if good else None
