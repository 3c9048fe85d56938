"""Lay page texts (a PDF's text layer or OCR) out as clean lines, with the span of each page.

The functions are pure. They work on whole lines only, except that they join a sentence the layout
broke across lines, and remove the spaces a typesetter puts between Chinese and digits or Latin
letters (``860 号`` → ``860号``, ``2019 年`` → ``2019年``): those are glue, not text, and a reader's
quote never has them.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

logger = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
# Page furniture is looked for only in the first and last lines of a page.
_EDGE_LINES = 2
# A line seen at a page edge on this share of pages (and on at least 3) is a running header/footer.
_REPEATED_SHARE = 0.6
_REPEATED_MIN_PAGES = 3
# "- 3 -", "— 3 —", "3", "第3页", "第 3 页 共 10 页", "3/10", "Page 3 of 10".
_PAGE_NUMBER = re.compile(
    r"^[-—–－~\s]*(?:第\s*)?\d{1,4}(?:\s*页)?(?:\s*[/／]\s*\d{1,4}|\s*共\s*\d{1,4}\s*页)?[-—–－~\s]*$"
    r"|^page\s*\d{1,4}(?:\s*of\s*\d{1,4})?$",
    re.IGNORECASE,
)
# A line that starts a heading or an enumeration item is never joined to the line before it.
_HEADING_START = re.compile(
    r"^(?:第[一二三四五六七八九十百零〇\d]+[编章节条款部分]|[一二三四五六七八九十百]+、"
    r"|[（(][一二三四五六七八九十百\d]+[）)]|\d+[.、．](?!\d)|[①-⑳]|附件|附[:：])"
)
_SENTENCE_END = tuple("。！？；：:!?;")
_CLOSERS = "”’」』）)》】"
# A line at least this share of the document's typical (90th percentile) width is a full line;
# measured on 397.pdf: full lines 56-58, indented first lines 52, a "（一）…" heading 46.
_FULL_LINE_SHARE = 0.85
_MIN_LINES_FOR_PERCENTILE = 10
# A line that starts a heading must be nearly full to count as broken ("（一）…" headings are long).
_FULL_HEADING_SHARE = 0.95
Spans = tuple[tuple[int, int, int], ...]
_CJK = r"\u2e80-\u2fff\u3001-\u303f\u3040-\u9fff\uf900-\ufaff\uff01-\uff60"
_CJK_ASCII_GAP = re.compile(rf"(?<=[{_CJK}])[ \t]+(?=[0-9A-Za-z%])|(?<=[0-9A-Za-z%])[ \t]+(?=[{_CJK}])")


def layout_pages(pages: Sequence[str]) -> tuple[str, Spans]:
    r"""Lay out page texts as clean text, with the span of each page.

    Lines are stripped and blank lines dropped; page numbers and running headers/footers at page
    edges are dropped; a full-width line that does not end a sentence is joined to the next line
    unless that one starts a heading or enumeration item (also across a page break).

    Args:
        pages: The raw text of each page, in order.

    Returns:
        The text, lines joined by ``"\n"``, and ``(start, end, page)`` per page with text
        (1-based page numbers; ``text[start:end]`` is that page's share of the text).
    """
    kept = _drop_furniture([_page_lines(page) for page in pages])
    flat = [(number, line) for number, lines in enumerate(kept, 1) for line in lines]
    typical = _typical_width(line for _, line in flat)
    parts: list[str] = []
    spans: list[tuple[int, int, int]] = []
    pos, page_start = 0, 0
    for i, (number, line) in enumerate(flat):
        if i:
            sep = _separator(flat[i - 1][1], line, typical)
            if number != flat[i - 1][0]:
                spans.append((page_start, pos, flat[i - 1][0]))
                page_start = pos + len(sep)
            parts.append(sep)
            pos += len(sep)
        parts.append(line)
        pos += len(line)
    if flat:
        spans.append((page_start, pos, flat[-1][0]))
    return "".join(parts), tuple(spans)


def _page_lines(page: str) -> list[str]:
    """Split a page into stripped, non-empty lines without control characters or typesetting gaps."""
    lines = (_CONTROL.sub("", line.replace("\xad", "-")).strip() for line in page.splitlines())
    return [_CJK_ASCII_GAP.sub("", line) for line in lines if line]


def _drop_furniture(pages: list[list[str]]) -> list[list[str]]:
    """Drop page numbers and running headers/footers from the edges of each page."""
    pages = [
        [line for i, line in enumerate(lines) if not (_at_edge(i, lines) and _PAGE_NUMBER.match(line))]
        for lines in pages
    ]
    seen = Counter(
        key for lines in pages for key in {_edge_key(line) for i, line in enumerate(lines) if _at_edge(i, lines)}
    )
    threshold = max(_REPEATED_MIN_PAGES, _REPEATED_SHARE * len(pages))
    # A sentence is never a running header, however often it repeats.
    repeated = {key for key, count in seen.items() if count >= threshold and not key.endswith(_SENTENCE_END)}
    if repeated:
        logger.debug("dropping running headers/footers %s", sorted(repeated))
    return [
        [line for i, line in enumerate(lines) if not (_at_edge(i, lines) and _edge_key(line) in repeated)]
        for lines in pages
    ]


def _at_edge(i: int, lines: list[str]) -> bool:
    """Whether line ``i`` is among the first or last lines of its page."""
    return i < _EDGE_LINES or i >= len(lines) - _EDGE_LINES


def _edge_key(line: str) -> str:
    """A header/footer line with its digits masked, so "第3页" and "第4页" compare equal."""
    return re.sub(r"\d+", "#", line)


def _width(line: str) -> int:
    """Display width: 2 for wide (CJK) characters, 1 otherwise."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def _typical_width(lines: Iterable[str]) -> int:
    """The width of a full line of body text: the 90th percentile of line widths (the widest of a few)."""
    widths = sorted(_width(line) for line in lines)
    if len(widths) < _MIN_LINES_FOR_PERCENTILE:
        return widths[-1] if widths else 0
    return widths[int(0.9 * (len(widths) - 1))]


def _separator(line: str, following: str, typical: int) -> str:
    """What goes between two consecutive lines: ``"\\n"``, ``""`` (a broken sentence) or ``" "``."""
    ends_sentence = line.rstrip(_CLOSERS).endswith(_SENTENCE_END)  # "。”" ends a sentence, "》" does not
    share = _FULL_HEADING_SHARE if _HEADING_START.match(line) else _FULL_LINE_SHARE
    if ends_sentence or _width(line) < share * typical or _HEADING_START.match(following):
        return "\n"
    last, first = line[-1], following[0]
    latin = last.isascii() and first.isascii() and last.isalnum() and first.isalnum()
    return " " if latin and not (last.isdigit() and first.isdigit()) else ""
