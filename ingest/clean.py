"""Remove page chrome from scraped Chinese news and government pages, whole lines at a time.

The cleaned text becomes ``Document.text``, which every chunk offset and citation refers to, so
cleaning never rewrites a kept line: it only normalises line endings, strips each line, drops
blank lines, and removes whole lines. Each line is classified on its own, then two rules look at
the page as a whole:

* **Line rules.** Timestamp-only lines, ``原标题：`` lines, bylines (``作者：``, ``记者 …``,
  ``发布时间：…  来源：…``), navigation words at line start (``上一篇``, ``分享到``, ``【字号``…),
  breadcrumbs (``首页 > 政策 > 最新``), site footers (``版权所有``, ``ICP备``), photo captions
  (``(资料图片仅供参考)``, ``图为…``) and reprint disclaimers are chrome.
* **Paragraph guard.** A *paragraph* (more than 60 characters, ending in ``。！？”``) is never
  chrome unless it is a disclaimer or an ``原标题`` line: an article must not lose a real paragraph.
* **Tail rule.** The first end-of-article marker (``上一篇``, ``相关新闻``, ``责任编辑``, ``标签``,
  a disclaimer or a footer) after the first paragraph starts the page tail; in the tail only
  paragraphs survive, so headline lists under a marker go whatever their shape.
* **Headline-list rule.** After the last paragraph, a run of short headline-like lines and
  timestamps (chrome between them is transparent) is dropped when it has at least three lines,
  at least two of them dated with a numeric date (``2023-08-25``, ``[03-01]``).

A ``年月日`` date alone on a line (``2024年3月1日``) is kept: it is how a government document is
signed. Only a numeric date, or a ``年月日`` date with a time of day, makes a timestamp line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal

logger = logging.getLogger(__name__)

_Kind = Literal[
    "text",
    "timestamp",
    "original_title",
    "byline",
    "nav",
    "breadcrumb",
    "footer",
    "photo",
    "disclaimer",
]

# A paragraph is longer than this and ends a sentence; see the paragraph guard above.
_PARAGRAPH_MIN_CHARS = 60
# "…" is left out: it ends the truncated teasers of related-news lists.
_SENTENCE_ENDS = ("。", "！", "？", "!", "?", "”", '"')
# Headline-list items are at most this long; a dated item may carry a date on top.
_HEADLINE_MAX_CHARS = 60
_HEADLINE_DATE_CHARS = 20
# A headline list has at least this many lines (items and timestamps), this many of them dated.
_HEADLINE_LIST_MIN_LINES = 3
_HEADLINE_LIST_MIN_DATES = 2
# Breadcrumb parts are short; without a leading 首页 a trail needs three parts ("a > b > c").
_BREADCRUMB_PART_MAX_CHARS = 20
_BREADCRUMB_MIN_PARTS = 3

_TIME = r"\d{1,2}:\d{2}(?::\d{2})?"
_NUMERIC_DATE = r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
# Timestamp-only lines: "2023-08-25 17:01", "2023/08/25", "[2023.8.25]", "2023年8月25日 17:01:05",
# "08-25 17:01". A bare "2023年8月25日" is not one (a document's signing date).
_TIMESTAMP = re.compile(
    rf"^[\[［(（]?(?:{_NUMERIC_DATE}(?:\s*{_TIME})?|\d{{4}}年\d{{1,2}}月\d{{1,2}}日\s*{_TIME}"
    rf"|\d{{1,2}}-\d{{1,2}}\s+{_TIME})[\]］)）]?$"
)
# A headline-list item that ends in a numeric date: "国务院召开常务会议 2024-02-23", "标题 [03-01]".
_TRAILING_DATE = re.compile(rf"(?<![\d-])[\[［(（]?(?:{_NUMERIC_DATE}|\d{{2}}-\d{{2}})(?:\s*{_TIME})?[\]］)）]?$")
# Any date inside a byline line, for ``published``: "2023-08-25", "2024年03月01日".
_DATE_IN_TEXT = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
# The reprinted headline a site keeps under its own: "原标题：…".
_ORIGINAL_TITLE = re.compile(r"^[【\[]?原标题\s*[:：]")
# Byline fields: "发布时间：2024-03-01 10:00  来源：国务院办公厅", "2023-08-25 来源：新华社", "作者：…".
# "时间：" alone is left out: in a meeting notice it is article text.
_BYLINE_FIELD = (
    r"(?:发布时间|发布日期|更新时间|日期|来源|信息来源|文章来源|稿件来源|作者|责任编辑|编辑"
    r"|浏览次数|阅读次数|点击数|点击量|访问量)\s*[:：]"
)
_BYLINE = re.compile(rf"^(?:{_NUMERIC_DATE}(?:\s*{_TIME})?\s*)?{_BYLINE_FIELD}")
# Reporter lines: "记者 邓俐", "本报记者 张三 通讯员 李四", "（记者 王五）"; not "记者从…获悉，…",
# nor a photo credit "（记者 张三 摄）".
_REPORTER = re.compile(
    r"^(?!.*摄[）)]?$)[（(]?(?:本报|本刊|本网|新华社)?(?:特约)?(?:记者|通讯员)[\s:：]*[^，。；！？,;!?]{1,30}[）)]?$"
)
# The value of an "作者：" field, up to a double space, a date or the next field.
_AUTHOR_FIELD = re.compile(rf"作者\s*[:：]\s*(.+?)(?=\s{{2,}}|\s+{_NUMERIC_DATE}|\s*{_BYLINE_FIELD}|$)")
# Navigation words that open a line whatever follows: "上一篇：…", "分享到：微信",
# "【字号：大 中 小】", "扫一扫在手机打开当前页", "【我要纠错】".
_NAV_OPEN = re.compile(
    r"^[【\[]?(?:上一篇|下一篇|相关阅读|相关新闻|相关链接|相关文章|相关报道|相关推荐|推荐阅读"
    r"|延伸阅读|热点推荐|热门推荐|分享到|分享[:：]|扫一扫|返回顶部|关闭窗口|关闭本页|网站地图|字号|我要纠错|纠错)"
)
# Navigation words that are chrome only as whole words: "标签：", "打印本页 关闭窗口", "【打印】",
# "联系我们 | 网站地图", "首页"; but "联系我们的群众…" is text.
_NAV_WORD = re.compile(
    r"^[【\[]?(?:标签|打印|关闭|联系我们|首页|返回)(?:本页|此页|文章|窗口|页面)?"
    r"(?:$|[\s:：|｜丨/【】\[\]])"
)
# Breadcrumb separators: "首页 > 政策 > 最新", "当前位置：首页>>新闻", "新华网 » 时政 » 正文".
_BREADCRUMB_SEP = re.compile(r"\s*(?:>>?|＞＞?|»|›)\s*")
_BREADCRUMB_HOME = re.compile(r"^(?:(?:当前位置|您的位置|您现在的位置)\s*[:：]?\s*)?(?:网站)?首页$")
# Site footers: "版权所有：中国政府网", "Copyright © 2024", "京ICP备05070218号", "京公网安备…";
# not "版权所有人/者/权" in a sentence about copyright.
_FOOTER = re.compile(r"版权所有(?![人者权])|copyright|©|ICP[备证]|公网安备|网站标识码", re.IGNORECASE)
# Photo captions and placeholders: "(资料图片仅供参考)", "（图片来源：视觉中国）",
# "（图为会场。张三 摄）", "图为…", "图片来源：…", "记者 张三 摄". "（此件公开发布）" has no 图/摄 and stays.
_PHOTO = re.compile(
    r"^(?:[（(【\[][^（）()【】\[\]]*(?:图|摄|照片|视频)[^（）()【】\[\]]*[）)】\]]"
    r"|图为.*|(?:图片来源|图源|摄影)\s*[:：].*|[^，。；！？]{1,30}\s摄)$"
)
# Reprint and copyright disclaimers: "凡本网注明…均转载自其它媒体…不代表本网赞同其观点…",
# "如有侵权请联系删除", "转载请注明出处", "声明：该文观点仅代表作者本人，…仅提供信息存储空间服务".
_DISCLAIMER = re.compile(
    r"凡本(?:网|站)注明|转载自其[它他]|不代表本(?:网|站|平台)|如有侵权|如涉及(?:作品内容、)?版权"
    r"|本文来源|转载请注明|版权归原作者|免责声明|联系删除|仅代表作者(?:本人)?观点"
    r"|观点仅代表作者|仅提供信息存储空间"
)
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
    """

    text: str
    author: str
    published: date | None
    removed: tuple[str, ...]


def clean_text(raw: str) -> CleanResult:
    r"""Remove page chrome from a scraped page, keeping every article line verbatim.

    Args:
        raw: The page as plain text; ``\r\n`` and ``\r`` line endings are accepted.

    Returns:
        The kept lines, the byline's author and date, and the removed lines.
    """
    lines = _split_lines(raw)
    kinds = [_classify(line) for line in lines]
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
    )


def _split_lines(raw: str) -> list[str]:
    """Normalise line endings, strip every line and drop blank lines (and a leading BOM)."""
    text = raw.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return [line.strip() for line in text.split("\n") if line.strip()]


def _is_paragraph(line: str) -> bool:
    """Whether a line is a real paragraph: long and ending a sentence."""
    return len(line) > _PARAGRAPH_MIN_CHARS and line.endswith(_SENTENCE_ENDS)


def _is_breadcrumb(line: str) -> bool:
    """Whether a line is a breadcrumb trail of short parts joined by ``>``, ``>>`` or ``»``."""
    parts = _BREADCRUMB_SEP.split(line)
    if len(parts) == 1 or any(len(part) > _BREADCRUMB_PART_MAX_CHARS for part in parts):
        return False
    return len(parts) >= _BREADCRUMB_MIN_PARTS or bool(_BREADCRUMB_HOME.match(parts[0]))


# The line rules that the paragraph guard overrides, in order; the first match names the kind.
_GUARDED_RULES: tuple[tuple[_Kind, Callable[[str], object]], ...] = (
    ("timestamp", _TIMESTAMP.match),
    ("byline", lambda line: _BYLINE.match(line) or _REPORTER.match(line)),
    ("nav", lambda line: _NAV_OPEN.match(line) or _NAV_WORD.match(line)),
    ("breadcrumb", _is_breadcrumb),
    ("footer", _FOOTER.search),
    ("photo", _PHOTO.match),
)


def _classify(line: str) -> _Kind:
    """Classify one stripped line on its own; ``"text"`` means article text."""
    if _DISCLAIMER.search(line):
        return "disclaimer"
    if _ORIGINAL_TITLE.match(line):
        return "original_title"
    if _is_paragraph(line):
        return "text"
    return next((kind for kind, rule in _GUARDED_RULES if rule(line)), "text")


def _keep_mask(lines: list[str], kinds: list[_Kind]) -> list[bool]:
    """Decide which lines to keep: line rules, then the tail rule and the headline-list rule."""
    keep = [kind == "text" for kind in kinds]
    paragraphs = [i for i, line in enumerate(lines) if keep[i] and _is_paragraph(line)]
    if not paragraphs:
        return keep
    tail = _tail_start(lines, kinds, paragraphs[0])
    for i in range(tail, len(lines)):
        keep[i] = keep[i] and _is_paragraph(lines[i])
    for i in _headline_list_lines(lines, kinds, paragraphs[-1] + 1):
        keep[i] = False
    return keep


def _tail_start(lines: list[str], kinds: list[_Kind], first_paragraph: int) -> int:
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


def _headline_list_lines(lines: list[str], kinds: list[_Kind], start: int) -> list[int]:
    """Return the headline-list items from ``start`` on (see the headline-list rule) as indices.

    Chrome lines are transparent, so removing them cannot join two runs on a second pass;
    timestamp lines count towards a run's size and dates.
    """
    dropped: list[int] = []
    run: list[int] = []
    n_timestamps = 0
    for i in range(start, len(lines) + 1):
        kind = kinds[i] if i < len(lines) else "text"
        if kind == "timestamp":
            n_timestamps += 1
        elif kind == "text" and i < len(lines) and _is_headline(lines[i]):
            run.append(i)
        elif kind == "text":
            n_dated = n_timestamps + sum(bool(_TRAILING_DATE.search(lines[j])) for j in run)
            if len(run) + n_timestamps >= _HEADLINE_LIST_MIN_LINES and n_dated >= _HEADLINE_LIST_MIN_DATES:
                dropped.extend(run)
            run, n_timestamps = [], 0
    return dropped


def _find_author(bylines: list[str]) -> str:
    """Return the author named by the first byline that names one, or ``""``."""
    for line in bylines:
        field = _AUTHOR_FIELD.search(line)
        if field:
            return field.group(1).strip()
        if _REPORTER.match(line):
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
