"""What a line of page chrome looks like: the patterns and the line classifier that cleaning uses.

``classify`` looks at one line on its own; ``ingest.clean`` then applies the rules that look at the
page as a whole, and ``ingest.runon`` finds the same chrome inside a run-on line.

* **Line rules.** Timestamp-only lines, ``原标题：`` lines, bylines (``作者：``, ``记者 …``,
  ``发布时间：…  来源：…``), navigation words at line start (``上一篇``, ``分享到``, ``【字号``…),
  breadcrumbs (``首页 > 政策 > 最新``), site footers (``版权所有``, ``ICP备``), photo captions
  (``(资料图片仅供参考)``, ``图为…``), reprint disclaimers and rows of a portal's department
  directory (``· 市委组织部 · 市委宣传部 · …``) are chrome.
* **Paragraph guard.** A *paragraph* (more than 60 characters, ending in ``。！？”``) is never
  chrome unless it is a disclaimer or an ``原标题`` line: an article must not lose a real paragraph.

A ``年月日`` date alone on a line (``2024年3月1日``) is kept: it is how a government document is
signed. Only a numeric date, or a ``年月日`` date with a time of day, makes a timestamp line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

Kind = Literal[
    "text",
    "timestamp",
    "original_title",
    "byline",
    "nav",
    "breadcrumb",
    "footer",
    "photo",
    "disclaimer",
    "directory",
]

# A paragraph is longer than this and ends a sentence; see the paragraph guard above.
PARAGRAPH_MIN_CHARS = 60
# "…" is left out: it ends the truncated teasers of related-news lists.
_SENTENCE_ENDS = ("。", "！", "？", "!", "?", "”", '"')
# Breadcrumb parts are short; without a leading 首页 a trail needs three parts ("a > b > c").
_BREADCRUMB_PART_MAX_CHARS = 20
_BREADCRUMB_MIN_PARTS = 3
# An entry of a portal's department directory: "· 市委组织部", "•市林业园林局"; short, no sentence.
DIRECTORY_ENTRY = r"[·•]\s*[^\s·•，。；！？,;!?]{1,20}"
_DIRECTORY_ROW = re.compile(rf"^(?:{DIRECTORY_ENTRY}\s*){{3,}}$")

TIME = r"\d{1,2}:\d{2}(?::\d{2})?"
NUMERIC_DATE = r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
# Timestamp-only lines: "2023-08-25 17:01", "2023/08/25", "[2023.8.25]", "2025-01-14 ]",
# "2023年8月25日 17:01:05", "08-25 17:01". A bare "2023年8月25日" is not one (a document's signing date).
TIMESTAMP = re.compile(
    rf"^[\[［(（]?\s*(?:{NUMERIC_DATE}(?:\s*{TIME})?|\d{{4}}年\d{{1,2}}月\d{{1,2}}日\s*{TIME}"
    rf"|\d{{1,2}}-\d{{1,2}}\s+{TIME})\s*[\]］)）]?$"
)
# The reprinted headline a site keeps under its own: "原标题：…".
ORIGINAL_TITLE = re.compile(r"^[【\[]?原标题\s*[:：]")
# Byline fields: "发布时间：2024-03-01 10:00  来源：国务院办公厅", "2023-08-25 来源：新华社", "作者：…".
# "时间：" alone is left out: in a meeting notice it is article text.
BYLINE_FIELD = (
    r"(?:发布时间|发布日期|更新时间|日期|来源|信息来源|文章来源|稿件来源|作者|责任编辑|编辑"
    r"|浏览次数|阅读次数|点击数|点击量|访问量)\s*[:：]"
)
BYLINE = re.compile(rf"^(?:{NUMERIC_DATE}(?:\s*{TIME})?\s*)?{BYLINE_FIELD}")
# Reporter lines: "记者 邓俐", "本报记者 张三 通讯员 李四", "（记者 王五）"; not "记者从…获悉，…",
# nor a photo credit "（记者 张三 摄）".
REPORTER = re.compile(
    r"^(?!.*摄[）)]?$)[（(]?(?:本报|本刊|本网|新华社)?(?:特约)?(?:记者|通讯员)[\s:：]*[^，。；！？,;!?]{1,30}[）)]?$"
)
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
FOOTER = re.compile(r"版权所有(?![人者权])|copyright|©|ICP[备证]|公网安备|网站标识码", re.IGNORECASE)
# Photo captions and placeholders: "(资料图片仅供参考)", "（图片来源：视觉中国）",
# "（图为会场。张三 摄）", "图为…", "图片来源：…", "记者 张三 摄". "（此件公开发布）" has no 图/摄 and stays.
PHOTO = re.compile(
    r"^(?:[（(【\[][^（）()【】\[\]]*(?:图|摄|照片|视频)[^（）()【】\[\]]*[）)】\]]"
    r"|图为.*|(?:图片来源|图源|摄影)\s*[:：].*|[^，。；！？]{1,30}\s摄)$"
)
# Reprint and copyright disclaimers: "凡本网注明…均转载自其它媒体…不代表本网赞同其观点…",
# "如有侵权请联系删除", "转载请注明出处", "声明：该文观点仅代表作者本人，…仅提供信息存储空间服务".
DISCLAIMER = re.compile(
    r"凡本(?:网|站)注明|转载自其[它他]|不代表本(?:网|站|平台)|如有侵权|如涉及(?:作品内容、)?版权"
    r"|本文来源|转载请注明|版权归原作者|免责声明|联系删除|仅代表作者(?:本人)?观点"
    r"|观点仅代表作者|仅提供信息存储空间"
)


def is_paragraph(line: str) -> bool:
    """Whether a line is a real paragraph: long and ending a sentence."""
    return len(line) > PARAGRAPH_MIN_CHARS and line.endswith(_SENTENCE_ENDS)


def _is_breadcrumb(line: str) -> bool:
    """Whether a line is a breadcrumb trail of short parts joined by ``>``, ``>>`` or ``»``."""
    parts = _BREADCRUMB_SEP.split(line)
    if len(parts) == 1 or any(len(part) > _BREADCRUMB_PART_MAX_CHARS for part in parts):
        return False
    return len(parts) >= _BREADCRUMB_MIN_PARTS or bool(_BREADCRUMB_HOME.match(parts[0]))


# The line rules that the paragraph guard overrides, in order; the first match names the kind.
_GUARDED_RULES: tuple[tuple[Kind, Callable[[str], object]], ...] = (
    ("timestamp", TIMESTAMP.match),
    ("byline", lambda line: BYLINE.match(line) or REPORTER.match(line)),
    ("nav", lambda line: _NAV_OPEN.match(line) or _NAV_WORD.match(line)),
    ("breadcrumb", _is_breadcrumb),
    ("footer", FOOTER.search),
    ("photo", PHOTO.match),
    ("directory", _DIRECTORY_ROW.match),
)


def classify(line: str) -> Kind:
    """Classify one stripped line on its own; ``"text"`` means article text."""
    if DISCLAIMER.search(line):
        return "disclaimer"
    if ORIGINAL_TITLE.match(line):
        return "original_title"
    if is_paragraph(line):
        return "text"
    return next((kind for kind, rule in _GUARDED_RULES if rule(line)), "text")
