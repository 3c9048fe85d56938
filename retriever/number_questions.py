"""How well a sentence answers a question that asks for a quantity (which questions do: retriever.question).

Built on :mod:`retriever.numbers` (the mentions and their units). ``number_score`` rewards the
asked unit (元 matches 万元; % never matches 百分点), the question's subject right before the
number in the same clause, and penalises numeric qualifiers the question lacks, so
"三级医院床位有多少张" prefers "三级医院床位12万张" to "二、三级医院床位30万张".
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from ingest.tokenize import normalize_for_search
from retriever.numbers import _ARABIC, _COUNTERS, _NOT_QUANTITY, Quantity, quantities
from retriever.question import Question, asked_unit, asks_quantity

_CLAUSE_BREAK = "，,；;。！？!?\n"
_NUMERAL_RUN = re.compile(f"{_ARABIC}|[〇零一二两三四五六七八九十百千万亿]+")
_QUALIFIER_UNITS = frozenset({"", "级", "类", "第", "大"})
_MEASURES = _COUNTERS | {"大"}  # they precede their noun: 4个国家乡村振兴重点帮扶县, 7大重点产业集群


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


_SHARES = frozenset({"%", "百分点"})
# A year said in any calendar: 1949年, 一九四九年, 民国9年, 嘉靖九年, 庚申年, 今年; a duration (3年) passes too.
_YEAR_SAID = re.compile(
    r"[\d〇零一二三四五六七八九十百千]\s*年|[甲乙丙丁戊己庚辛壬癸][子丑寅卯辰巳午未申酉戌亥]年|[今去明前后本]年|元年"
)
_DATE = re.compile(r"\d{1,2}月\d{1,2}[日号]")
# Words that say how many without a numeral: 一半以上病人 answers 有多少病人.
_SHARE_WORD = re.compile(r"一半|半数|过半|大半|多数|少数|大部分|小部分|全部")


def _clauses(text: str) -> list[str]:
    return [c for c in re.split(f"[{_CLAUSE_BREAK}]", text) if c]


def _counts(q: Quantity) -> bool:
    """A mention that can say how many: not a year or an ordinal (第十六届)."""
    return not q.is_year and q.unit != "第"


def _counts_noun(text: str, noun: str) -> bool:
    """Whether the (folded) ``text``, when it names ``noun`` (or its last two characters, its head: 区县
    of 脱贫区县), names it with a quantity that can count it in one clause (脱贫区县38个, 38个脱贫区县).
    A text that never names it may count it under another name (3名子女 for 几个孩子)."""
    head = noun[-2:]
    named = [c for c in _clauses(text) if head in c]
    return not named or any(_counts(q) for c in named for q in quantities(c))


def _states_a_number(text: str) -> bool:
    """Whether the (folded) ``text`` says how many at all: a number that is no year, date or ordinal, or 一半."""
    return bool(_SHARE_WORD.search(text)) or any(_counts(q) for q in quantities(_DATE.sub("", text)))


def _unit_fits(found: str, asked: str) -> bool:
    """A mention's unit can state the asked one: the same, none said (人口2,790,060 for 多少人), any currency
    for 元 (5800日元), a classifier for a classifier, any count but a share for the generic 个 (3名子女 for
    几个孩子), 百分点 for a share."""
    if found in ("", asked) or (asked == "%" and found == "百分点") or (asked == "个" and found not in _SHARES):
        return True
    return (asked == "元" and (found.endswith("元") or found == "英镑")) or (asked in _COUNTERS and found in _COUNTERS)


def states_asked(question: Question, text: str) -> bool:
    """Whether ``text`` states a quantity of the kind a quantity question asks.

    - 多少 needs a number at all, years, dates and ordinals aside (only 多少: a question read as a
      quantity from 率 or 数量 may ask 哪里 or 哪所大学);
    - a unit said after 多少/几 needs a number in it (多少户 is not answered by 90%以上脱贫户, 多少钱 needs 元),
      and so does a share (比例, 占比, 增速 … need a %, 百分点 or a fraction);
    - a noun the question ends on, where the text names it, needs a number beside it in one clause
      (多少个脱贫区县 is not answered by 脱贫区县 without a count).

    A question asking which year needs a year said (in any calendar: 民国9年, 庚申年, 今年); any
    other time asked is not judged (its answer may be 月底, 近日). True for any other question.
    """
    folded = normalize_for_search(text)
    if question.asks_year:
        return _YEAR_SAID.search(folded) is not None
    if not question.asks_quantity or question.asks_time:
        return True
    if "多少" in question.folded and not _states_a_number(folded):
        return False
    unit = question.asked_unit if question.measure or question.asked_unit == "%" else None
    if unit is not None and not any(_unit_fits(q.unit, unit) for q in quantities(folded)):
        return False
    return question.counted is None or _counts_noun(folded, question.counted)
