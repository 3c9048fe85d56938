"""The one tokenizer for BM25, used both to index chunks and to query them.

Text is first normalised for search (NFKC folds full-width letters and digits to half-width,
lower case, and OpenCC folds Traditional characters to Simplified, so 脫貧人口 finds 脱贫人口 and
the reverse); the shown and cited text is never changed. Numbers and Latin words stay whole
tokens, so ``16118元`` matches ``16118`` and not its digits.

Schemes (recorded in the index manifest with the tokenizer version, ``char12@v3``):
- ``char12``: CJK character unigrams and bigrams;
- ``word``: jieba words (search mode);
- ``word+char12``: both.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path

logger = logging.getLogger(__name__)

# A number (with decimal point, percent or per-mille), a Latin word, or a run of CJK characters.
_PIECES = re.compile(r"\d+(?:\.\d+)?[%‰]?|[a-z]+|[\u3400-\u9fff\uf900-\ufaff]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Function words and question words that carry no topic; dropped from the word scheme only.
_STOPWORDS = frozenset([
    "的", "了", "是", "在", "和", "与", "及", "等", "对", "把", "被", "为", "之", "也", "都", "就", "又",
    "着", "吗", "呢", "吧", "啊", "哪", "啥", "怎么", "怎样", "如何", "多少", "什么", "哪些", "几",
    "是否", "有没有", "请问",
])  # fmt: skip


# Bump when normalize_for_search or the user dictionary changes: an index records it and is
# rebuilt when it differs.
VERSION = 3


@cache
def _to_simplified() -> Callable[[str], str]:
    import opencc

    convert: Callable[[str], str] = opencc.OpenCC("t2s").convert
    return convert


def normalize_for_search(text: str) -> str:
    """Fold width, case and script: ``１６１１８`` matches ``16118``, ``ＡＢＣ`` ``abc``, ``臺灣`` ``台湾``."""
    return _to_simplified()(unicodedata.normalize("NFKC", text).lower())


def _char12(text: str) -> list[str]:
    tokens: list[str] = []
    for piece in _PIECES.findall(text):
        if not _CJK.match(piece):
            tokens.append(piece)
            continue
        tokens.extend(piece)
        tokens.extend(piece[i : i + 2] for i in range(len(piece) - 1))
    return tokens


# Policy places, organisations and terms jieba's own dictionary lacks or splits (两江新区, 国家发展改革委,
# 两不愁三保障), tagged ns / nt / nz for the entity check; a data file, measured by the evals.
USER_DICT = Path(__file__).with_name("data") / "userdict.txt"


@cache
def _jieba() -> object:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    jieba.load_userdict(str(USER_DICT))
    return jieba


def _words(text: str) -> list[str]:
    jieba = _jieba()
    tokens: list[str] = []
    for piece in _PIECES.findall(text):
        if not _CJK.match(piece):
            tokens.append(piece)
            continue
        words = jieba.lcut_for_search(piece)  # type: ignore[attr-defined]
        tokens.extend(w for w in words if w not in _STOPWORDS)
    return tokens


def words(text: str) -> list[str]:
    """jieba's search-mode words of ``text`` (stop words kept), for reading a question rather than indexing it."""
    return _jieba().lcut_for_search(text)  # type: ignore[attr-defined,no-any-return]


def _words_and_chars(text: str) -> list[str]:
    return _words(text) + _char12(text)


SCHEMES: dict[str, Callable[[str], list[str]]] = {
    "char12": _char12,
    "word": _words,
    "word+char12": _words_and_chars,
}


def tokenizer_id(scheme: str) -> str:
    """What an index records of its tokenizer: the scheme and the version of this code's tokenization."""
    return f"{scheme}@v{VERSION}"


def tokenize(text: str, scheme: str) -> list[str]:
    """Tokens of ``text`` for BM25 under one of :data:`SCHEMES` (or its :func:`tokenizer_id`).

    Raises:
        ValueError: the scheme is unknown, or it records another normalisation version.
    """
    name, _, version = scheme.partition("@")
    if version and version != f"v{VERSION}":
        raise ValueError(f"tokenizer {scheme!r} tokenizes as version {version}; this code is v{VERSION}")
    try:
        fn = SCHEMES[name]
    except KeyError:
        raise ValueError(f"unknown tokenizer {scheme!r}; choose one of {sorted(SCHEMES)}") from None
    return fn(normalize_for_search(text))


# jieba's part-of-speech tags for place names and organisations; years are matched separately.
_ENTITY_TAGS = frozenset({"ns", "nt"})
_YEAR = re.compile(r"(?:19|20)\d\d")


def tagged(text: str) -> list[tuple[str, str]]:
    """jieba's words of ``text`` with their part-of-speech tags (``[("区县", "n")]``).

    Without the HMM: its Viterbi pass over unknown words took 50 ms a question; dictionary words suffice.
    """
    import jieba.posseg

    _jieba()
    return [(w.word, w.flag) for w in jieba.posseg.cut(text, HMM=False)]


def entities(text: str) -> list[str]:
    """The place names, organisations and years a question names (``上海``, ``四川省``, ``2024``).

    A question about 上海 must not be answered from a text about 重庆: the retriever checks
    that these occur in the evidence.
    """
    normalized = normalize_for_search(text)
    found = [word for word, flag in tagged(normalized) if flag in _ENTITY_TAGS and len(word) >= 2]
    found += _YEAR.findall(normalized)
    return list(dict.fromkeys(found))
