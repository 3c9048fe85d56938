"""The question parsed once: intent, asked unit, terms and entities, read from the folded text."""

from __future__ import annotations

import pytest

from ingest.tokenize import tokenize
from retriever.question import PASSAGE_INTENTS, Question, intent_of, parse_question


def char12(text: str) -> list[str]:
    return list(dict.fromkeys(tokenize(text, "char12")))


def parsed(question: str) -> Question:
    return parse_question(question, char12, lambda t: 1.0)


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("脱贫人口收入是多少", "quantity"),
        ("重庆出台了几个衔接政策", "quantity"),
        ("推进会议是哪天召开的", "quantity"),
        ("过渡期什么时候结束", "time"),
        ("谁主持召开了推进会议", "person"),
        ("产业帮扶基地建在哪里", "place"),
        ("俄罗斯失业率最高的地区是在哪里", "place"),  # 率 read as asking a share before: it asks where
        ("南北战争爆发前率先宣布脱离联邦的是哪一州", "factoid"),  # 率先 is no rate
        ("多伦多白天气温超过30度的概率大吗", "yesno"),  # a probability is no share asked
        ("六项重点任务有哪些", "list"),
        ("贵阳市要求哪些行业企业暂不复工复产", "list"),
        ("什么是纳税信用", "definition"),
        ("为什么要加强个人所得税纳税信用建设", "reason"),
        ("如何办理延期申报", "method"),
        ("小微企业能否享受减免", "yesno"),
        ("宁波对企业招工采取了什么措施", "descriptive"),
        ("今年经济社会发展的主要目标", "descriptive"),
        ("三大革命", "factoid"),
    ],
)
def test_intent_of_reads_what_the_question_asks_for(question: str, intent: str) -> None:
    assert intent_of(parsed(question).folded) == intent


def test_traditional_and_simplified_spellings_are_the_same_question() -> None:
    traditional, simplified = parsed("臺灣有幾個縣市"), parsed("台湾有几个县市")
    assert traditional.intent == simplified.intent == "quantity"
    assert traditional.asked_unit == simplified.asked_unit == "个"


def test_a_question_is_parsed_into_terms_entities_and_its_unit() -> None:
    q = parsed("2024年重庆脱贫人口收入是多少元？")
    assert q.text == "2024年重庆脱贫人口收入是多少元？"
    assert q.asks_quantity and q.asked_unit == "元"
    assert "2024" in q.entities and "重庆" in q.entities
    assert "收入" in q.terms.weights and "多少" not in q.terms.weights
    assert "收入" in q.subjects and all(len(t) >= 2 for t in q.subjects)


def test_measures_lists_reasons_and_definitions_want_a_passage_factoids_a_clause() -> None:
    assert parsed("采取了哪些措施").wants_passage
    assert parsed("为什么要建设纳税信用").wants_passage
    assert not parsed("脱贫人口收入是多少").wants_passage
    assert not parsed("会议在什么时候召开").wants_passage
    assert {"list", "definition", "reason", "method", "descriptive"} == PASSAGE_INTENTS


def test_the_places_a_question_names_come_with_their_lineage() -> None:
    assert parsed("九江市复工复产有哪些措施").places == (("江西省", "九江市"),)
    assert parsed("江西省纳税申报期限延长到哪天").places == (("江西省",),)
    assert parsed("2025年稳就业有哪些政策").places == ()


def test_quoted_names_are_read_in_every_kind_of_quotes() -> None:
    assert parsed("贵州“黔货出山2.0”行动包括哪些内容").names == ("黔货出山2.0",)
    assert parsed("「天府英才卡」的申領條件是什麼").names == ("天府英才卡",)
    assert parsed("《个人所得税法》规定了什么").names == ("个人所得税法",)
    assert parsed("个人所得税怎么交").names == ()


@pytest.mark.parametrize(
    ("question", "offices"),
    [
        ("重庆市市长是谁", ("市长",)),
        ("重庆市委书记在会上提出了什么要求", ("市委书记", "书记")),
        ("市场监管局局长是谁", ("局长",)),  # the shortest word: jieba also cuts 局局长
        ("国家发展改革委新闻发言人说了什么", ("发言人",)),
        ("城市长效机制是什么", ()),  # 市长 across two words is no office
        ("脱贫人口收入是多少", ()),
    ],
)
def test_the_offices_a_question_names_are_read_from_its_words(question: str, offices: tuple[str, ...]) -> None:
    assert parsed(question).offices == offices


@pytest.mark.parametrize(
    ("question", "counted", "measure"),
    [
        ("重庆共有多少个脱贫区县", "脱贫区县", True),
        ("重庆目前有多少户监测户", "监测户", True),
        ("宁波发了多少张消费券？", "消费券", True),
        ("宁波发了多少消费券", "消费券", False),  # no classifier, but nothing after 多少 but a noun
        ("完成这项工作需要多少时间", None, False),  # 时间 names the measure, not a thing counted
        ("臺灣有幾個縣市", "县市", True),
        ("全市建成的产业帮扶基地有几个", None, True),  # the noun comes first: nothing after 几个
        ("有多少人参加培训", None, True),  # after 人 comes what they do, not what is counted
        ("新生儿一天要睡超过多少个小时", None, True),  # 小时 is the unit asked, not a thing counted
        ("高英是北魏皇家的第几位皇后", None, True),  # an ordinal counts nothing
        ("爱普格评分由几项指标分别构成", None, True),  # ends on a verb, not on what is counted
        ("吉林一次性扩岗补助每人多少钱", None, True),
        ("脱贫人口收入是多少", None, False),  # 元 guessed from 收入, not said
        ("六项重点任务有哪些", None, False),
    ],
)
def test_a_quantity_question_says_what_it_counts_and_whether_its_unit_is_said(
    question: str, counted: str | None, measure: bool
) -> None:
    q = parsed(question)
    assert (q.counted, q.measure) == (counted, measure)


def test_a_time_asked_with_ji_counts_nothing() -> None:
    assert parsed("衔接工作推进会议是几月几日召开的").counted is None
    assert parsed("有几个城市召开的").counted is None  # 城市召开的 is no noun


@pytest.mark.parametrize(
    ("question", "source", "searched"),
    [
        ("2024年政府工作报告在基础教育方面提出了哪些任务", "2024年政府工作报告在", "2024 基础教育方面提出了哪些任务"),
        ("按2024年政府工作报告，城市更新要解决哪些问题", "按2024年政府工作报告", "2024 ,城市更新要解决哪些问题"),
        ("四川省政府工作报告提出要培育哪些产业", "四川省政府工作报告提出", "要培育哪些产业"),
        # in Traditional characters: read from the folded text
        ("2025年政府工作報告指出國內面臨哪些問題", "2025年政府工作报告指出", "2025 国内面临哪些问题"),
        ("《关于加强纳税信用建设的通知》对失信有什么规定", "《关于加强纳税信用建设的通知》对", "失信有什么规定"),
        ("上海今年稳就业有哪些举措", "", "上海今年稳就业有哪些举措"),
        ("政府工作报告", "", "政府工作报告"),  # the name alone asks for the document: nothing is taken out
        ("2025年重庆市政府工作报告是谁作的", "", "2025年重庆市政府工作报告是谁作的"),  # the report is asked about
    ],
)
def test_the_document_a_question_names_is_taken_out_of_what_is_searched(
    question: str, source: str, searched: str
) -> None:
    q = parsed(question)
    assert (q.source, q.search_text) == (source, searched)
    assert not source or not {"政府", "报告", "工作"} & set(q.terms.weights)  # what to find, not where
    assert set(q.terms.weights) <= set(q.title_terms.weights)  # the title is matched with the whole question


def test_the_year_of_the_named_document_is_kept_apart() -> None:
    assert parsed("2023年政府工作报告提出的赤字率是多少").source_years == ("2023",)
    assert parsed("2023年赤字率是多少").source_years == ()  # a year of the matter, not of a document


@pytest.mark.parametrize(
    ("question", "offsets"),
    [
        ("上海今年要新建多少个美丽街区", (0,)),
        ("去年全国粮食产量是多少", (-1,)),
        ("今年的目标比去年高多少", (0, -1)),
        ("2024年全国粮食产量是多少", ()),  # said outright: Question.years
    ],
)
def test_years_said_relative_to_the_documents_own_are_offsets(question: str, offsets: tuple[int, ...]) -> None:
    assert parsed(question).relative_years == offsets
