"""Pure span logic of answers: clauses of a sentence, the sentence(s) around a quote, enumerations.

Every function returns spans of the document text it is given, so quotes built from them are
verbatim by construction.
"""

from __future__ import annotations

import re

from ingest.chunk import split_sentences, trim_span
from ingest.types import Chunk, Span

_OPENERS = {"“": "”", "‘": "’", "「": "」", "『": "』", "（": "）", "(": ")", "《": "》", "【": "】", "[": "]"}
_CLAUSE_BREAKS = frozenset("，；：,;:")


def clauses(text: str, span: Span) -> list[Span]:
    """The clauses of the sentence at ``span``: split after ``，；：`` outside quotes and brackets.

    A comma between digits (``1,234``) is not a break; ``、`` never is, so an enumeration stays
    whole. Each clause keeps its closing punctuation; spans are trimmed of blanks.
    """
    pieces: list[Span] = []
    closing: list[str] = []
    begin = span.start
    for i in range(span.start, span.end):
        ch = text[i]
        if closing and ch == closing[-1]:
            closing.pop()
        elif ch in _OPENERS:
            closing.append(_OPENERS[ch])
        elif ch in _CLAUSE_BREAKS and not closing:
            if ch == "," and 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit():
                continue
            pieces.append(Span(begin, i + 1))
            begin = i + 1
    pieces.append(Span(begin, span.end))
    trimmed = [trim_span(text, p) for p in pieces]
    return [p for p in trimmed if p.end > p.start]


_CN_DIGITS = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)}
# Enumeration markers at the start of a sentence: 一是, 一、, （一）, 1. / 1、, （1）, 第一，
_ITEM = re.compile(
    r"(?P<shi>[一二三四五六七八九十]+)是|(?P<dun>[一二三四五六七八九十]+)、|[（(](?P<paren>[一二三四五六七八九十]+)[）)]"
    r"|(?P<dot>\d{1,2})[.、．](?!\d)|[（(](?P<pnum>\d{1,2})[）)]|第(?P<di>[一二三四五六七八九十]+)[，,、]"
)
# Words of a question asking for a list; an enumeration is also what "…是什么" and "几个方面" ask for.
LIST_WORDS = "哪些|哪几|包括|包含|有什么|分别|主要内容"
ENUMERATION_QUESTION = re.compile(f"{LIST_WORDS}|是什么|具体内容|几个方面")
_MAX_ITEMS = 12
_ITEM_REACH = 3000  # how far (in characters) an enumeration is followed


def _item_number(text: str, start: int) -> tuple[str, int] | None:
    """The marker family and number of an enumeration item starting at ``start``, if one does."""
    m = _ITEM.match(text, start)
    if m is None or m.lastgroup is None:
        return None
    raw = m.group(m.lastgroup)
    number = int(raw) if raw.isdigit() else _cn_number(raw)
    return (m.lastgroup, number) if number else None


def _cn_number(raw: str) -> int:
    if raw == "十":
        return 10
    if raw.startswith("十"):
        return 10 + _CN_DIGITS.get(raw[1:], 0)
    return _CN_DIGITS.get(raw, 0) if len(raw) == 1 else 0


def enumeration(text: str, lead_in: Span) -> list[Span]:
    """The items of the enumeration a lead-in sentence introduces, each by its first clause.

    ``lead_in`` ends in a colon (``六项重点任务具体为:``); the items are the sentences after it
    that start with consecutive markers of one kind (一是/二是, 一、/二、, （一）/（二）, 1./2.,
    （1）/（2）, 第一，/第二，), the first numbered 1. A question about one item's content finds
    that item's sentence, not the lead-in, and is answered from it as usual. Returns no items
    when there are fewer than two.
    """
    if text[lead_in.start : lead_in.end].rstrip()[-1:] not in (":", "："):
        return []
    sentences = split_sentences(text, lead_in.end, min(len(text), lead_in.end + _ITEM_REACH))
    first = _item_number(text, sentences[0].start) if sentences else None
    if first is None or first[1] != 1:
        return []
    family, items = first[0], list[Span]()
    for sentence in sentences:
        found = _item_number(text, sentence.start)
        if found == (family, len(items) + 1):
            parts = clauses(text, sentence)
            items.append(parts[0] if parts else sentence)
        elif (found is not None and found[0] == family) or len(items) >= _MAX_ITEMS:
            break  # the numbering restarted (another enumeration), or enough
    return items if len(items) >= 2 else []


def context_span(text: str, span: Span, chunk: Chunk) -> Span:
    """The whole sentence or sentences of ``text`` (within ``chunk``) that ``span`` lies in."""
    around = [
        s
        for s in split_sentences(text, min(chunk.start, span.start), max(chunk.end, span.end))
        if s.overlaps(span)
    ]
    if not around:
        return span
    return Span(min(around[0].start, span.start), max(around[-1].end, span.end))
