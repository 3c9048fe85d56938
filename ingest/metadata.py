"""Read the metadata a Chinese policy document carries in its own text: title, 文号, issuer, date.

A 公文 puts them in fixed places (GB/T 9704-2012): the 版头 holds the masthead (``国务院文件``) and the 发文字号
(``国发〔2021〕1号``) on its own line; then comes the title (``国务院关于…的通知``, often wrapped over two lines),
the body, and the signature block: the issuing organs, one per line, then the 成文日期 (``2021年1月4日``).
Web pages add fields (``成文日期：…``); reports carry a date note under the title (``——2025年1月19日在…会议上``).
A news-style notice has a headline glued to its lead instead (``ingest.lead``): the organ the lead names
(``记者从…获悉``, ``…近日印发``) or the byline's ``来源`` is its issuer, a dated dateline its date.
Only those places are read, so a 文号 or a date the body mentions is never taken for the document's own.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date

from ingest.dates import DATE, match_date, parse_chinese_date
from ingest.doc_number import DOC_NUMBER, canonical_doc_number, normalize_doc_number
from ingest.lead import looks_like_file_id, read_lead

logger = logging.getLogger(__name__)

_CJK = "\u4e00-\u9fff"
# 公文 types a title ends with, optionally followed by a note such as "（试行）" or "（摘要）".
_TITLE_END = re.compile(
    r"(?:通知|通报|通告|公告|公报|意见|决定|决议|办法|规定|方案|报告|批复|复函|函|条例|细则|规则|规划|纲要"
    r"|计划|要点|指引|指南|措施|命令|令|请示|纪要|章程|目录|清单|報告|意見|決定|決議|辦法|規定|條例)"
    r"(?:[（(][^（）()]{1,20}[）)])?$"
)
# A 关于…的通知 line near the top is the title, whatever stands above it.
_DOC_TITLE = re.compile(r"^关于.{2,60}(?:通知|意见|决定|办法|规定|方案|批复|报告|函|公告|通告|细则|规划|纲要)$")
_GUESS_LINES = 10
_GUESS_BAD_ENDS = ("。", "！", "？", "；", "，", ".", "!", "?", ";", ",")
_SENTENCE_PUNCT = re.compile(r"[。！？；!?;]")
_MEDIA = re.compile(r"(?:报|网|社|台|端|刊|杂志)$|新闻")
_ORGAN_END = re.compile(r"(?:[院部委厅局办署府会室行社团组所司处馆站队]|中央|会议|大学|公司|集团)$")
# Lines that are never the title: masthead, field, date-note and 密级/紧急程度/签发人 lines.
_HEADER_CHROME = re.compile(rf"^(?:[-—－–―~]{{2}}|[{_CJK}]{{1,8}}\s*[:：]|★|绝密|机密|秘密|特急|加急)|签发人")
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_PAGE_NUMBER = re.compile(r"^[-—－–―~\s]*(?:第\s*)?\d{1,4}\s*页?(?:\s*[/共]\s*\d{1,4}\s*页?)?[-—－–―~\s]*$")
_NUMBER_LINE_REST = re.compile(r"[\s（）()\[\]【】〔〕,，。.]*(?:签发人\s*[:：].*)?")
_HINT_JUNK = re.compile(r"^microsoft\s+word\s*-\s*|\.(?:docx?|pdf|wps|txt|ofd|html?)$", re.IGNORECASE)

_HEADER_LINES = 15  # the 版头 (masthead, 文号, title) ends by then, or at the first body line before that
_FIELD_HEAD_LINES, _FIELD_TAIL_LINES = 30, 10  # field tables at the top; the 版记 (印发日期) at the end
_TAIL_LINES = 8  # a date alone this close to the end is the signing date even without an organ above
_MAX_TITLE_CHARS, _MAX_SHORT_TITLE_CHARS, _MAX_TITLE_PARTS = 100, 60, 3
_MAX_SIGNATURE_ORGANS = 6
_NOTE_LINES, _NOTE_MAX_CHARS = 4, 80  # a date note stands this close under the title, this short
_LEAD_LINES = 2  # a lead is read from the title's line and the next (cleaning may cut between them)


@dataclass(frozen=True, slots=True)
class PolicyMetadata:
    """What a policy document says about itself.

    Attributes:
        title: The document's title; ``""`` when none is found.
        doc_number: The 文号 in canonical form (``"国发〔2021〕1号"``); ``None`` when the document
            has none of its own (a 文号 cited in the body does not count).
        issuer: The 发文机关, several joined with one space (``"财政部 税务总局"``); ``""`` when none.
        published: The 成文日期 or 发布日期; never a date mentioned in the body.
    """

    title: str
    doc_number: str | None
    issuer: str
    published: date | None


def guess_title(text: str, declared: str = "") -> str:
    """The title a reader can tell: the one its format declares, else a guess from the text's top.

    Args:
        text: The document's clean text.
        declared: A Markdown heading, an HTML ``<title>``, a PDF or docx Title property; ignored
            when it is a file hash or a number.

    Returns:
        ``declared``; else a ``关于…的通知`` line near the top; else the first line that is no
        masthead or 文号, when short and no sentence; else the headline a run-on first line starts
        with; else ``""``.
    """
    if declared and not looks_like_file_id(declared):
        return declared
    lines = text.split("\n", _GUESS_LINES)[:_GUESS_LINES]
    official = next((line for line in lines if _DOC_TITLE.match(line)), "")
    first = next((line for line in lines if not _is_masthead(line)), "")
    if official or (len(first) <= _MAX_SHORT_TITLE_CHARS and not first.endswith(_GUESS_BAD_ENDS)):
        return "" if looks_like_file_id(official or first) else official or first
    return read_lead(first).headline


def extract_metadata(text: str, title_hint: str = "", source: str = "") -> PolicyMetadata:
    """Read a policy document's title, 文号, issuer and date from its text.

    Args:
        text: The document's clean text, one paragraph (or PDF line) per line.
        title_hint: A title from the file format (PDF or docx properties, a file name); used when
            it looks like a title, ignored otherwise (a file hash, a number, a masthead).
        source: The ``来源：`` of the page's byline, which cleaning removed; when it is an organ
            (``宁波市人力资源和社会保障局``, not ``贵阳日报``) it is the issuer if the text names none.

    Returns:
        The metadata; fields the text does not carry are ``""`` or ``None``.
    """
    lines = _lines(text)
    fields = _fields(lines)
    # The 版头 ends at the first body line: a salutation ("各位代表：") or a sentence.
    head = lines[:_HEADER_LINES]
    body = (
        i for i, line in enumerate(head) if line.endswith(("：", ":")) or not _is_titleish(line, _MAX_TITLE_CHARS, 0)
    )
    header_end = next(body, len(head))
    title, title_end = _title(lines[:header_end], title_hint, fields.get("标题", ""))
    # A news-style notice: the headline its first line starts with (without a dateline glued to it),
    # the organ and the date its lead names.
    start = max(title_end, 0)
    lead = read_lead(" ".join(lines[start : start + _LEAD_LINES]), "\n".join(lines[start + _LEAD_LINES :]))
    if not title or (lead.headline and title.startswith(lead.headline)):
        title = lead.headline or title
    organs, signed = _signature(lines)
    issuer = organs or _organs(fields.get("发文机关", "")) or _header_issuer(lines, title)
    issuer = issuer or _source_organ(source) or lead.issuer
    published = signed or _field_date(lines, fields) or _note_date(lines, title_end) or lead.published
    return PolicyMetadata(title, _doc_number(lines[:header_end], fields), issuer, published)


def _lines(text: str) -> list[str]:
    """The stripped non-empty lines, without page numbers ("— 5 —")."""
    stripped = (line.strip().strip(_ZERO_WIDTH).strip() for line in text.splitlines())
    return [line for line in stripped if line and not _PAGE_NUMBER.match(line)]


def _unspace(line: str) -> str:
    """Undo PDF letter-spacing ("国 务 院" -> "国务院"); a line of longer words keeps its spaces."""
    parts = line.split()
    return "".join(parts) if len(parts) > 1 and all(len(p) == 1 for p in parts) else " ".join(parts)


def _organs(line: str) -> str:
    """The issuing organs a line names, space-joined ("财政部、税务总局" -> "财政部 税务总局"), else ``""``."""
    parts = [p for p in re.split(r"[\s、，,]+", _unspace(line)) if p]
    ok = parts and all(re.fullmatch(rf"[{_CJK}]{{2,30}}", p) and _ORGAN_END.search(p) for p in parts)
    return " ".join(parts) if ok else ""


def _fields(lines: list[str]) -> dict[str, str]:
    """Labelled fields of a page's table ("发文字号：国发〔2021〕1号"), first value per label."""
    found: dict[str, str] = {}
    labels = "标题|发文机关|发文字号|文号|成文日期|印发日期|发布日期|发布时间"
    pattern = re.compile(rf"(?:^|\s)({labels})\s*[:：]\s*(.+?)(?=\s+[{_CJK}]{{2,6}}\s*[:：]|$)")
    for line in lines[:_FIELD_HEAD_LINES] + lines[-_FIELD_TAIL_LINES:]:
        for label, value in pattern.findall(line):
            found.setdefault(label, value.strip())
    return found


def _doc_number(lines: list[str], fields: dict[str, str]) -> str | None:
    """The document's own 文号: a field, else one standing on its own line in the 版头 ``lines``."""
    for label in ("发文字号", "文号"):
        if number := normalize_doc_number(fields.get(label, "")):
            return number
    for line in lines:
        m = DOC_NUMBER.search(line)
        if m and _is_number_line(line, m):
            return canonical_doc_number(m)
    return None


def _is_number_line(line: str, m: re.Match[str] | None) -> bool:
    """A 文号 alone on its line, maybe bracketed, maybe followed by 签发人."""
    return bool(m and _NUMBER_LINE_REST.fullmatch(line[: m.start()] + line[m.end() :]))


def _title(lines: list[str], hint: str, field: str) -> tuple[str, int]:
    """The title and the index of its last line in the 版头 ``lines`` (-1 if from the hint or a field)."""
    for candidate in (" ".join(_HINT_JUNK.sub("", c.strip()).split()) for c in (hint, field)):
        # Never a file hash or number, nor a masthead ("国务院文件") a reader took for the title.
        usable = not (looks_like_file_id(candidate) or _is_masthead(candidate) or candidate.endswith(("：", ":")))
        if usable and _is_titleish(candidate, _MAX_TITLE_CHARS):
            return candidate, -1
    zone = [i for i, line in enumerate(lines) if not _is_header_chrome(line)]
    for i in zone:
        if _is_titleish(lines[i], _MAX_TITLE_CHARS) and (_TITLE_END.search(lines[i]) or "关于" in lines[i]):
            return _join_title(lines, i)
    for i in zone:
        if _is_titleish(lines[i], _MAX_SHORT_TITLE_CHARS):
            return _unspace(lines[i]), i
    return "", -1


def _is_masthead(line: str) -> bool:
    """A masthead (``国务院文件``), a 文号 or a date: never a title, not even as a hint."""
    masthead = "文件" in line and "关于" not in line and not _TITLE_END.search(line)
    date_note = DATE.match(line.lstrip("（( "))
    return bool(masthead or date_note or _is_number_line(line, DOC_NUMBER.search(line)))


def _is_header_chrome(line: str) -> bool:
    """Whether a line of the 版头 is never the title: a masthead, a 文号, a date, a field (``签发人：``)."""
    return bool(_HEADER_CHROME.search(line) or _is_masthead(line))


def _is_titleish(line: str, max_chars: int, min_cjk: int = 2) -> bool:
    short = len(re.findall(f"[{_CJK}]", line)) >= min_cjk and len(line) <= max_chars
    return short and not _SENTENCE_PUNCT.search(line) and not line.endswith(("，", "、"))


def _join_title(lines: list[str], i: int) -> tuple[str, int]:
    """Join a title wrapped over up to three of the 版头 ``lines``, around line ``i``."""
    start = i
    before = lines[i - 1] if i > 0 else ""
    joins_before = _is_titleish(before, _MAX_SHORT_TITLE_CHARS) and not _TITLE_END.search(before)
    if lines[i].startswith("关于") and joins_before and not _is_header_chrome(before):
        start = i - 1
    title, j = "".join(lines[start : i + 1]), i
    while j + 1 < len(lines) and j + 1 - start < _MAX_TITLE_PARTS:
        nxt = lines[j + 1]
        if _is_header_chrome(nxt) or not _is_titleish(nxt, _MAX_SHORT_TITLE_CHARS, min_cjk=1):
            break
        if _TITLE_END.search(title) and not nxt.startswith("的"):
            break
        title, j = title + nxt, j + 1
    return _unspace(title), j


def _signature(lines: list[str]) -> tuple[str, date | None]:
    """The signature block: organ lines above the last date line; or a lone date at the very end."""
    for i in range(len(lines) - 1, 0, -1):
        signed = parse_chinese_date(lines[i])
        if signed is None:
            continue
        organs: list[str] = []
        j = i - 1
        while j >= 0 and len(organs) < _MAX_SIGNATURE_ORGANS and (organ := _organs(lines[j])):
            organs.insert(0, organ)
            j -= 1
        if organs:
            return " ".join(organs), signed
    for line in reversed(lines[-_TAIL_LINES:]):
        if (signed := parse_chinese_date(line)) is not None:
            return "", signed
    return "", None


def _source_organ(source: str) -> str:
    """The organ a byline's 来源 names; ``""`` for a newspaper, site or agency (``贵阳日报``, ``新华社``)."""
    return "" if _MEDIA.search(source) else _organs(source)


def _header_issuer(lines: list[str], title: str) -> str:
    """From the title ("国务院关于…", "国务院办公厅转发…关于…") or the masthead ("国务院文件")."""
    if "关于" in title and (organs := _organs(re.split(r"转发|批转|印发", title.split("关于", 1)[0])[0])):
        return organs
    mastheads = (_unspace(line) for line in lines[:3])
    return next((organs for m in mastheads if m.endswith("文件") and (organs := _organs(m[:-2]))), "")


def _field_date(lines: list[str], fields: dict[str, str]) -> date | None:
    """成文日期, else 印发日期 (a field or a 版记 line "…办公厅 2021年1月5日印发"), else 发布日期."""
    tail = lines[-_FIELD_TAIL_LINES:]
    printed = [line[m.start() :] for line in tail if line.endswith("印发") and (m := DATE.search(line))]
    values = [fields.get("成文日期", ""), fields.get("印发日期", ""), *printed]
    values += [fields.get("发布日期", ""), fields.get("发布时间", "")]
    for value in values:
        m = DATE.match(value)
        if m and (found := match_date(m)):
            return found
    return None


def _note_date(lines: list[str], title_end: int) -> date | None:
    """A date note under the title: "——2025年1月19日在…会议上", "（2023年3月13日…通过）", "2025年…在…会议上"."""
    for line in lines[title_end + 1 : title_end + 1 + _NOTE_LINES]:
        s = line.lstrip("-—－–―~ （(")
        m = DATE.match(s)
        marked = s != line or re.search("在.*[会會][议議]", s)
        if m and marked and len(line) <= _NOTE_MAX_CHARS:
            return match_date(m)
    return None
