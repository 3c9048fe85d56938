"""The question, parsed once per ask: normalised text, weighted terms, entities, intent, asked unit.

Every pattern that reads what a question asks for lives here. Intents are read from the question
folded for search (NFKC, lower case, Traditional→Simplified), so 臺灣有幾個縣市 and 台湾有几个县市
are the same question. ``Question`` is built once by :func:`parse_question` and passed down to
retrieval, answer extraction and the abstention decision; nothing downstream re-reads the raw text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from ingest.regions import find_places, lineage
from ingest.tokenize import entities, normalize_for_search, tagged, words
from retriever.numbers import _COUNTERS, _MULT, _UNIT, _UNITS, _table

Tokenizer = Callable[[str], list[str]]
Intent = Literal[
    "quantity", "time", "person", "place", "list", "definition", "reason", "method", "yesno", "descriptive", "factoid"
]
# Intents answered by a passage (the body under a heading, a lead-in's items, a Q&A answer), not a clause.
PASSAGE_INTENTS: frozenset[Intent] = frozenset({"list", "definition", "reason", "method", "descriptive"})

# Question words and particles: they ask, they do not describe what to find.
QUESTION_WORDS = re.compile(
    r"请问|是多少|多少|是什么|什么|有哪些|哪些|哪几|哪个|哪里|怎么样|怎么|怎样|如何|为什么|是否|吗|呢|吧|[？?。！!，,]"
)

_RATE = "(?<![效频坦草直机概几])率(?!先|领)"  # 增长率, 失业率, 税率; not 效率, 概率 or 率先
_ASK_STRONG = re.compile(
    f"多少|(?<!哪)几(?![乎何])|多[大高长久远重快宽深]|比例|比重|占比|百分|第几|哪一?[年天]|何年|何时|量级|{_RATE}"
)
_ASK_WEAK = re.compile(r"增长|增速|增幅|规模|金额|数量|总量|产量")
_ASK_HOW = re.compile(r"如何|怎样|怎么|哪些|什么|为什么|措施|举措|意义|要求|原则")
# "哪一种米的比例最多" asks which, not how much, though it says 比例, and 失业率最高的地区在哪里 asks
# where; 什么量级 still asks a figure
# (什么时候 asks a time: TIME_QUESTION).
_ASK_WHICH = re.compile(r"哪一?[种个类位家些所座国]|哪里|哪儿|在哪|谁|何[种人处]|什么(?!量级)")
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

_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
# Years said relative to the document's own (a 2025 work report's 今年 is 2025, its 去年 2024), as offsets.
_RELATIVE_YEARS = {"前年": -2, "去年": -1, "上年": -1, "今年": 0, "本年": 0, "明年": 1}
_RELATIVE_YEAR = re.compile("|".join(_RELATIVE_YEARS))
# What a quantity question counts when it ends on it: 多少个脱贫区县 -> 脱贫区县, 多少户监测户 -> 监测户.
# Without a classifier the words after 多少 are as often a verb phrase, a time or the measure itself
# (多少人参加培训, 西元幾年時所進行, 多少时间) as a noun, so only nouns naming no measure are read then.
_NOT_NOUN = frozenset("vdapucr")  # jieba's verbs, adverbs, adjectives, prepositions, particles, conjunctions, pronouns
_CLASSIFIERS = "|".join(sorted(_COUNTERS | set("户颗名位张艘架篇份")))  # the generic ones and those of 户, 人, 张 …
_MEASURE_NOUN = re.compile("份额|时间|时候|世纪|年代|距离|面积|长度|高度|重量|数量|规模|程度|速度|温度")
_COUNTED = re.compile(
    f"(?:多少|(?<!哪)几)(?:{_MULT})?(?P<classifier>{_CLASSIFIERS})?(?P<noun>[^\\W\\d的了是在有_]{{2,8}}?)(?:呢|啊)?[？?。！!]*$"
)
# An office the question names (市长, 市委书记, 局长, 发言人): a document that never names the office cannot
# say who holds it or what its holder said. Read from jieba's words, so 城市长效 holds no 市长.
_OFFICE_SUFFIXES = tuple(
    _table(
        "书记 市长 省长 县长 区长 州长 镇长 乡长 局长 厅长 部长 处长 司长 署长 主任 主席 总理 院长 校长 行长 "
        "董事长 总经理 秘书长 发言人 记者"
    )
)
_SECRETARY = re.compile(r"[省市县区州]委书记")
# A name the question quotes: a programme, a scheme, a document (“黔货出山2.0”, 《…通知》, 「…」).
_QUOTED = re.compile(r"[“\"《「『]([^“”\"《》「」『』]{2,30})[”\"》」』]")
# A question asking which year (哪一年, 何年, 哪一年代): its answer names one (retriever.number_questions).
_ASK_YEAR = re.compile(r"哪一?年(?![级龄纪])|何年|(?:什么|哪个)年份")
TIME_QUESTION = re.compile(r"何时|什么时候|哪一?年|何年|哪个时期|日期|几月|哪天|截止|期限")
_LIST = re.compile(r"哪些|哪几|包括|包含|有什么|分别|主要内容|几个方面|具体内容|具体")
# Questions answered by an enumeration when their best sentence is its lead-in (六项重点任务具体为:).
ENUMERATION_QUESTION = re.compile(r"哪些|哪几|包括|包含|有什么|分别|主要内容|是什么|具体内容|几个方面")
_DEFINITION = re.compile(r"什么是|是指|指的是|指什么|含义|定义|什么意思|是什么意思|何谓")
_REASON = re.compile(r"为什么|为何|原因|意义|目的|为了什么")
_METHOD = re.compile(r"如何|怎样|怎么|办理|流程|程序|途径|方式|渠道|步骤")
_PERSON = re.compile(r"谁|哪位|何人|什么人|哪个人")
_PLACE = re.compile(r"哪里|何处|在哪|什么地方|哪个地方|哪个城市|哪个省")
_YESNO = re.compile(r"是否|能否|可否|能不能|可不可以|有没有|是不是|吗$")
# The document a question says to look in (2024年政府工作报告里…, 按四川省政府工作报告, 《…通知》提出…): its
# name ranks that document by its title, and what is left is what to find in it. Searched with its name, the
# question found the report's own opening (各位代表：现在，我代表国务院，向大会报告政府工作) instead. Only a
# name said as where to look (按…, …里/中/提出/对) counts: in 2025年重庆市政府工作报告是谁作的 the report is
# what is asked about.
_DOCUMENT = (
    r"(?:(?:(?:19|20)\d\d年的?)?(?:国务院|全国|[\u4e00-\u9fff]{1,4}?[省市区县])?政府工作报告"
    r"|《[^《》]{2,40}(?:报告|通知|意见|办法|方案|规定|决定|条例|细则|纲要|规划)》)"
)
_LOOK_IN = r"(?:里面?|中|上|当中|提出|提到|谈到|指出|强调|明确|要求|规定|对|在)"
SOURCE = re.compile(f"(?:按照?|根据|依据|据){_DOCUMENT}{_LOOK_IN}*|{_DOCUMENT}{_LOOK_IN}+")
_DESCRIPTIVE = re.compile(
    r"措施|举措|要求|条件|内容|目标|任务|重点|政策|做法|规定|标准|安排|部署|工作|情况|范围|对象|作用|成效|成果|变化|特点"
)


@dataclass(frozen=True, slots=True)
class Terms:
    """The question's search terms with their idf weights."""

    weights: Mapping[str, float]
    # The terms of at least n characters and their total weight, by n: coverage is asked ~100 times a question.
    _long: dict[int, tuple[tuple[tuple[str, float], ...], float]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def total(self) -> float:
        """The sum of all weights."""
        return sum(self.weights.values())

    def coverage(self, tokens: set[str] | frozenset[str], min_len: int = 1) -> float:
        """The share of the idf weight of terms of at least ``min_len`` characters found among ``tokens``."""
        if (long := self._long.get(min_len)) is None:
            items = tuple((t, w) for t, w in self.weights.items() if len(t) >= min_len)
            long = self._long[min_len] = (items, sum(w for _, w in items))
        items, total = long
        return sum(w for t, w in items if t in tokens) / total if total else 0.0


@dataclass(frozen=True, slots=True)
class Question:
    """A question as every later stage sees it.

    Attributes:
        text: as asked, stripped.
        folded: ``text`` folded for search (``normalize_for_search``); every intent is read from it.
        terms: the idf-weighted search terms of the open index, question words and the document it names
            (``source``) removed: what to find.
        source: the document it says to look in (``2024年政府工作报告里``, ``SOURCE``), folded, or ``""``.
        search_text: ``folded`` without ``source`` (``text`` when it names none): what BM25 searches the
            chunks with. The dense query is the whole question: on the policy dev half it ranks better so.
        title_terms: the terms of the whole question, ``source`` included: what a document's title is matched
            with.
        entities: places, organisations and years it names (jieba's ns/nt and ``19xx``/``20xx``).
        intent: what kind of answer it asks for.
        asked_unit: for a quantity question, the normalised unit asked for (元, %, 个 …), if any.
        places: the administrative divisions it names, each as its lineage from the province down
            (九江 → ``("江西省", "九江市")``), for region-aware ranking.
        years: the years it names (``2024``): a document that never names them cannot answer it.
        relative_years: the years it says relative to the document's own, as offsets (今年 0, 去年 -1).
        names: the names it quotes (``黔货出山2.0``), folded: a document that never names them cannot
            answer it either.
        offices: the offices it names (``市长``, ``市委书记``), folded: a document that never names them
            cannot say who holds them.
        counted: for a quantity question ending on what it counts, that noun (``脱贫区县``).
        measure: whether its unit is said right after 多少/几 (多少户, 几个, 多少钱), not guessed from a
            keyword (收入 -> 元).
        asks_time: whether it asks when (a time intent, or a date asked as 哪天/哪一年, which
            ranks as a quantity).
    """

    text: str
    folded: str
    terms: Terms
    title_terms: Terms
    entities: tuple[str, ...]
    intent: Intent
    asked_unit: str | None
    places: tuple[tuple[str, ...], ...] = ()
    asks_time: bool = False
    years: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    offices: tuple[str, ...] = ()
    counted: str | None = None
    measure: bool = False
    source: str = ""
    relative_years: tuple[int, ...] = ()

    @property
    def search_text(self) -> str:
        """The question without the document it names (but with that document's year): what BM25 searches with."""
        return without_source(self.folded, self.source) if self.source else self.text

    @property
    def source_years(self) -> tuple[str, ...]:
        """The years of the document it names (2023 of ``2023年政府工作报告``)."""
        return tuple(_YEAR.findall(self.source))

    @property
    def asks_quantity(self) -> bool:
        """Whether it asks for a number (its intent is quantity)."""
        return self.intent == "quantity"

    @property
    def asks_year(self) -> bool:
        """Whether it asks which year (哪一年, 何年, 哪个年份)."""
        return _ASK_YEAR.search(self.folded) is not None

    @property
    def wants_passage(self) -> bool:
        """Whether the answer is a passage (measures, requirements, lists, reasons …) rather than a clause."""
        return self.intent in PASSAGE_INTENTS

    @property
    def wants_enumeration(self) -> bool:
        """Whether a lead-in's whole enumeration answers it."""
        return bool(ENUMERATION_QUESTION.search(self.folded))

    @property
    def subjects(self) -> frozenset[str]:
        """Its terms of two characters or more: what a number's subject should mention."""
        return frozenset(t for t in self.terms.weights if len(t) >= 2)


@cache  # asked once per sentence scored, always about the same few questions
def asks_quantity(folded: str) -> bool:
    """Whether the (folded) question asks for a number.

    Yes for 多少/几/多大/比例/第几/哪年 ... unless it asks which or who (哪一种…比例最多); for
    增长/规模/金额/数量 only when it is not a how/which/what question (如何促进经济增长 asks for
    measures, not a figure).
    """
    strong = _ASK_STRONG.search(folded) and not _ASK_WHICH.search(folded)
    return bool(strong or (_ASK_WEAK.search(folded) and not _ASK_HOW.search(folded)))


@cache
def asked_unit(folded: str) -> str | None:
    """The normalised unit the (folded) question asks for, or None (not a quantity question, or no telling).

    第几 -> 第 and 百分之几 -> % first; then a measure word right after 多少/几 (多少万元 -> 元, 几个 -> 个,
    多少个百分点 -> 百分点, 多少钱 -> 元); then the keyword table ``_ASK_KEYWORDS`` in order.
    """
    if not asks_quantity(folded):
        return None
    if "第几" in folded:
        return "第"
    if "百分之几" in folded:
        return "%"
    measure = _ASK_MEASURE.search(folded)
    if measure is not None:
        return "元" if measure.group("unit") == "钱" else _UNITS[measure.group("unit")]
    return keyword_unit(folded)


def keyword_unit(text: str) -> str | None:
    """The unit of the first entry of ``_ASK_KEYWORDS`` that ``text`` names (收入 -> 元, 比例 -> %), or None."""
    return next((unit for pattern, unit in _ASK_KEYWORDS if pattern.search(text)), None)


def intent_of(folded: str) -> Intent:
    """What a (folded) question asks for; the first rule that fits wins.

    A definition (什么是…) and a reason (为什么…) are read before the quantity words they may
    contain; a time question asked as 哪天/哪一年 counts as a quantity (its answer is a number with
    its unit), 什么时候/何时 as a time; lists (哪些, 包括) come before the descriptive nouns
    (措施, 要求, 目标), which make a descriptive question when nothing more specific is asked.
    """
    rules: tuple[tuple[Intent, bool], ...] = (
        ("definition", bool(_DEFINITION.search(folded))),
        ("reason", bool(_REASON.search(folded))),
        ("quantity", asks_quantity(folded)),
        ("time", bool(TIME_QUESTION.search(folded))),
        ("person", bool(_PERSON.search(folded))),
        ("place", bool(_PLACE.search(folded))),
        ("list", bool(_LIST.search(folded))),
        ("method", bool(_METHOD.search(folded))),
        ("yesno", bool(_YESNO.search(folded.rstrip("？?。 ")))),
        ("descriptive", bool(_DESCRIPTIVE.search(folded))),
    )
    return next((intent for intent, fits in rules if fits), "factoid")


def question_terms(question: str, tokenize: Tokenizer, idf: Callable[[str], float]) -> Terms:
    """The idf-weighted terms of a question, without its question words."""
    core = QUESTION_WORDS.sub(" ", question)
    return Terms({t: idf(t) for t in tokenize(core)})


def question_years(folded: str) -> tuple[str, ...]:
    """The years (``2024``) a folded text names, each once, in order."""
    return tuple(dict.fromkeys(_YEAR.findall(folded)))


def counted_noun(folded: str) -> str | None:
    """What a (folded) quantity question counts when it ends on it (多少个脱贫区县 -> 脱贫区县), else None."""
    if not asks_quantity(folded) or TIME_QUESTION.search(folded) or (m := _COUNTED.search(folded)) is None:
        return None
    noun = m.group("noun")
    # 多少个小时 asks for hours (小时 is the unit); 第几位皇后 an ordinal; 几项指标分别构成 ends on a verb.
    if noun in _UNITS or "第几" in folded:
        return None
    tags = [tag for _, tag in tagged(noun)]
    if tags[-1][:1] in _NOT_NOUN:
        return None
    # Without a classifier every word must be a noun (多少消费券), not a verb phrase (多少人参加培训), and none
    # may name the measure (多少时间) or the unit asked (多少比例 -> %, 多少人口 -> 人) instead of what is counted.
    if m.group("classifier") is None and (
        not all(t[:1] == "n" or t == "vn" for t in tags) or _MEASURE_NOUN.search(noun) or keyword_unit(noun)
    ):
        return None
    return noun


def offices(folded: str) -> tuple[str, ...]:
    """The offices a folded text names (市长, 市委书记, 发言人), each once, in order.

    jieba's search-mode words ending in an office, the shortest kept (局长, not 局局长 of 监管局局长), and
    a party secretary with the committee (市委书记, which 市委副书记 is not).
    """
    if not any(office in folded for office in _OFFICE_SUFFIXES):
        return ()  # most questions name no office: no need to cut them into words
    found = [w for w in words(folded) if w.endswith(_OFFICE_SUFFIXES)]
    shortest = [w for w in found if not any(o != w and o in w for o in found)]
    return tuple(dict.fromkeys([*_SECRETARY.findall(folded), *shortest]))


def without_source(text: str, source: str) -> str:
    """``text`` with the document it names taken out, the year of that document kept (a 2025 report's body
    says 2025 where a 2024 report's says 2024)."""
    return text.replace(source, f" {' '.join(_YEAR.findall(source))} ", 1).strip()


_MIN_SEARCHED = 4  # characters left once the named document is taken out: 2024年政府工作报告 alone asks nothing


def parse_question(text: str, tokenize: Tokenizer, idf: Callable[[str], float]) -> Question:
    """The question parsed once: folded text, terms weighted by ``idf``, entities, intent and asked unit."""
    folded = normalize_for_search(text)
    source = m.group(0) if (m := SOURCE.search(folded)) and len(folded) - len(m.group(0)) >= _MIN_SEARCHED else ""
    whole = question_terms(text, tokenize, idf)
    return Question(
        text=text,
        folded=folded,
        terms=question_terms(without_source(folded, source), tokenize, idf) if source else whole,
        title_terms=whole,
        source=source,
        relative_years=tuple(dict.fromkeys(_RELATIVE_YEARS[w] for w in _RELATIVE_YEAR.findall(folded))),
        entities=tuple(entities(text)),
        intent=intent_of(folded),
        asked_unit=asked_unit(folded),
        places=tuple(chain for p in find_places(folded) if (chain := lineage(p.name))),
        asks_time=bool(TIME_QUESTION.search(folded)),
        years=question_years(folded),
        names=tuple(dict.fromkeys(_QUOTED.findall(folded))),
        offices=offices(folded),
        counted=counted_noun(folded),
        measure=_ASK_MEASURE.search(folded) is not None,
    )
