"""BM25 over the tokens of ``ingest.tokenize`` (the tokenizer the index was built with), across segments.

Scores are Lucene's BM25 (``k1`` 1.5, ``b`` 0.75, the variant and values bm25s defaults to) with one set
of statistics — chunk count, average length, each token's document frequency — over the *live* chunks
of every segment: a library split into segments, with deleted chunks still in them, scores every chunk
exactly as one fresh index of the same chunks would. Document frequencies are counted at query time
from the posting lists the query reads anyway.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ingest.postings import K1, B, Postings
from ingest.tokenize import tokenize

logger = logging.getLogger(__name__)

Scores = npt.NDArray[np.float32]
Rows = npt.NDArray[np.int64]
_DF_CACHE = 200_000


def lucene_idf(df: float, n_docs: int) -> float:
    """Lucene's idf, the one bm25s scores with; a term in no chunk gets the largest possible value."""
    return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))


class LexicalSearcher:
    """Scores every row of a segmented library (rows numbered segment after segment) for a question.

    Args:
        segments: each segment's postings.
        live: per segment, which of its rows are live (a deleted document's rows are not).
        scheme: the tokenizer the postings were built with.
    """

    def __init__(self, segments: Sequence[Postings], live: Sequence[npt.NDArray[np.bool_]], scheme: str) -> None:
        self.segments = tuple(segments)
        self.scheme = scheme
        self._live = tuple(live)
        self._all_live = tuple(bool(m.all()) for m in self._live)
        self._offsets = np.cumsum([0, *(p.n_rows for p in self.segments)])
        self.n_rows = int(self._offsets[-1])
        self.n_docs = int(sum(int(m.sum()) for m in self._live))
        length = sum(int(p.doclen[m].sum()) for p, m in zip(self.segments, self._live, strict=True))
        self.avgdl = length / self.n_docs if self.n_docs else 1.0
        self.oov_idf = lucene_idf(0, self.n_docs)
        self._df: dict[str, int] = {}  # document frequencies asked for so far (a question's terms, for their idf)
        # Each row's length normalisation, ``K1 · (1 − B + B · length / avgdl)`` with bm25s's operations.
        self._norms = tuple(K1 * ((1 - B) + B * p.doclen / self.avgdl) for p in self.segments)

    def tokens(self, text: str) -> list[str]:
        """The distinct search tokens of ``text``, in order."""
        return list(dict.fromkeys(tokenize(text, self.scheme)))

    def _postings(self, token: str) -> list[tuple[int, npt.NDArray[np.integer], npt.NDArray[np.uint16]]]:
        """Per segment holding ``token``: its index, and the live rows holding it with their frequencies."""
        found: list[tuple[int, npt.NDArray[np.integer], npt.NDArray[np.uint16]]] = []
        for s, (postings, live) in enumerate(zip(self.segments, self._live, strict=True)):
            rows: npt.NDArray[np.integer]
            rows, tf = postings.lookup(token)
            if len(rows) and not self._all_live[s]:
                rows = rows.astype(np.int64)  # an int32 index is cast on every use
                keep = live[rows]
                rows, tf = rows[keep], tf[keep]
            if len(rows):
                found.append((s, rows, tf))
        return found

    def idf(self, token: str) -> float:
        """The idf of a token over the live chunks (the out-of-vocabulary value when none holds it)."""
        df = self._df.get(token)
        if df is None:
            if len(self._df) > _DF_CACHE:
                self._df.clear()
            df = self._df[token] = sum(len(rows) for _, rows, _ in self._postings(token))
        return lucene_idf(df, self.n_docs)

    def scores(self, tokens: list[str]) -> Scores:
        """BM25 scores of every row for the query tokens (0 for rows of deleted documents)."""
        out = np.zeros(self.n_rows, dtype=np.float32)
        for token in dict.fromkeys(tokens):
            found = self._postings(token)
            if not found:
                continue
            idf = np.float32(lucene_idf(sum(len(rows) for _, rows, _ in found), self.n_docs))
            for s, held, tf in found:
                # bm25s's operations and precisions (float64, rounded once to float32), so its scores are these,
                # in place. Rows index as int64 (numpy casts an int32 index on every use), and ``add.at``
                # adds each row's share once (a token's rows are distinct), 3–4× faster than ``out[rows] +=``.
                rows = held.astype(np.int64, copy=False)  # a copy of the postings' int32 (or of their live part)
                freq = tf.astype(np.float64)
                norm = np.take(self._norms[s], rows)
                norm += freq
                np.divide(freq, norm, out=freq)
                freq *= idf
                if s:
                    rows += self._offsets[s]
                np.add.at(out, rows, freq.astype(np.float32))
        return out


def top_rows(scores: npt.NDArray[np.floating], k: int) -> Rows:
    """The rows of the ``k`` largest scores, best first, ties by row: ``np.argsort(-scores, kind="stable")[:k]``
    without sorting every score (a partial selection, then a sort of ``k``).

    A long array is first cut to the rows at or above the ``k``-th largest of its blocks' maxima: ``k``
    blocks each hold a score at least that high, so every row of the ``k`` best (ties included) is
    among them; at a million scores this is 4–5× faster than selecting among all.
    """
    n = len(scores)
    if k >= n:
        return np.argsort(-scores, kind="stable")
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k * _BLOCK * 4 <= n:
        blocks = n // _BLOCK
        maxima = scores[: blocks * _BLOCK].reshape(blocks, _BLOCK).max(axis=1)
        floor = np.partition(maxima, blocks - k)[blocks - k]
        among = np.flatnonzero(scores >= floor)
        return among[_top(scores[among], k)]
    return _top(scores, k)


_BLOCK = 64


def _top(scores: npt.NDArray[np.floating], k: int) -> Rows:
    """:func:`top_rows` by a partial selection among all scores (``k`` at most their number)."""
    n = len(scores)
    threshold = np.partition(scores, n - k)[n - k]
    above = np.flatnonzero(scores > threshold)
    ties = np.flatnonzero(scores == threshold)[: k - len(above)]
    chosen = np.concatenate([above, ties])
    return chosen[np.argsort(-scores[chosen], kind="stable")]
