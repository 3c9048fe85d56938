"""Query expansion from a small synonym table (``retriever/data/synonyms.txt``), for the lexical search.

A question that says 山东和重庆 also searches for 鲁 and 渝; one that says 挣钱 also searches for
收入. Only the query is expanded, never the index, and only for retrieval: what the answer must
cover is still the question's own words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ingest.tokenize import normalize_for_search

SYNONYMS_PATH = Path(__file__).with_name("data") / "synonyms.txt"


@dataclass(frozen=True, slots=True)
class Synonyms:
    """Groups of words that mean the same in a question; a word of one character never triggers."""

    groups: tuple[tuple[str, ...], ...]

    @classmethod
    def parse(cls, lines: Iterable[str]) -> Synonyms:
        """Groups from lines of blank-separated words; ``#`` starts a comment."""
        groups = []
        for line in lines:
            words = tuple(dict.fromkeys(normalize_for_search(w) for w in line.split("#", 1)[0].split()))
            if len(words) >= 2:
                groups.append(words)
        return cls(tuple(groups))

    def expand(self, question: str) -> list[str]:
        """The words to search for besides the question's: the rest of each group it uses a word of."""
        folded = normalize_for_search(question)
        extra: list[str] = []
        for group in self.groups:
            if any(len(w) > 1 and w in folded for w in group):
                extra += [w for w in group if w not in folded]
        return list(dict.fromkeys(extra))


@cache
def default_synonyms() -> Synonyms:
    """The committed table."""
    return Synonyms.parse(SYNONYMS_PATH.read_text(encoding="utf-8").splitlines())
