"""Pure fusion of lexical and dense scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Scores = npt.NDArray[np.float64]

# Cormack et al. (2009) found k=60 robust; it is the value haystack and most peers use.
RRF_K = 60


def minmax(scores: npt.ArrayLike) -> Scores:
    """Scale to [0, 1] by the minimum and maximum; all-equal scores become all 0."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return s
    low, high = float(s.min()), float(s.max())
    return (s - low) / (high - low) if high > low else np.zeros_like(s)


def fuse(lexical: npt.ArrayLike, dense: npt.ArrayLike, dense_weight: float) -> Scores:
    """Min-max-normalised score fusion over one candidate set, ``(1 - w)·lexical + w·dense``.

    Measured here: equal-weight RRF of BM25 and USE-m3 lowered R@1 by 8–18 points against BM25
    alone, while this fusion with the dense weight fitted on a dev split matched or beat BM25.
    """
    return (1.0 - dense_weight) * minmax(lexical) + dense_weight * minmax(dense)


def rrf(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: each item scores ``sum(1 / (k + rank))`` over the lists, rank from 1.

    Returns:
        ``(item, score)`` pairs, best first; ties keep first-seen order.
    """
    totals: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            totals[item] = totals.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(totals.items(), key=lambda kv: -kv[1])
