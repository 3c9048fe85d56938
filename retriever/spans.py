"""Pure span logic of answers: clauses of a sentence, the sentence(s) around a quote, enumerations,
what only leads to an answer (headings, bylines, a long text's front matter), and the passage that answers.

Every function returns spans of the document text it is given, so quotes built from them are
verbatim by construction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingest.chrome import classify
from ingest.chunk import heading_level, split_sentences, trim_span
from ingest.lead import strip_dateline
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
        s for s in split_sentences(text, min(chunk.start, span.start), max(chunk.end, span.end)) if s.overlaps(span)
    ]
    if not around:
        return span
    return Span(min(around[0].start, span.start), max(around[-1].end, span.end))


_MAX_HEADING_CHARS = 40
_LEADING_BLANK = re.compile(r"\s*")
_QUESTION_END = ("？", "?")


def _line_of(text: str, span: Span) -> Span:
    """The line (paragraph) that holds ``span``, trimmed."""
    start = text.rfind("\n", 0, span.start) + 1
    end = text.find("\n", span.end)
    return trim_span(text, Span(start, len(text) if end < 0 else end))


def _is_first_line(text: str, line: Span) -> bool:
    return line.start == _LEADING_BLANK.match(text).end()  # type: ignore[union-attr]  # \s* always matches


def is_heading(text: str, span: Span) -> bool:
    """Whether the sentence at ``span`` is a bare heading or title, not an answer.

    A dateline (``新华社成都5月10日电``) wherever it stands; a short line of its own (a headline run into
    its dateline counts without the dateline) that is the text's first line (its title), or a single phrase with no
    clause inside that is a heading by :func:`ingest.chunk.heading_level` once a closing ``。`` is
    dropped (``二、减免质量检验检测服务收费。``, ``一、总体要求``), or has no sentence end at all. A
    marked line that says something in clauses (``二、冬季开灯时间为17时30分，关灯时间为次日6时30分。``)
    is an item of a list, and a sentence sharing its line with others is running text.
    """
    sentence = strip_dateline(text[span.start : span.end])
    if not sentence:
        return True
    line = _line_of(text, span)
    if (line.start, line.end) != (span.start, span.end) or len(sentence) > _MAX_HEADING_CHARS:
        return False
    if _is_first_line(text, line):
        return True
    if any(ch in _CLAUSE_BREAKS for ch in sentence):
        return False
    return heading_level(sentence.rstrip("。")) is not None or sentence[-1] not in "。！？；!?;"


def is_chrome(text: str, span: Span) -> bool:
    """Whether the sentence is a line of page chrome on its own (``来源：贵州日报``, ``作者：…``).

    Cleaning drops these from scraped pages; a Word file made from a news page keeps them.
    """
    line = _line_of(text, span)
    return (line.start, line.end) == (span.start, span.end) and classify(text[span.start : span.end]) != "text"


# A short sentence that opens a paragraph which goes on (``坚持稳中求进。``) is a run-in heading.
_RUN_IN_HEADING_CHARS = 16
# A text longer than this is a report or a long article: the body under its front matter is its
# opening (``各位代表：…``), not the answer to a question its title words match. A notice is shorter.
_LONG_TEXT_CHARS = 1500
_SENTENCE_END_CHARS = ("。", "！", "？", "!", "?")
_SENTENCE_AT_LINE_END = re.compile(r"[。！？!?]\s*$", re.MULTILINE)


def is_run_in_heading(text: str, span: Span) -> bool:
    """Whether the sentence is a short lead of the paragraph it opens, with the paragraph's body after it."""
    line = _line_of(text, span)
    return (
        line.start == span.start
        and span.end - span.start <= _RUN_IN_HEADING_CHARS
        and text[span.end : line.end].strip() != ""
    )


def front_matter_end(text: str) -> int:
    """Where a long text's front matter ends: at the first line that ends a sentence; 0 in a short text.

    The front matter is the lines above the text's first sentence: the title, a byline, the occasion
    and the speaker of a report (``——2025年1月19日在…会议上``, ``省长 李炳军``, ``各位代表：``). It is
    found once per document (:func:`is_front_matter` takes it).
    """
    if len(text) <= _LONG_TEXT_CHARS:
        return 0
    first = _SENTENCE_AT_LINE_END.search(text)
    return first.start() if first else len(text)


def is_front_matter(text: str, span: Span, end: int | None = None) -> bool:
    """Whether the sentence is in the front matter of a long text, which answers no question by itself.

    ``end`` is :func:`front_matter_end` of ``text``, when the caller has it. A sentence that ends a
    sentence (``现在，我代表…意见。``) is not front matter, even on the line of ``各位代表：``.
    """
    end = front_matter_end(text) if end is None else end
    return span.end <= end and not text[span.start : span.end].rstrip().endswith(_SENTENCE_END_CHARS)


def is_question_line(text: str, span: Span) -> bool:
    """Whether the sentence is a question the document asks itself (a Q&A document's ``23、…如何处理？``)."""
    return text[span.start : span.end].rstrip().endswith(_QUESTION_END)


def not_the_answer(text: str, span: Span) -> bool:
    """Whether the sentence only leads to an answer: a heading or title, a Q&A document's own question, a byline."""
    return is_heading(text, span) or is_question_line(text, span) or is_chrome(text, span)


def passage(text: str, sentence: Span, max_chars: int) -> list[Span]:
    """The passage that answers from ``sentence`` on: up to ``max_chars``, in whole sentences, as contiguous spans.

    - A heading or title is not the answer: the passage is the body that follows it (after any
      byline), up to the next heading.
    - A run-in heading (``坚持稳中求进。`` opening a paragraph) is not either: the passage is the rest
      of its paragraph.
    - A question line of a Q&A document is not the answer: the passage is what follows it (from a
      ``答：`` on), up to the next question line.
    - A lead-in (ending in ``：``) continues into the lines after it.
    - Any other sentence continues with the sentences after it on its line (its paragraph),
      ``；``-separated items included, and stops at the line's end.

    The first sentence of the passage is always kept whole, even when longer than ``max_chars``.
    Spans are merged where only blank space lies between them, so each span is one contiguous quote.
    """
    leads_only = not_the_answer(text, sentence)
    crosses_lines = leads_only or text[sentence.start : sentence.end].rstrip()[-1:] in (":", "：")
    limit = len(text) if crosses_lines else _line_of(text, sentence).end
    following = split_sentences(text, sentence.end, min(limit, sentence.end + _ITEM_REACH))
    skip_first = leads_only or is_run_in_heading(text, sentence)  # a run-in heading's passage stays on its line
    chosen: list[Span] = [] if skip_first else [sentence]
    used = 0 if skip_first else sentence.end - sentence.start
    for s in following:
        piece = text[s.start : s.end]
        if is_question_line(text, s) or (chosen and is_heading(text, s)):
            break
        if skip_first and not chosen and not_the_answer(text, s):
            continue  # a sub-heading or a byline right under the heading: the body follows
        if chosen and used + len(piece) > max_chars:
            break
        chosen.append(s)
        used += len(piece)
    return merge_adjacent(chosen, text) if chosen else [sentence]


def merge_adjacent(spans: Sequence[Span], text: str) -> list[Span]:
    """Spans in text order, those with only blank space between them merged into one contiguous span."""
    merged: list[Span] = []
    for span in spans:
        if merged and text[merged[-1].end : span.start].strip() == "":
            merged[-1] = Span(merged[-1].start, span.end)
        else:
            merged.append(span)
    return merged


def without_title(text: str, span: Span, title: str) -> Span:
    """``span`` without the document's title in front of it, when a run-on text starts the sentence with it.

    A scraped notice on one line (``宁波出台18条措施 全力支持企业复工复产 新华社宁波2月16日电 …``) has
    its headline in its first sentence; the headline is not the answer, what follows it is. Any
    other span is returned as it is.
    """
    head = title.strip()
    if len(head) < 4 or not text.startswith(head, span.start):
        return span
    rest = trim_span(text, Span(span.start + len(head), span.end))
    return rest if rest.end - rest.start >= _MIN_REST else span


_MIN_REST = 4
