"""Remove page chrome from scraped Chinese news and government pages, whole pieces at a time.

The cleaned text becomes ``Document.text``, which every chunk offset and citation refers to, so
cleaning never rewrites kept text: it only normalises line endings, strips each line, drops blank
lines, and removes whole pieces. A line is first cut into pieces (``ingest.runon``: at paragraph
indents, and around the byline, credit or disclaimer a run-on line carries inside), each piece is
classified on its own (``ingest.chrome``: timestamps, ``原标题``, bylines, navigation, breadcrumbs,
footers, photo captions, disclaimers, directory rows; a *paragraph* — over 60 characters, ending
a sentence — is never chrome but for a disclaimer or ``原标题``), then rules look at the page as a
whole:

* **Directory rule.** Five or more ``· 市委组织部`` lines in a row are a portal's department
  directory, repeated at the foot of every page.
* **Tail rule.** The first end-of-article marker (``上一篇``, ``相关新闻``, ``责任编辑``, ``标签``,
  a disclaimer or a footer) after the first paragraph starts the page tail; in the tail only
  paragraphs survive, so headline lists under a marker go whatever their shape.
* **Headline-list rule.** A run of short headline-like lines and timestamps (chrome between them
  is transparent) is dropped after the last paragraph when it has at least three lines, at least
  two of them dated with a numeric date (``2023-08-25``, ``[03-01]``, ``2025-01-14 ]``); anywhere
  else (a sidebar, a listing page with no article) when at least four lines, and half of the run
  or more, are dated.

Kept pieces of one line become lines of their own, so the clean text breaks lines only where the
page had a line break or an indent, or where chrome was cut out of a line.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date

from ingest.chrome import BYLINE_FIELD, DIRECTORY_ENTRY, NUMERIC_DATE, REPORTER, TIME, Kind, is_paragraph
from ingest.runon import split_run_on

logger = logging.getLogger(__name__)

# Headline-list items are at most this long; a dated item may carry a date on top.
_HEADLINE_MAX_CHARS = 60
_HEADLINE_DATE_CHARS = 20
# After the article, a headline list has at least this many lines (items and timestamps), this many dated.
_HEADLINE_LIST_MIN_LINES = 3
_HEADLINE_LIST_MIN_DATES = 2
# Anywhere else, a block of at least this many dated lines that are at least half of the block.
_HEADLINE_BLOCK_MIN_DATES = 4
# A department directory: at least this many "· 部门" lines in a row.
_DIRECTORY_MIN_LINES = 5

# A headline-list item that ends in a numeric date: "国务院召开常务会议 2024-02-23", "标题 [03-01]",
# "标题 2025-01-14 ]"; or that starts with a bracketed one: "[2025-01-14] 标题".
_DATE_MARK = rf"\s*(?:{NUMERIC_DATE}|\d{{2}}-\d{{2}})(?:\s*{TIME})?\s*"
_TRAILING_DATE = re.compile(rf"(?<![\d-])[\[［(（]?{_DATE_MARK}[\]］)）]?$|^[\[［]{_DATE_MARK}[\]］]\s*\S")
# Any date inside a byline line, for ``published``: "2023-08-25", "2024年03月01日".
_DATE_IN_TEXT = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
# The value of an "作者：" field, up to a double space, a date or the next field.
_AUTHOR_FIELD = re.compile(rf"作者\s*[:：]\s*(.+?)(?=\s{{2,}}|\s+{NUMERIC_DATE}|\s*{BYLINE_FIELD}|$)")
# The value of a "来源：" field, up to a space: "来源：市政府办公厅".
_SOURCE_FIELD = re.compile(r"(?:^|\s|[】\]])(?:信息|文章|稿件)?来源\s*[:：]\s*([^\s|｜]+)")
_DIRECTORY_LINE = re.compile(rf"^{DIRECTORY_ENTRY}$")
# End-of-article markers; the first one after the first paragraph starts the page tail.
_TAIL_MARKER = re.compile(
    r"^[【\[]?(?:上一篇|下一篇|相关阅读|相关新闻|相关链接|相关文章|相关报道|相关推荐|推荐阅读"
    r"|延伸阅读|热点推荐|热门推荐|标签)|(?:^|[\s】\]])(?:责任)?编辑\s*[:：]"
)
# Numbered article structure is never a headline-list item: "一、", "（一）", "第三条", "1."
_NUMBERED = re.compile(
    r"^(?:第[一二三四五六七八九十百零〇\d]+[章节条款部分]|[一二三四五六七八九十]+、"
    r"|[（(][一二三四五六七八九十\d]+[）)]|\d+[.、．])"
)
_HEADLINE_BAD_ENDS = ("。", "！", "？", "；", "：", ":", "，", ",", ";", "!", "?")


@dataclass(frozen=True, slots=True)
class CleanResult:
    r"""The article text of a scraped page, and what cleaning found and removed.

    Attributes:
        text: The kept lines joined with ``"\n"``, without a trailing newline.
        author: The author named by a byline line, e.g. ``"农民日报·中国农网记者 邓俐"``;
            ``""`` if none.
        published: The first date on a byline line (``发布时间：``, ``来源：… 2023-08-25``,
            ``日期：``); never from a timestamp-only line of a headline list.
        removed: The removed lines, stripped, in page order.
        source: What a byline names as the source (``来源：重庆日报`` gives ``"重庆日报"``); ``""`` if none.
    """

    text: str
    author: str
    published: date | None
    removed: tuple[str, ...]
    source: str = ""


def clean_text(raw: str) -> CleanResult:
    r"""Remove page chrome from a scraped page, keeping every article line verbatim.

    Args:
        raw: The page as plain text; ``\r\n`` and ``\r`` line endings are accepted.

    Returns:
        The kept lines, the byline's author and date, and the removed lines.
    """
    pieces = [piece for line in _split_lines(raw) for piece in split_run_on(line)]
    lines = [piece.text for piece in pieces]
    kinds = [piece.kind for piece in pieces]
    keep = _keep_mask(lines, kinds)
    kept = [line for line, k in zip(lines, keep, strict=True) if k]
    removed = tuple(line for line, k in zip(lines, keep, strict=True) if not k)
    bylines = [line for line, kind in zip(lines, kinds, strict=True) if kind == "byline"]
    logger.debug("kept %d lines, removed %d", len(kept), len(removed))
    return CleanResult(
        text="\n".join(kept),
        author=_find_author(bylines),
        published=_find_published(bylines),
        removed=removed,
        source=next((m.group(1) for line in bylines if (m := _SOURCE_FIELD.search(line))), ""),
    )


def _split_lines(raw: str) -> list[str]:
    """Normalise line endings, strip every line and drop blank lines (and a leading BOM)."""
    text = raw.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return [line.strip() for line in text.split("\n") if line.strip()]


def _keep_mask(lines: list[str], kinds: list[Kind]) -> list[bool]:
    """Decide which lines to keep: line rules, then the directory, tail and headline-list rules."""
    keep = [kind == "text" for kind in kinds]
    for i in _directory_lines(lines, kinds):
        keep[i] = False
    paragraphs = [i for i, line in enumerate(lines) if keep[i] and is_paragraph(line)]
    tail = _tail_start(lines, kinds, paragraphs[0]) if paragraphs else len(lines)
    for i in range(tail, len(lines)):
        keep[i] = keep[i] and is_paragraph(lines[i])
    for run, n_lines, n_dated in _headline_runs(lines, kinds, tail):
        after_article = bool(paragraphs) and run[0] > paragraphs[-1]
        if after_article and n_lines >= _HEADLINE_LIST_MIN_LINES and n_dated >= _HEADLINE_LIST_MIN_DATES:
            dropped = run
        elif n_dated >= _HEADLINE_BLOCK_MIN_DATES and 2 * n_dated >= n_lines:
            # A block elsewhere goes up to its last dated line: the title under a sidebar stays.
            last = max(i for i in run if _TRAILING_DATE.search(lines[i]) or kinds[i] == "timestamp")
            dropped = [i for i in run if i <= last]
        else:
            dropped = []
        for i in dropped:
            keep[i] = False
    return keep


def _tail_start(lines: list[str], kinds: list[Kind], first_paragraph: int) -> int:
    """Index of the first end-of-article marker after the first paragraph, or ``len(lines)``."""
    for i in range(first_paragraph + 1, len(lines)):
        if kinds[i] in ("disclaimer", "footer"):
            return i
        if kinds[i] != "text" and _TAIL_MARKER.search(lines[i]):
            return i
    return len(lines)


def _is_headline(line: str) -> bool:
    """Whether an article-text line could be an item of a headline list."""
    limit = _HEADLINE_MAX_CHARS + (_HEADLINE_DATE_CHARS if _TRAILING_DATE.search(line) else 0)
    if len(line) > limit or line.endswith(_HEADLINE_BAD_ENDS):
        return False
    return not _NUMBERED.match(line)


def _headline_runs(lines: list[str], kinds: list[Kind], tail: int) -> list[tuple[list[int], int, int]]:
    """Every run of headline-like lines: ``(item indices, lines with timestamps, dated lines)``.

    After the article, a run is a headline list when it has at least three lines, two of them
    dated; anywhere else (and on a page without a paragraph, a listing page) when at least four
    lines, half of it or more, are dated. Chrome lines are transparent, so removing them cannot
    join two runs on a second pass; timestamp lines count towards a run's size and dates. The
    start of the page tail ends a run (a signature above 相关文章 is no item of the list under it).
    """
    runs: list[tuple[list[int], int, int]] = []
    run: list[int] = []
    n_timestamps = 0
    for i in range(len(lines) + 1):
        ends_run = i in (tail, len(lines))
        kind = "text" if ends_run else kinds[i]
        if kind == "timestamp":
            n_timestamps += 1
        elif kind == "text" and not ends_run and _is_headline(lines[i]):
            run.append(i)
        elif kind == "text":
            if run:
                n_dated = n_timestamps + sum(bool(_TRAILING_DATE.search(lines[j])) for j in run)
                runs.append((run, len(run) + n_timestamps, n_dated))
            run, n_timestamps = [], 0
    return runs


def _directory_lines(lines: list[str], kinds: list[Kind]) -> list[int]:
    """The lines of a portal's department directory: five or more ``· 部门`` lines in a row.

    Chrome lines (a row of several entries is one) are transparent, as in the headline-list rule.
    """
    dropped: list[int] = []
    run: list[int] = []
    for i in range(len(lines) + 1):
        kind = kinds[i] if i < len(lines) else "text"
        if kind == "text" and i < len(lines) and _DIRECTORY_LINE.match(lines[i]):
            run.append(i)
        elif kind == "text":
            dropped.extend(run if len(run) >= _DIRECTORY_MIN_LINES else [])
            run = []
    return dropped


def _find_author(bylines: list[str]) -> str:
    """Return the author named by the first byline that names one, or ``""``."""
    for line in bylines:
        field = _AUTHOR_FIELD.search(line)
        if field:
            return field.group(1).strip()
        if REPORTER.match(line):
            return line.strip("（）() ")
    return ""


def _find_published(bylines: list[str]) -> date | None:
    """Return the first valid date on a byline line, or ``None``."""
    for line in bylines:
        for match in _DATE_IN_TEXT.finditer(line):
            year, month, day = (int(group) for group in match.groups())
            try:
                return date(year, month, day)
            except ValueError:
                logger.debug("skipping impossible date %r in byline %r", match.group(0), line)
    return None
