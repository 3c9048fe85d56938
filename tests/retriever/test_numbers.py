"""Tests of retriever.numbers on real phrasings from the seed documents and the government work reports."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.tokenize import tokenize
from retriever.number_questions import number_score, states_asked
from retriever.numbers import (
    Quantity,
    canonical,
    normalize_number_text,
    quantities,
    unsupported_numbers,
)
from retriever.question import Question, asked_unit, asks_quantity, parse_question

Row = tuple[str, float, float | None, str, str]  # raw, value, high, unit, approx


def rows(text: str) -> list[Row]:
    return [(q.raw, q.value, q.high, q.unit, q.approx) for q in quantities(text)]


SEED = (
    "目前，重庆出台衔接政策130余个，打造产业帮扶基地5.6万个，脱贫产业覆盖90%以上脱贫户和监测户，"
    "脱贫人口人均纯收入达到16118元、高出全国脱贫人口收入1776元。"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            SEED,
            [
                ("130余个", 130, None, "个", "余"),
                ("5.6万个", 56000, None, "个", ""),
                ("90%以上", 90, None, "%", "以上"),
                ("16118元", 16118, None, "元", ""),
                ("1776元", 1776, None, "元", ""),
            ],
        ),
        (
            "打造2—3个年销售额10亿元以上的“爆品”，形成20个50亿级以上的示范园区",
            [
                ("2—3个", 2, 3, "个", ""),
                ("10亿元以上", 1e9, None, "元", "以上"),
                ("20个", 20, None, "个", ""),
                ("50亿级以上", 5e9, None, "级", "以上"),
            ],
        ),
        ("居民消费价格涨幅稳定在2%左右", [("2%左右", 2, None, "%", "左右")]),
        ("货物进出口总额增长7.7%", [("7.7%", 7.7, None, "%", "")]),
        ("城镇调查失业率比上年下降0.5个百分点", [("0.5个百分点", 0.5, None, "百分点", "")]),
        ("中占比提高2.5个百分点", [("2.5个百分点", 2.5, None, "百分点", "")]),
        ("粮食产量1.37万亿斤", [("1.37万亿斤", 1.37e12, None, "斤", "")]),
        ("增值税留抵退税超过2.4万亿元", [("超过2.4万亿元", 2.4e12, None, "元", "超")]),
        ("缓税缓费7500多亿元", [("7500多亿元", 7.5e11, None, "元", "多")]),
        ("脱贫人口务工规模超过3200万人", [("超过3200万人", 3.2e7, None, "人", "超")]),
        ("约6700万人受益", [("约6700万人", 6.7e7, None, "人", "约")]),
        ("近1亿农村贫困人口实现脱贫", [("近1亿", 1e8, None, "", "近")]),
        ("去年全球通胀达到40多年来新高", [("40多年", 40, None, "年", "多")]),
        ("国内生产总值达到39.8 万亿元", [("39.8 万亿元", 3.98e13, None, "元", "")]),
        ("支持价格每50公斤提高5到7元", [("50公斤", 50, None, "公斤", ""), ("5到7元", 5, 7, "元", "")]),
        ("颁布实施2011-2020年中国农村扶贫开发纲要", [("2011-2020年", 2011, 2020, "年", "")]),
        ("企业开办时间缩短三分之一以上", [("三分之一以上", 1 / 3, None, "", "以上")]),
        ("审批时间压缩到不超过120个工作日", [("不超过120个工作日", 120, None, "工作日", "不超过")]),
        ("天数下降超过五成", [("超过五成", 50, None, "%", "超")]),
        ("九成以上的村", [("九成以上", 90, None, "%", "以上")]),
        ("覆盖率达到百分之十五", [("百分之十五", 15, None, "%", "")]),
        ("聚焦粮油、肉蛋奶、果蔬等7大重点产业集群", [("7大", 7, None, "大", "")]),
        ("实施七大行动", [("七大", 7, None, "大", "")]),
        ("落实“两个确保”", [("两个", 2, None, "个", "")]),
        ("实现了连续三年增产", [("三年", 3, None, "年", "")]),
        ("过去十三年", [("十三年", 13, None, "年", "")]),
        ("二十五项措施", [("二十五项", 25, None, "项", "")]),
        ("一百零五个项目", [("一百零五个", 105, None, "个", "")]),
        ("安排三千五百万元", [("三千五百万元", 3.5e7, None, "元", "")]),
        ("两万亿元", [("两万亿元", 2e12, None, "元", "")]),
        ("每村两三个", [("两三个", 2, 3, "个", "")]),
        ("用两到三年时间", [("两到三年", 2, 3, "年", "")]),
        ("国家三级医院", [("三级", 3, None, "级", "")]),
        ("二三级医院", [("二三级", 2, 3, "级", "")]),
        ("2-3万元", [("2-3万元", 20000, 30000, "元", "")]),
        ("500—1万元", [("500—1万元", 500, 10000, "元", "")]),
        ("2%—3%", [("2%—3%", 2, 3, "%", "")]),
        ("二〇二三年", [("二〇二三年", 2023, None, "年", "")]),
        ("１２３．５％", [("１２３．５％", 123.5, None, "%", "")]),
        ("共1,234元和5，678人", [("1,234元", 1234, None, "元", ""), ("5，678人", 5678, None, "人", "")]),
        ("第十四届全国人民代表大会第二次会议", [("第十四届", 14, None, "第", ""), ("第二次", 2, None, "第", "")]),
        ("每万人口3千米", [("3千米", 3, None, "公里", "")]),
        ("新增装机100万千瓦", [("100万千瓦", 1e6, None, "千瓦", "")]),
        ("8月24日", [("8月", 8, None, "月", ""), ("24日", 24, None, "日", "")]),
        ("2%-3", [("2%", 2, None, "%", ""), ("3", 3, None, "", "")]),
        ("千分之五", [("千分之五", 5, None, "‰", "")]),
        ("万分之一", [("万分之一", 0.0001, None, "", "")]),
        ("最近3年", [("3年", 3, None, "年", "")]),
        ("节约3亿元", [("3亿元", 3e8, None, "元", "")]),
        ("87 %", [("87 %", 87, None, "%", "")]),
        ("截至2023 年底", [("2023 年", 2023, None, "年", "")]),
    ],
)
def test_quantities_reads_policy_numbers(text: str, expected: list[Row]) -> None:
    got = rows(text)
    assert [(raw, unit, approx) for raw, _, _, unit, approx in got] == [(raw, u, a) for raw, _, _, u, a in expected]
    for (_, value, high, _, _), (_, v, h, _, _) in zip(got, expected, strict=True):
        assert value == pytest.approx(v)
        assert (high is None and h is None) or high == pytest.approx(h)


@pytest.mark.parametrize(
    "text",
    [
        "一是坚决守牢防止返贫致贫底线，二是打造千亿级生态特色产业",
        "（一）加快建设全国统一大市场",
        "一、总体要求",
        "进一步深化改革，一些地方一起推进一体化，一般情况下一直如此",
        "唯一的办法，万一出现，一批项目，一大批干部，新一轮改革，一次性补贴",
        "“十三五”期间，十四五规划",
        "数十个城市，几百万群众，千家万户，百年变局，千方百计",
        "细颗粒物（PM2.5）平均浓度，G20峰会",
        "（1）",
    ],
)
def test_quantities_skips_words_and_markers_that_are_not_quantities(text: str) -> None:
    assert quantities(text) == []


def test_years_are_quantities_in_years_and_flagged() -> None:
    years = {
        q.raw
        for q in quantities("2023年，二〇二三年，近3年，2000多年，2011-2020年，五年，2023个，1980 年")
        if q.is_year
    }
    assert years == {"2023年", "二〇二三年", "2011-2020年", "1980 年"}


def test_a_date_is_not_a_range() -> None:
    assert [q.high for q in quantities("2023-08-25")] == [None, None, None]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("打造产业帮扶基地5.6万个", "打造产业帮扶基地56000个"),
        ("覆盖率达到百分之十五", "覆盖率达到15%"),
        ("打造2—3个", "打造2-3个"),
        ("出台130余个", "出台130余个"),
        ("约6700万人", "约67000000人"),
        ("90%以上", "90%以上"),
        ("第十四届", "第14"),
        ("三分之一", "0.3333"),
        ("1.2亿元", "120000000元"),
    ],
)
def test_normalize_number_text_writes_canonical_tokens(text: str, expected: str) -> None:
    assert normalize_number_text(text) == expected


@pytest.mark.parametrize(
    ("answer", "quotes", "unsupported"),
    [
        ("打造产业帮扶基地5.6万个", ["打造产业帮扶基地56000个"], []),
        ("打造产业帮扶基地56000个", ["打造产业帮扶基地5.6万个，"], []),
        ("覆盖87%的脱贫户", ["覆盖85%的脱贫户"], ["87%"]),
        ("下降3个百分点", ["下降3%"], ["3个百分点"]),
        ("下降3%", ["下降3个百分点"], ["3%"]),
        ("收入达到1.6118万元", [SEED], []),
        ("130个", [SEED], []),  # the approximation marker is not part of the number
        ("5.6万", [SEED], []),  # no unit in the answer: supported by 56000 个
        ("5.6万元", [SEED], ["5.6万元"]),
        ("2—3个，10亿元", ["打造2～3个年销售额10亿元以上"], []),
        ("2个", ["打造2～3个年销售额10亿元以上"], ["2个"]),
        ("16118元、1776元", ["收入16118元", "高出1776元"], []),
        ("三级医院床位12万张", ["二、三级医院床位30万张"], ["12万张"]),
    ],
)
def test_unsupported_numbers_is_the_number_fidelity_check(
    answer: str, quotes: list[str], unsupported: list[str]
) -> None:
    assert [q.raw for q in unsupported_numbers(answer, quotes)] == unsupported


@pytest.mark.parametrize(
    ("question", "unit"),
    [
        ("脱贫人口收入是多少", "元"),
        ("重庆脱贫人口收入比全国高多少", "元"),
        ("重庆出台了多少个衔接政策", "个"),
        ("产业帮扶基地打造了多少个", "个"),
        ("脱贫产业覆盖了多大比例的脱贫户", "%"),
        ("财政赤字率是多少", "%"),
        ("国内生产总值增长了多少", "%"),
        ("失业率下降了多少个百分点", "百分点"),
        ("就业规模稳定在多少万人以上", "人"),
        ("新增高标准农田多少亩", "亩"),
        ("过渡期有几年", "年"),
        ("哪一年实现有效衔接", "年"),
        ("监测户有多少户", "户"),
        ("部署抓好几项重点任务", "项"),
        ("研发投入增长了几倍", "倍"),
        ("这是第几次会议", "第"),
        ("专项资金有多少钱", "元"),
        ("投资补助多少万元", "元"),
        ("三级医院床位数是多少", "张"),
        ("高速铁路运营里程有多长", "公里"),
        ("有多少家企业", "家"),
        ("城镇化率提高到百分之几", "%"),
        ("今年全市农产品加工总产值目标是多少", "元"),
        ("示范园区要达到什么量级", "级"),
        ("推进会议是哪天召开的", "日"),
        ("重庆建了多少处扶持产业的基地", "处"),
        ("基层治理要把哪几种方式结合起来", None),
        ("如何促进经济增长", None),
        ("乡村振兴有哪些重点任务", None),
        ("粮食产量规模怎样", None),
    ],
)
def test_asked_unit_reads_the_measure_word_then_the_keywords(question: str, unit: str | None) -> None:
    assert asked_unit(question) == unit


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("脱贫人口收入是多少", True),
        ("出台了几个政策", True),
        ("产业规模", True),
        ("失业率", True),
        ("这是第几次会议", True),
        ("如何促进经济增长", False),
        ("六项重点任务是什么", False),
        ("提高行政效率的措施", False),
        ("几乎所有地方都怎么做", False),
    ],
)
def test_asks_quantity(question: str, asks: bool) -> None:
    assert asks_quantity(question) is asks


def test_number_score_prefers_the_clause_without_a_foreign_qualifier() -> None:
    question, terms = "三级医院床位数是多少", ["三级医院", "床位"]
    own = number_score(question, "三级医院床位12万张。", terms)
    wider = number_score(question, "二、三级医院床位30万张。", terms)
    joined = number_score(question, "二三级医院床位30万张。", terms)
    assert own > wider and own > joined
    assert 0 < wider <= 1 and own <= 1


def test_number_score_prefers_the_asked_unit_and_keeps_percent_apart_from_points() -> None:
    question, terms = "脱贫产业覆盖了多大比例的脱贫户", ["脱贫", "产业", "覆盖", "脱贫户"]
    percent = number_score(question, "脱贫产业覆盖90%以上脱贫户。", terms)
    points = number_score(question, "脱贫产业覆盖面提高3个百分点。", terms)
    count = number_score(question, "脱贫产业覆盖130余个村。", terms)
    assert percent > points and percent > count


def test_number_score_finds_the_noun_after_a_measure_word() -> None:
    question, terms = "要形成多少个示范园区", ["形成", "示范园区"]
    gold = "形成20个50亿级以上的示范园区。"
    other = "升级4个国家乡村振兴重点帮扶县的帮扶举措。"
    assert number_score(question, gold, terms) > number_score(question, other, terms)


def test_number_score_gives_a_generic_classifier_half_credit() -> None:
    question, terms = "重庆建了多少处扶持产业的基地", ["产业", "基地"]
    counted = number_score(question, "打造产业帮扶基地5.6万个。", terms)
    area = number_score(question, "打造产业帮扶基地5.6万亩。", terms)
    exact = number_score(question, "打造产业帮扶基地5.6万处。", terms)
    assert exact > counted > area


def test_number_score_prefers_the_number_after_the_subject() -> None:
    question, terms = "重庆脱贫人口收入比全国高多少", ["重庆", "脱贫", "人口", "收入", "全国", "高"]
    both = "脱贫人口人均纯收入达到16118元、高出全国脱贫人口收入1776元。"
    only_first = "脱贫人口人均纯收入达到16118元。"
    assert number_score(question, both, terms) > number_score(question, only_first, terms)


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        ("脱贫人口收入是多少", "巩固拓展脱贫攻坚成果。"),  # no number at all
        ("脱贫人口收入是多少", "2021年以来成效显著。"),  # only a year, and no year is asked
        ("脱贫人口收入是多少", "一是坚决守牢底线。"),  # an enumeration marker
        ("乡村振兴有哪些重点任务", "部署抓好六项重点任务。"),  # not a quantity question
    ],
)
def test_number_score_is_zero_without_an_answering_quantity(question: str, sentence: str) -> None:
    assert number_score(question, sentence, ["收入"]) == 0.0


def test_number_score_ignores_the_questions_own_number() -> None:
    question = "2023年三级医院有多少家"
    assert number_score(question, "2023年三级医院。", ["三级医院"]) == 0.0
    assert number_score(question, "2023年三级医院3275家。", ["三级医院"]) > 0.9


def test_canonical_form_of_an_ordinal_and_a_range() -> None:
    assert canonical(Quantity(3.0, None, "第", "", 0, 3, "第三次")) == "第3"
    assert canonical(Quantity(2.0, 3.0, "个", "约", 0, 5, "约2—3个")) == "约2-3个"


_WORDS = (
    "脱贫 人口 收入 达到 一是 统一 第 十三五 两 三 十 百 千 万 亿 零 〇 余 多 约 近 超过 以上 左右 分之 百分之 个 元 年"
)
_PIECES = st.sampled_from([*_WORDS.split(), *"，。、%％成大—-~至到（）.．,， \n", "个百分点", "PM", "G"])
_NUMBERS = st.one_of(
    st.integers(min_value=0, max_value=10**9).map(str),
    st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False).map(str),
    st.text(alphabet="０１２３４５６７８９．，", min_size=1, max_size=6),
)
_TEXTS = st.lists(st.one_of(_PIECES, _NUMBERS), max_size=25).map("".join)


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_every_mention_is_the_verbatim_text_at_its_offsets_in_order(text: str) -> None:
    found = quantities(text)
    assert all(text[q.start : q.end] == q.raw and q.raw for q in found)
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))
    assert all(q.high is None or q.value <= q.high for q in found)


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_a_quote_supports_all_its_own_numbers(quote: str) -> None:
    assert unsupported_numbers(quote, [quote]) == []


def test_a_list_marker_after_a_sentence_end_is_not_a_number_so_joined_quotes_stay_supported() -> None:
    quotes = ["坚持稳中求进。", "1、加强基础设施建设。"]
    assert quantities("要求：1.加强领导；2.压实责任。") == []
    assert unsupported_numbers("……".join(quotes), quotes) == []


def parsed(question: str) -> Question:
    return parse_question(question, lambda text: tokenize(text, "char12"), lambda token: 1.0)


@pytest.mark.parametrize(
    ("question", "answer", "states"),
    [
        ("重庆出台了多少个衔接政策", "目前,重庆出台衔接政策130余个,", True),
        ("重庆共有多少个脱贫区县", "脱贫区县和脱贫群众发展动力明显增强,重庆出台衔接政策130余个", False),
        ("重庆共有多少个脱贫区县", "全市33个脱贫区县全部摘帽", True),
        ("重庆目前有多少户监测户", "脱贫产业覆盖90%以上脱贫户和监测户", False),  # a share is no count of 户
        ("重庆目前有多少户监测户", "纳入监测户1.2万户", True),
        ("吉林一次性扩岗补助每人多少钱", "按每人1500元的标准发放一次性扩岗补助", True),
        ("吉林一次性扩岗补助每人多少钱", "企业每招用1人给予一次性扩岗补助", False),
        ("宁波发了多少张消费券", "宁波市医疗保障局日前推出五项医保便民举措", False),
        ("视网膜中共有多少个视杆细胞", "人类视网膜中约有1.25亿个视杆细胞", True),
        ("初期的OVA价格最高到多少钱", "价格最高到14800日元", True),  # another currency is still money
        ("加拿大最大城市有多少人", "人口为2,790,060", True),  # a number without its unit may state it
        ("天文台于西元几年开始这项服务", "于1985年开始", True),  # a year is a quantity in 年
        ("全市建成的产业帮扶基地有几个", "打造产业帮扶基地5.6万个", True),  # 个 said, nothing counted after it
        ("脱贫人口收入是多少", "达到16118元", True),  # neither unit said nor noun counted: no demand
        ("2023年是哪一年", "二〇二三年", True),  # a time asked is not held to a unit
        ("新能源汽车车辆购置税减免政策延续到哪一年", "全省新能源汽车产量超过10万辆", False),  # which year: none said
        ("九三砲戰於何年爆發", "9月3日，解放軍對金門發動大規模的九三砲戰", False),  # a date is no year
        ("興義系軍閥在哪一年被王文華推翻", "於民國9年10月推翻", True),  # a year in any calendar
        ("《皇帝登寶位詔》在哪一年頒布", "庚申年四月四日，忽必烈發布稱帝的即位詔書", True),
        ("政策延续到哪一年", "今年继续实施", True),
        ("重庆今年专项债券额度是多少", "建立政府专项债券全生命周期管理机制", False),  # 多少 and no number
        (
            "北京市小客车指标配置数量是多少",
            "2025年1月14日在北京市第十六届人民代表大会第三次会议上",
            False,
        ),  # dates, ordinals
        ("俄罗斯失业率最高的地区是在哪里", "北高加索地区失业率最高", True),  # asks where, not how much
        ("有多少病人在征状出现的首个小时内死亡", "一半以上病人在征状出现的首个小时内死亡", True),
        ("林永康有几个孩子", "已婚，育有3名子女", True),  # counted under another name
        ("失业保险稳岗返还比例是多少", "在餐饮、零售、旅游等5个特困行业实施", False),  # a share needs a share
        ("失业保险稳岗返还比例是多少", "返还比例提高至企业上年度缴纳失业保险费的90%", True),
        ("粮食作物播种面积约占全省的多大比例", "约占全省总播种面积约四分之三", True),  # a fraction is a share
    ],
)
def test_an_answer_states_the_quantity_asked_in_its_unit_and_beside_what_is_counted(
    question: str, answer: str, states: bool
) -> None:
    assert states_asked(parsed(question), answer) is states
