"""Read the start of a news-style notice: its headline, dateline, the organ its lead names, and a date.

Scraped notices often come as one run-on line, the headline glued to the lead:
``2月申报纳税期限延长至2月24日 重庆倡导"非接触式"办理税费业务 今（30）日，华龙网-新重庆客户端记者从
国家税务总局重庆市税务局获悉，……``. The headline ends where the lead starts: at a dateline
(``本报讯``, ``新华社南昌3月2日电``), a byline field (``发布时间：``), a space before a lead opening
(``今（30）日``, ``近日``, ``记者从``), or a sentence end. A headline has no clause punctuation
(``，；。``): a first line that is a lead sentence has none, and gets ``first_clause`` as its title.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date

logger = logging.getLogger(__name__)

_CJK = "\u4e00-\u9fff"
_MONTH_DAY = r"\d{1,2}月\d{1,2}日"
_MEDIA = r"新华社|中新社|中新网|中国新闻网|人民网|央视网|央广网|本报|本网|本台"
# A dateline: "新华社南昌3月2日电", "本报北京3月1日电", "新华社北京电", "本报南昌讯", "本报济南4月28日讯".
_DATELINE = re.compile(
    rf"(?:{_MEDIA})(?:记者)?(?P<place>[{_CJK}]{{2,8}}?)(?:(?:\d{{4}}年)?{_MONTH_DAY})?电"
    rf"|本报(?P<place2>[{_CJK}]{{2,6}}?)(?:(?:\d{{4}}年)?{_MONTH_DAY})?讯"
)
# What opens a lead right after a space: "今（30）日", "近日", "记者从…", "3月2日，", "据…消息".
_LEAD_OPENING = (
    rf"今[（(]\d{{1,2}}[）)]日|今天|今日|近日|日前|近期|昨天|昨日|本报讯|本网讯|本报记者|记者|据[^\s，。]{{1,20}}(?:消息|报道)"
    rf"|[{_CJK}]{{2,8}}(?:日报|晚报|新闻网|网)讯"
    rf"|(?:{_MEDIA})|(?:\d{{4}}年)?{_MONTH_DAY}[，,]|[（(【]记者"
    r"|\d{1,2}[、.．]|[一二三四五六七八九十]{1,3}、|[（(][一二三四五六七八九十\d]{1,3}[）)]|问[:：]"  # Q&A, lists
)
# What ends a headline even without a space: a dateline or a byline field.
_GLUED_LEAD = (
    rf"本报讯|本网讯|(?:{_MEDIA})[{_CJK}]{{2,8}}?{_MONTH_DAY}[电讯]|[（(]记者|(?:发布时间|发布日期|来源|作者)\s*[:：]"
)
# A headline may ask or exclaim ("疫情期间医保业务怎么办？这份问答请收好"); a full stop ends it.
_HEADLINE_END = re.compile(rf"\s+(?={_LEAD_OPENING}|{_GLUED_LEAD})|(?={_GLUED_LEAD})|。")
_CLAUSE_PUNCT = re.compile(r"[，,；;。]")
_HEADLINE_MIN_CJK, _HEADLINE_MAX_CHARS = 4, 60
# The organ a lead names as its source: "记者从国家税务总局重庆市税务局获悉", "江西省人社厅近日印发".
_ORGAN = rf"[{_CJK}]{{2,30}}?(?:办公厅|办公室|委员会|人民政府|政府|厅|局|委|部|署|院|办|中心)"
_WHEN = rf"(?:近日|日前|近期|今天|今日|于?{_MONTH_DAY})"
# "记者2日从…获悉"; or an actor opening a clause of the first sentence, maybe first of several
# ("为…，江西省人力资源和社会保障厅、江西省财政厅近日联合下发通知").
_ACTOR = re.compile(
    rf"(?:^|[，,。])\s*(?:{_WHEN}[，,]\s*)?(?P<organ>{_ORGAN})(?:[、和及与]{_ORGAN})*{_WHEN}?(?:联合)?"
    r"(?:印发|发布|出台|下发|公布|启动|推出|推行)"
)
# The organ a reporter got the news from: "记者2日从…获悉", "记者就此采访了…，".
_SOURCE = re.compile(rf"(?:\d{{1,2}}日)?(?:从(?P<organ>{_ORGAN})(?:获悉|了解到)|采访了?(?P<met>{_ORGAN})[，,。])")
_LEAD_ORGAN_CHARS = 200  # the organ is named this close to the start of the lead
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年")
# What stands before the lead's first sentence: a dateline, "本报讯", a bracketed reporter "（记者 张三）".
_LEAD_PREFIX = re.compile(rf"^(?:\s*(?:{_DATELINE.pattern}|本报讯|本网讯|[（(【][^（）()【】]{{0,30}}[）)】]))*\s*")
_TRAILING_DATELINE = re.compile(rf"\s*(?:{_DATELINE.pattern})$")
# A date with its year: "2020年2月18日", "2020-02-18"; it dates the notice in the dateline or opening the lead.
_DATE = r"(?P<y>\d{4})\s*(?:年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日|-(?P<im>\d{1,2})-(?P<id>\d{1,2}))"
_LEAD_DATE = re.compile(rf"^(?:(?:发布时间|发布日期)\s*[:：]\s*)?{_DATE}(?=[，,\s]|$)")
_DATELINE_DATE = re.compile(_DATE)
_DATELINE_CHARS = 40  # a dateline stands this close to the start of the lead
_FIRST_CLAUSE_MAX_CHARS = 40
_FILE_ID_CHARS = re.compile(r"[0-9a-fA-F_\-\s.]")
_FILE_ID_MIN_CHARS = 6


@dataclass(frozen=True, slots=True)
class Lead:
    """What the start of a news-style notice says about it.

    Attributes:
        headline: The headline a run-on line starts with; ``""`` if the line does not start with one.
        dateline: The place of the dateline (``"南昌"`` in ``新华社南昌3月2日电``); ``""`` if none.
        issuer: The organ the lead names as the notice's source or actor; ``""`` if none.
        published: A date with its year in the dateline or at the start of the lead; ``None`` if none.
    """

    headline: str
    dateline: str
    issuer: str
    published: date | None


def read_lead(line: str, rest_of_text: str = "") -> Lead:
    """Read the headline, dateline, source organ and date at the start of a notice.

    Args:
        line: The notice's first line (or first lines, joined with a space).
        rest_of_text: The text after it, searched for the year that a dateline's ``3月2日`` leaves out.
    """
    headline = _headline(line)
    rest = line[len(headline) :].lstrip()
    prefix = _LEAD_PREFIX.match(rest)
    body = rest[prefix.end() :] if prefix else rest
    dateline = _DATELINE.search(rest[:_DATELINE_CHARS])
    opening = body[:_LEAD_ORGAN_CHARS]
    organ = _ACTOR.search(opening) or _SOURCE.search(opening)
    dated = _LEAD_DATE.match(body) or (_DATELINE_DATE.search(dateline.group()) if dateline else None)
    return Lead(
        headline=headline,
        dateline=(dateline["place"] or dateline["place2"]) if dateline else "",
        issuer=(organ["organ"] or organ.groupdict().get("met") or "") if organ else "",
        published=_date(dated) if dated else _day_of_year(dateline, body, rest_of_text),
    )


def _day_of_year(dateline: re.Match[str] | None, body: str, rest_of_text: str) -> date | None:
    """The month and day of a dateline (``新华社南昌3月2日电``) or of the lead's opening (``3月9日，``), in
    the first year the text names (``2020年``); ``None`` without a year."""
    day = re.search(r"(\d{1,2})月(\d{1,2})日", dateline.group()) if dateline else None
    day = day or re.match(r"(\d{1,2})月(\d{1,2})日[，,]", body)
    year = _YEAR.search(body) or _YEAR.search(rest_of_text)
    if not (day and year):
        return None
    try:
        return date(int(year.group(1)), int(day.group(1)), int(day.group(2)))
    except ValueError:
        return None


def _headline(line: str) -> str:
    """The headline at the start of ``line``, up to where its lead starts; ``""`` if there is none."""
    end = _HEADLINE_END.search(line)
    candidate = line[: end.start()].strip() if end else ""
    if not _is_headline(candidate):
        # "标题 正文第一句，…": without a marker, a space before the first clause mark still ends a headline.
        punct = _CLAUSE_PUNCT.search(line)
        space = line.rfind(" ", 0, punct.start()) if punct else -1
        candidate = line[:space].strip() if space > 0 else ""
    return candidate if _is_headline(candidate) else ""


def _is_headline(text: str) -> bool:
    cjk = len(re.findall(f"[{_CJK}]", text))
    return cjk >= _HEADLINE_MIN_CJK and len(text) <= _HEADLINE_MAX_CHARS and not _CLAUSE_PUNCT.search(text)


def _date(m: re.Match[str]) -> date | None:
    try:
        return date(int(m["y"]), int(m["m"] or m["im"]), int(m["d"] or m["id"]))
    except ValueError:
        logger.debug("skipping impossible lead date %r", m.group(0))
        return None


def strip_dateline(text: str) -> str:
    """``text`` without a dateline at its end (``…今年减免3至6个月租金 新华社成都5月10日电`` → the headline);
    a dateline alone gives ``""``."""
    return _TRAILING_DATELINE.sub("", text.strip())


def first_clause(text: str) -> str:
    """A stand-in title from the text itself: its first clause, cut at ``，。；：`` or ~40 characters.

    A longer clause is cut at its last ``、`` or space before the limit (else at the limit) and
    marked with ``…``. Returns ``""`` for text without a word in it.
    """
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    clause = re.split(r"[，,。；;：:！？!?]", first, maxsplit=1)[0].strip()
    if len(clause) <= _FIRST_CLAUSE_MAX_CHARS:
        return clause
    head = clause[:_FIRST_CLAUSE_MAX_CHARS]
    cut = max(head.rfind("、"), head.rfind(" "))
    return (head[:cut] if cut >= _FIRST_CLAUSE_MAX_CHARS // 2 else head).strip() + "…"


def looks_like_file_id(name: str) -> bool:
    """Whether a name is a file hash or a number rather than words (``3f9a0c2e…c1``, ``20200130_01``).

    True when the name (its extension dropped) has at least six characters and is mostly hex
    digits, digits, ``_ - .`` and spaces.
    """
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", name.strip())
    ids = len(_FILE_ID_CHARS.findall(stem))
    return len(stem) >= _FILE_ID_MIN_CHARS and ids / len(stem) > 0.8
