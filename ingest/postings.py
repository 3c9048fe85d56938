"""Term frequencies of one index segment, by token: what BM25 needs, kept apart from any statistics.

bm25s precomputes every (token, chunk) score with its own corpus's idf and average length baked in,
so two of its indexes cannot be searched as one library and a change means indexing everything again.
A segment keeps raw term frequencies instead (compressed sparse columns: the chunks holding token
``j`` are ``rows[indptr[j]:indptr[j + 1]]``); the searcher weighs them with statistics over all live
segments at query time (``retriever.lexical``), exactly as one index of the same chunks would.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np
import numpy.typing as npt

TF_MAX = np.iinfo(np.uint16).max
BUILD_BATCH = 20_000

# BM25's parameters: Lucene's variant with bm25s's defaults (retriever.lexical; a Milvus collection's BM25 function).
K1, B = 1.5, 0.75


@dataclass(frozen=True, slots=True)
class Postings:
    """Which chunks (rows) hold each token, how often, and how long each chunk is in tokens."""

    vocab: dict[str, int]
    indptr: npt.NDArray[np.int64]
    rows: npt.NDArray[np.int32]
    tf: npt.NDArray[np.uint16]
    doclen: npt.NDArray[np.int32]

    @property
    def n_rows(self) -> int:
        """How many chunks the segment holds."""
        return len(self.doclen)

    def lookup(self, token: str) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint16]]:
        """The rows holding ``token`` and its frequency in each (empty when no chunk holds it)."""
        j = self.vocab.get(token)
        if j is None:
            return self.rows[:0], self.tf[:0]
        start, end = int(self.indptr[j]), int(self.indptr[j + 1])
        return self.rows[start:end], self.tf[start:end]

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]]) -> Postings:
        """The postings of chunks given as token lists (any iterable, read once), row ``i`` being the ``i``-th.

        Read and built ``BUILD_BATCH`` rows at a time and combined, so a large segment's tokens are never
        all in memory at once (a million chunks' token lists would take ~16 GB as Python strings)."""
        parts: list[tuple[Postings, npt.NDArray[np.int64]]] = []
        rows, start = iter(token_lists), 0
        while batch := list(islice(rows, BUILD_BATCH)):
            part = cls._build(batch)
            parts.append((part, np.arange(start, start + part.n_rows, dtype=np.int64)))
            start += part.n_rows
        if len(parts) <= 1:
            return parts[0][0] if parts else cls._build([])
        return cls.combine(parts, start)

    @classmethod
    def _build(cls, token_lists: Sequence[Sequence[str]]) -> Postings:
        vocab: dict[str, int] = {}
        cols: list[int] = []
        rows: list[int] = []
        tfs: list[int] = []
        for row, tokens in enumerate(token_lists):
            for token, count in Counter(tokens).items():
                cols.append(vocab.setdefault(token, len(vocab)))
                rows.append(row)
                tfs.append(count)
        doclen = np.array([len(t) for t in token_lists], dtype=np.int32)
        return cls._from_triples(vocab, np.array(cols, np.int64), np.array(rows, np.int64), np.array(tfs), doclen)

    @classmethod
    def combine(cls, parts: Sequence[tuple[Postings, npt.NDArray[np.int64]]], n_rows: int) -> Postings:
        """One segment's postings from several, each with the new row of each of its rows (-1: dropped).

        Token columns are renumbered into one vocabulary; nothing is tokenized again.
        """
        vocab: dict[str, int] = {}
        cols, rows, tfs = [], [], []
        doclen = np.zeros(n_rows, dtype=np.int32)
        for postings, new_row in parts:
            remap = np.array([vocab.setdefault(t, len(vocab)) for t in postings.vocab], dtype=np.int64)
            order = np.empty(len(remap), dtype=np.int64)
            order[list(postings.vocab.values())] = remap  # column j of this part is column order[j] of the whole
            col = np.repeat(order.astype(np.int32), np.diff(postings.indptr))
            row = new_row.astype(np.int32)[postings.rows]  # int32 throughout: a merge's arrays are its peak memory
            tf = postings.tf
            kept = new_row >= 0
            if not kept.all():
                keep = kept[postings.rows]
                col, row, tf = col[keep], row[keep], tf[keep]
            cols.append(col)
            rows.append(row)
            tfs.append(tf)
            doclen[new_row[kept]] = postings.doclen[kept]
        col, row, tf = (
            np.concatenate([np.zeros(0, dtype), *part])
            for dtype, part in ((np.int32, cols), (np.int32, rows), (np.uint16, tfs))
        )
        del cols, rows, tfs  # the parts go before the sort allocates its own
        return cls._from_triples(vocab, col, row, tf, doclen)

    @classmethod
    def _from_triples(
        cls,
        vocab: dict[str, int],
        cols: npt.NDArray[np.integer],
        rows: npt.NDArray[np.integer],
        tf: npt.NDArray[np.integer],
        doclen: npt.NDArray[np.int32],
    ) -> Postings:
        counts = np.bincount(cols, minlength=len(vocab))
        if not counts.all():  # tokens only dropped rows held are no longer in the vocabulary
            used = counts > 0
            renumber = np.cumsum(used) - 1
            vocab = {t: int(renumber[j]) for t, j in vocab.items() if used[j]}
            cols, counts = renumber[cols], counts[used]
        order = np.lexsort((rows, cols))
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(
            vocab,
            indptr,
            rows[order].astype(np.int32, copy=False),
            np.minimum(tf[order], TF_MAX).astype(np.uint16, copy=False),
            doclen,
        )
