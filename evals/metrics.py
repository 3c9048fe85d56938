"""Pure IR and QA metrics; no I/O."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np

from evals.dataset import EvalCase
from ingest.types import Span


def overlaps(a: Span, b: Span) -> bool:
    """True when two half-open spans share at least one character."""
    return a.start < b.end and b.start < a.end


def is_relevant(case: EvalCase, doc_id: str, span: Span, text: str) -> bool:
    """A passage is relevant when it overlaps a gold span or contains a gold quote of the same document."""
    return any(g.doc_id == doc_id and (overlaps(g.span, span) or g.quote in text) for g in case.gold)


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


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def contains_all(answer: str, must: Sequence[str]) -> bool:
    """True when the answer contains every required string (width-folded)."""
    folded = _fold(answer)
    return all(_fold(m) in folded for m in must)


def contains_any(answer: str, options: Sequence[str]) -> bool:
    """True when the answer contains at least one of the options (width-folded)."""
    folded = _fold(answer)
    return any(_fold(o) in folded for o in options)


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
