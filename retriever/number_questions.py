"""Questions that ask for a quantity: which ones do, which unit they ask for, and how well a sentence answers.

Built on :mod:`retriever.numbers` (the mentions and their units). ``number_score`` rewards the
asked unit (元 matches 万元; % never matches 百分点), the question's subject right before the
number in the same clause, and penalises numeric qualifiers the question lacks, so
"三级医院床位有多少张" prefers "三级医院床位12万张" to "二、三级医院床位30万张".
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from functools import cache

from retriever.numbers import _ARABIC, _MULT, _NOT_QUANTITY, _UNIT, _UNITS, Quantity, _table, quantities

_RATE = "(?<![效频坦草直])率"  # 增长率, 失业率, 税率; not 效率
_ASK_STRONG = re.compile(
    f"多少|(?<!哪)几(?![乎何])|多[大高长久远重快宽深]|比例|比重|占比|百分|第几|哪一?[年天]|何年|何时|量级|{_RATE}"
)
_ASK_WEAK = re.compile(r"增长|增速|增幅|规模|金额|数量|总量|产量")
_ASK_HOW = re.compile(r"如何|怎样|怎么|哪些|什么|为什么|措施|举措|意义|要求|原则")
# "哪一种米的比例最多" asks which, not how much, though it says 比例; 什么量级 still asks a figure
# (什么时候 asks a time, which answers look for as such: retriever.answer.TIME_QUESTION).
_ASK_WHICH = re.compile(r"哪一?[种个类位家些]|谁|何[种人处]|什么(?!量级)")
_ASK_MEASURE = re.compile(f"(?:多少|(?<!哪)几)(?:{_MULT})?(?P<unit>{_UNIT}|钱)")
# unit:pattern, checked in order after 第几, 百分之几 and a measure word after 多少/几; the first match wins.
_ASK_KEYWORDS = tuple(
    (re.compile(pattern), unit)
    for unit, pattern in _table(
        f"百分点:百分点 %:百分|比例|比重|占比|{_RATE}|增速|增幅|(?:增长|下降|降低|上涨|下跌)了?(?:多少|几) "
        "年:哪一?年|何年|年份|年限|期限 日:哪一?天 级:量级|等级 "
        "元:收入|金额|资金|钱|挣|投资|补贴|补助|费用|价格|工资|经费|预算|资产|贷款|税|产值|增加值|总值|销售额|收益 "
        "人:人数|人口|就业 户:户数 张:床位 公里:里程 倍:倍"
    ).items()
)
_CLAUSE_BREAK = "，,；;。！？!?\n"
_NUMERAL_RUN = re.compile(f"{_ARABIC}|[〇零一二两三四五六七八九十百千万亿]+")
_QUALIFIER_UNITS = frozenset({"", "级", "类", "第", "大"})
# Generic classifiers: a 多少处 question is fairly answered by 5.6万个 (half credit, like no unit).
_COUNTERS = frozenset(_table("个 处 座 家 所 项 件 条 批 种 类 部 台 套 辆 支 只 间 栋 宗 笔 例"))
_MEASURES = _COUNTERS | {"大"}  # they precede their noun: 4个国家乡村振兴重点帮扶县, 7大重点产业集群


@cache  # asked once per sentence scored, always about the same few questions
def asks_quantity(question: str) -> bool:
    """Whether ``question`` asks for a number.

    Yes for 多少/几/多大/比例/第几/哪年 ... unless it asks which or who (哪一种…比例最多); for
    增长/规模/金额/数量 only when it is not a how/which/what question (如何促进经济增长 asks for
    measures, not a figure).
    """
    strong = _ASK_STRONG.search(question) and not _ASK_WHICH.search(question)
    return bool(strong or (_ASK_WEAK.search(question) and not _ASK_HOW.search(question)))


@cache
def asked_unit(question: str) -> str | None:
    """The normalised unit ``question`` asks for, or None (not a quantity question, or no telling).

    第几 -> 第 and 百分之几 -> % first; then a measure word right after 多少/几 (多少万元 -> 元, 几个 -> 个,
    多少个百分点 -> 百分点, 多少钱 -> 元); then the keyword table ``_ASK_KEYWORDS`` in order.
    """
    if not asks_quantity(question):
        return None
    if "第几" in question:
        return "第"
    if "百分之几" in question:
        return "%"
    measure = _ASK_MEASURE.search(question)
    if measure is not None:
        return "元" if measure.group("unit") == "钱" else _UNITS[measure.group("unit")]
    return next((unit for pattern, unit in _ASK_KEYWORDS if pattern.search(question)), None)


def _marker(text: str, run: re.Match[str]) -> bool:
    """An enumeration marker (一是, （一）, 一、 before a non-numeral) or part of a fixed word (统一)."""
    s, e = run.span()
    after, next_char = text[e : e + 1], text[e + 1 : e + 2]
    if after == "是" or (text[s - 1 : s] in "（(" and after in "）)" and s > 0):
        return True
    if after == "、" and not (next_char and _NUMERAL_RUN.match(next_char)):
        return True
    return any(w.start() <= s < w.end() for w in _NOT_QUANTITY.finditer(text, max(0, s - 3), s + 5))


def _foreign_qualifiers(question: str, text: str, span: tuple[int, int], found: Sequence[Quantity]) -> int:
    """How many numerals in ``text[span]`` qualify a noun and are absent from the question (二、 in 二、三级)."""
    question_years = any(q.is_year for q in quantities(question)) if _NUMERAL_RUN.search(question) else False
    count = 0
    for run in _NUMERAL_RUN.finditer(text, *span):
        if run.group() in question or _marker(text, run):
            continue
        covering = next((q for q in found if q.start <= run.start() < q.end), None)
        if covering is None or covering.unit in _QUALIFIER_UNITS or (covering.is_year and question_years):
            count += 1
    return count


def number_score(question: str, sentence: str, subject_terms: Collection[str]) -> float:
    """How well ``sentence`` answers a quantity question, in [0, 1]; 0 for no quantity or no such question.

    Each candidate quantity (not an ordinal unless 第几 is asked, not a year unless a year is asked,
    not a mention the question itself contains) scores
    ``0.4 + 0.3 * unit + 0.3 * subject - 0.2 * min(foreign, 2)``, floored at 0.05, where:

    - ``unit`` is 1 for the asked unit (万元 is 元); 0.5 when no unit is asked, the mention has none,
      or both are generic classifiers (处 asked, 个 found); else 0 (% is not 百分点);
    - ``subject`` is the share of ``subject_terms`` in the same clause before the number (no ，；。
      in between) or, for a measure word (个, 项, 大 ...), anywhere in that clause, as its noun follows it;
    - ``foreign`` counts the numerals qualifying a noun in that clause that the question lacks
      (二、 in 二、三级医院 for a 三级医院 question; a year only when the question names a year).

    The sentence scores its best candidate.
    """
    if not asks_quantity(question):
        return 0.0
    asked, found = asked_unit(question), quantities(sentence)
    terms = {t for t in subject_terms if t}
    best = 0.0
    for q in found:
        if (q.unit == "第" and asked != "第") or (q.is_year and asked != "年") or q.raw in question:
            continue
        clause_start = max(sentence.rfind(c, 0, q.start) for c in _CLAUSE_BREAK) + 1
        clause_end = min([len(sentence), *(i for c in _CLAUSE_BREAK if (i := sentence.find(c, q.end)) >= 0)])
        context = sentence[clause_start : clause_end if q.unit in _MEASURES else q.start]
        counters = asked in _COUNTERS and q.unit in _COUNTERS
        unit = 1.0 if q.unit == asked else 0.5 if asked is None or not q.unit or counters else 0.0
        subject = sum(t in context for t in terms) / len(terms) if terms else 0.0
        foreign = _foreign_qualifiers(question, sentence, (clause_start, q.start), found)
        best = max(best, 0.4 + 0.3 * unit + 0.3 * subject - 0.2 * min(foreign, 2), 0.05)
    return best
