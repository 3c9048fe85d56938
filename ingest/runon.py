"""Cut a run-on line of a scraped page into pieces that cleaning classifies: article text and chrome.

Scraped notices often arrive as one line: headline, byline, body and the site's reprint disclaimer
run together. Classified whole, such a line is either kept with its chrome or lost with it (a
645-character notice ending in ``（凡本网注明"来源：XXX"的作品，…负责。）`` was a "disclaimer").
So a line is first cut, and only the pieces are classified:

* at paragraph indents (two or more U+3000 ``　　``): each paragraph is a piece of its own;
* around chrome inside the line: a run of byline fields (``作者：张三 来源：重庆日报
  发布时间：2020-02-18 10:00``), a reporter credit (``本报记者 张三``, ``（记者 张三）``), a photo
  credit (``（张三 摄）``, ``（资料图片）``), a sentence or bracket holding a reprint disclaimer,
  ``原标题：…``, and, in a long line, a numeric date standing alone (``2025-01-14 10:00``).

Pieces are stripped substrings of the line, in order: kept text is never rewritten, and the clean
text breaks lines only where an indent was or where chrome was cut out. A short line that is chrome
as a whole (``【我要纠错】 责任编辑：李明``) stays one piece, so it is removed as the line it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.chrome import (
    BYLINE_FIELD,
    DISCLAIMER,
    NUMERIC_DATE,
    PARAGRAPH_MIN_CHARS,
    TIME,
    Kind,
    classify,
)

_INDENT = re.compile(r"\s*\u3000{2,}\s*")
_BOUNDARY = r"(?:^|(?<=\s)|(?<=[。！？!?]))"  # chrome inside a line starts a token
_END = r"(?=\s|$)"
_CJK_NAME = r"[\u4e00-\u9fff]{2,4}(?:·[\u4e00-\u9fff]{2,6})?"  # 张三, 阿不都热合曼·吐尔逊
_DATE_VALUE = rf"(?:{NUMERIC_DATE}(?:\s+{TIME})?|\d{{4}}年\d{{1,2}}月\d{{1,2}}日(?:\s*{TIME})?)"
# One field and its value: "来源：重庆日报", "发布时间：2020-02-18 10:00", "作者：张三 李四".
_FIELD = (
    rf"(?:{NUMERIC_DATE}(?:\s*{TIME})?\s*)?{BYLINE_FIELD}\s*"
    rf"(?:{_DATE_VALUE}|[^\s，。；！？,;!?:：]{{1,30}}(?:\s[\u4e00-\u9fff]{{2,4}}{_END})?)?"
)
_REPORTER_WORD = r"(?:本报|本刊|本网|新华社)?(?:特约)?(?:记者|通讯员)"
_REPORTER = rf"{_REPORTER_WORD}\s+{_CJK_NAME}"
_INLINE: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("byline", re.compile(rf"{_BOUNDARY}{_FIELD}(?:\s*{_FIELD})*{_END}")),
    ("byline", re.compile(rf"{_BOUNDARY}{_REPORTER}(?:\s+{_REPORTER}|\s+{_CJK_NAME})*{_END}")),
    ("original_title", re.compile(rf"{_BOUNDARY}[【\[]?原标题\s*[:：]\s*\S{{1,80}}{_END}")),
)
_BRACKETED = re.compile(r"[（(【\[]([^（）()【】\[\]]{1,200})[）)】\]]")
_BRACKET_REPORTER = re.compile(rf"^{_REPORTER_WORD}[\s:：]*{_CJK_NAME}(?:\s+{_CJK_NAME})*$")
_BRACKET_PHOTO = re.compile(r"^(?:资料图片|资料图|图片来源|图源|图为|摄影)|\s摄$|^[\u4e00-\u9fff]{2,4}摄$")
# A numeric date standing alone between spaces, brackets allowed: "2025-01-14 10:00", "[2025-01-14]".
_LONE_DATE = re.compile(rf"{_BOUNDARY}[\[［(（]?\s*{NUMERIC_DATE}(?:\s*{TIME})?\s*[\]］)）]?{_END}")
# A sentence ends after 。！？ and the closing marks that follow; a space ends one too.
_SENTENCE = re.compile(r"[^。！？!?\s]+(?:[。！？!?]+[”\"’）)」』】]*)?|[。！？!?]+")


@dataclass(frozen=True, slots=True)
class Piece:
    """A stripped substring of a line, and what it is (``text``, or a kind of chrome)."""

    text: str
    kind: Kind


def split_run_on(line: str) -> list[Piece]:
    """Cut one stripped line into classified pieces (see the module docstring).

    Args:
        line: A line of the page, stripped.

    Returns:
        The pieces in line order; one piece, classified as the whole line, when nothing was cut.
    """
    pieces: list[Piece] = []
    for part in (p.strip() for p in _INDENT.split(line)):
        if not part:
            continue
        kind = classify(part)
        long = len(part) > PARAGRAPH_MIN_CHARS
        cut = _cut(part, long) if kind in ("text", "disclaimer", "original_title") or long else []
        pieces.extend(cut or [Piece(part, kind)])
    return pieces


def _cut(part: str, long: bool) -> list[Piece]:
    """The pieces of ``part`` around its inline chrome; ``[]`` when it has none."""
    spans = sorted(_chrome_spans(part, long))
    if not spans:
        return []
    pieces: list[Piece] = []
    pos = 0
    for start, end, kind in _merged(spans):
        if gap := part[pos:start].strip():
            pieces.append(Piece(gap, classify(gap)))
        pieces.append(Piece(part[start:end].strip(), kind))
        pos = end
    if rest := part[pos:].strip():
        pieces.append(Piece(rest, classify(rest)))
    return pieces


def _chrome_spans(part: str, long: bool) -> list[tuple[int, int, Kind]]:
    """``(start, end, kind)`` of every piece of chrome inside ``part``, overlapping or not."""
    spans = _bracketed_spans(part)
    bracketed = [(start, end) for start, end, _ in spans]
    for kind, pattern in _INLINE:
        spans += [(m.start(), m.end(), kind) for m in pattern.finditer(part) if m.group().strip()]
    for m in _SENTENCE.finditer(part):
        # A disclaimer in brackets is cut at its brackets, not with the text before it in its sentence.
        hits = [m.start() + d.start() for d in DISCLAIMER.finditer(m.group())]
        if any(not any(a <= h < b for a, b in bracketed) for h in hits):
            spans.append((m.start(), m.end(), "disclaimer"))
    if long:
        spans += [(m.start(), m.end(), "timestamp") for m in _LONE_DATE.finditer(part)]
    return spans


def _bracketed_spans(part: str) -> list[tuple[int, int, Kind]]:
    """Brackets holding a disclaimer, a reporter credit or a photo credit."""
    spans: list[tuple[int, int, Kind]] = []
    for m in _BRACKETED.finditer(part):
        inner = m.group(1).strip()
        if DISCLAIMER.search(inner):
            spans.append((m.start(), m.end(), "disclaimer"))
        elif _BRACKET_REPORTER.match(inner):
            spans.append((m.start(), m.end(), "byline"))
        elif _BRACKET_PHOTO.search(inner):
            spans.append((m.start(), m.end(), "photo"))
    return spans


def _merged(spans: list[tuple[int, int, Kind]]) -> list[tuple[int, int, Kind]]:
    """Overlapping spans joined; a joined span keeps the kind of the one that starts first."""
    merged: list[tuple[int, int, Kind]] = []
    for start, end, kind in spans:
        if merged and start <= merged[-1][1]:
            first = merged[-1]
            merged[-1] = (first[0], max(first[1], end), first[2])
        else:
            merged.append((start, end, kind))
    return merged
