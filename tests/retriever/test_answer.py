"""Pure tests of retriever.answer: question terms, coverage, joining sentences, supporting citations."""

from __future__ import annotations

import itertools
import math
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.chunk import split_sentences
from ingest.tokenize import tokenize
from ingest.types import Chunk, Document, Span
from retriever.answer import (
    Sentence,
    answer_clauses,
    answer_probability,
    answer_spans,
    cite,
    score_sentences,
    supporting,
)
from retriever.config import Abstention, AnswerConfig
from retriever.question import QUESTION_WORDS, Question, Terms, parse_question, question_terms
from retriever.spans import (
    clauses,
    context_span,
    enumeration,
    is_front_matter,
    is_heading,
    is_question_line,
    passage,
    without_title,
)
from retriever.types import Hit

DOC_ID = "cq"
CFG = AnswerConfig()


def char12(text: str) -> list[str]:
    return list(dict.fromkeys(tokenize(text, "char12")))


def chars(text: str) -> list[str]:
    return list(dict.fromkeys(text))


def unit_idf(token: str) -> float:
    return 1.0


def parsed(question: str) -> Question:
    return parse_question(question, char12, unit_idf)


def hit(text: str, start: int, end: int, rank: int = 0, doc_id: str = DOC_ID, score: float = 1.0) -> Hit:
    chunk = Chunk(f"{doc_id}:{start}-{end}", doc_id, rank, text[start:end], start, end)
    return Hit(chunk, score, rank, 1.0, 0.5, "fused")


def sentences_of(text: str) -> list[Span]:
    return split_sentences(text)


def sentence(text: str, span: Span, h: Hit, score: float = 0.0) -> Sentence:
    return Sentence(span, h, frozenset(chars(text[span.start : span.end])), score)


def test_question_terms_drop_the_question_words() -> None:
    terms = question_terms("脱贫人口收入是多少", char12, unit_idf)
    assert {"脱贫", "人口", "收入", "脱", "入"} <= set(terms.weights)
    assert not {"是", "多", "少", "多少", "是多", "入是"} & set(terms.weights)


def test_question_terms_drop_polite_and_wh_words_and_punctuation() -> None:
    terms = question_terms("请问“三大革命”是什么？", char12, unit_idf)
    assert set(terms.weights) >= {"三大", "革命"}
    assert not {"请", "问", "什么", "是", "？"} & set(terms.weights)
    assert QUESTION_WORDS.sub("", "哪些考核被评为好等次呢") == "考核被评为好等次"


def test_question_terms_weigh_each_term_by_its_idf() -> None:
    idf = {"收": 2.0, "入": 3.0, "收入": 5.0}
    terms = question_terms("收入是多少", char12, lambda t: idf.get(t, 0.0))
    assert dict(terms.weights) == {"收": 2.0, "入": 3.0, "收入": 5.0}
    assert terms.total == 10.0


def test_coverage_is_the_share_of_idf_weight_found() -> None:
    terms = Terms({"收入": 3.0, "脱贫": 1.0, "元": 1.0})
    assert terms.coverage(set()) == 0.0
    assert terms.coverage({"收入"}) == 0.6
    assert terms.coverage({"收入", "脱贫", "元", "其他"}) == 1.0
    assert terms.coverage(frozenset({"元"})) == 0.2


def test_coverage_can_count_only_terms_of_a_minimum_length() -> None:
    terms = Terms({"收入": 3.0, "收": 1.0, "入": 1.0})
    assert terms.coverage({"收", "入"}, min_len=2) == 0.0
    assert terms.coverage({"收入"}, min_len=2) == 1.0


def test_coverage_of_a_question_without_terms_is_zero() -> None:
    assert Terms({}).coverage({"收入"}) == 0.0
    assert Terms({"收入": 0.0}).coverage({"收入"}) == 0.0


LIST_TEXT = (
    "会议部署了重点任务。\n六项重点任务具体为:\n一是坚决守牢防止返贫致贫底线。\n"
    "二是打造千亿级生态特色产业。\n三是深化强村富民综合改革。"
)


def test_a_lead_in_line_ending_in_a_colon_is_joined_with_the_sentence_after_it() -> None:
    text = LIST_TEXT
    h = hit(text, 0, len(text))
    question = parsed("六项重点任务有哪些")
    terms = question.terms
    scored = score_sentences(question, [h], {DOC_ID: text}, char12, CFG)
    assert text[scored[0].span.start : scored[0].span.end] == "六项重点任务具体为:"
    spans = answer_spans(terms, scored, text, CFG)
    assert [text[s.start : s.end] for s in spans] == ["六项重点任务具体为:\n一是坚决守牢防止返贫致贫底线。"]


def test_a_sentence_before_a_lead_in_is_not_joined_by_the_lead_in_rule() -> None:
    text = LIST_TEXT
    h = hit(text, 0, len(text))
    lead, before = split_sentences(text)[1], split_sentences(text)[0]
    spans = answer_spans(Terms({"六": 1.0}), [sentence(text, lead, h), sentence(text, before, h)], text, CFG)
    assert spans == [lead]


INCOME_TEXT = "收入达到16118元。就业稳定。会议召开。就业扩大。"


def test_an_adjacent_sentence_joins_when_it_adds_join_gain_coverage() -> None:
    text = INCOME_TEXT
    s0, s1, _, _ = sentences_of(text)
    h = hit(text, 0, len(text))
    terms = Terms({"收": 4.0, "业": 1.0})  # the neighbour adds 0.2 ≥ join_gain 0.15
    spans = answer_spans(terms, [sentence(text, s0, h), sentence(text, s1, h)], text, CFG)
    assert spans == [Span(s0.start, s1.end)]


def test_a_distant_sentence_needs_the_larger_far_gain_to_join() -> None:
    text = INCOME_TEXT
    s0, _, _, s3 = sentences_of(text)
    h = hit(text, 0, len(text))
    small = Terms({"收": 4.0, "扩": 1.0})  # adds 0.2 < join_gain_far 0.25
    assert answer_spans(small, [sentence(text, s0, h), sentence(text, s3, h)], text, CFG) == [s0]
    large = Terms({"收": 1.0, "扩": 1.0})  # adds 0.5
    assert answer_spans(large, [sentence(text, s0, h), sentence(text, s3, h)], text, CFG) == [s0, s3]


def test_a_sentence_that_adds_no_coverage_is_not_joined() -> None:
    text = INCOME_TEXT
    s0, s1, _, _ = sentences_of(text)
    h = hit(text, 0, len(text))
    assert answer_spans(Terms({"收": 1.0}), [sentence(text, s0, h), sentence(text, s1, h)], text, CFG) == [s0]


def test_sentences_of_another_document_are_never_joined() -> None:
    text = INCOME_TEXT
    s0, s1, _, _ = sentences_of(text)
    mine, theirs = hit(text, 0, len(text)), hit(text, 0, len(text), rank=1, doc_id="other")
    scored = [sentence(text, s0, mine), sentence(text, s1, theirs)]
    spans = answer_spans(Terms({"收": 1.0, "业": 1.0}), scored, text, CFG)
    assert spans == [s0]


def test_an_answer_has_at_most_max_parts_sentences() -> None:
    text = "甲。乙。丙。丁。"
    h = hit(text, 0, len(text))
    spans = sentences_of(text)
    terms = Terms({"甲": 1.0, "乙": 1.0, "丙": 1.0, "丁": 1.0})
    scored = [sentence(text, s, h) for s in spans]
    assert answer_spans(terms, scored, text, AnswerConfig(max_parts=1)) == [spans[0]]
    assert answer_spans(terms, scored, text, AnswerConfig(max_parts=2)) == [Span(spans[0].start, spans[1].end)]
    assert answer_spans(terms, scored, text, AnswerConfig(max_parts=4)) == [Span(0, len(text))]


def test_score_sentences_counts_a_sentence_shared_by_two_chunks_once_and_sorts_best_first() -> None:
    text = INCOME_TEXT
    s0, s1, s2, _ = sentences_of(text)
    first, second = hit(text, s0.start, s1.end, rank=0), hit(text, s1.start, s2.end, rank=1, score=0.5)
    scored = score_sentences(parsed("收入是多少"), [first, second], {DOC_ID: text}, char12, CFG)
    assert [s.span for s in scored].count(s1) == 1
    assert {s.span for s in scored} == {s0, s1, s2}
    assert [s.score for s in scored] == sorted((s.score for s in scored), reverse=True)
    assert scored[0].span == s0
    for s in scored:
        assert s.hit.chunk.start <= s.span.start and s.span.end <= s.hit.chunk.end


def test_supporting_skips_what_is_taken_and_a_sentence_shared_by_two_chunks() -> None:
    text = INCOME_TEXT
    s0, s1, s2, _ = sentences_of(text)
    a, b = hit(text, s0.start, s1.end, rank=0), hit(text, s1.start, s2.end, rank=1)
    candidates = [
        sentence(text, s1, a, 0.9),
        sentence(text, s0, a, 0.8),
        sentence(text, s1, b, 0.9),  # the same sentence again, through the overlapping chunk
        sentence(text, s2, b, 0.1),
    ]
    picked = supporting(candidates, [(DOC_ID, s0)], limit=5)
    assert [(p.hit.rank, p.span) for p in picked] == [(0, s1), (1, s2)]


def test_supporting_with_limit_zero_picks_nothing() -> None:
    text = INCOME_TEXT
    s0, s1, _, _ = sentences_of(text)
    h = hit(text, 0, len(text))
    assert supporting([sentence(text, s1, h, 1.0)], [(DOC_ID, s0)], 0) == []


def test_supporting_does_not_confuse_equal_offsets_of_different_documents() -> None:
    text = INCOME_TEXT
    s0, _, _, _ = sentences_of(text)
    other = hit(text, 0, len(text), rank=1, doc_id="other")
    picked = supporting([sentence(text, s0, other, 1.0)], [(DOC_ID, s0)], 3)
    assert [p.hit.chunk.doc_id for p in picked] == ["other"]


SPAN_TEXT = "甲句。乙句。丙句。丁句。戊句。己句。"


@given(
    choices=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 3), st.floats(0, 2)), min_size=0, max_size=25
    ),
    taken=st.lists(st.integers(0, 5), max_size=3),
    limit=st.integers(0, 6),
)
def test_supporting_never_overlaps_anything_cited_and_takes_one_per_chunk(
    choices: list[tuple[int, int, int, float]], taken: list[int], limit: int
) -> None:
    text = SPAN_TEXT
    spans = sentences_of(text)
    candidates = []
    for first, length, rank, score in choices:
        last = min(first + length % 3, 5)
        h = hit(text, spans[first].start, spans[last].end, rank=rank)
        inside = [s for s in spans if h.chunk.start <= s.start and s.end <= h.chunk.end]
        candidates.append(sentence(text, inside[int(score * 10) % len(inside)], h, score))
    cited = [(DOC_ID, spans[i]) for i in taken]
    picked = supporting(candidates, cited, limit)
    assert len(picked) <= limit
    assert len({p.hit.chunk.chunk_id for p in picked}) == len(picked)
    all_spans = [s for _, s in cited] + [p.span for p in picked]
    for i, p in enumerate(picked):
        others = [s for j, s in enumerate(all_spans) if j != len(cited) + i]
        assert not any(p.span.start < o.end and o.start < p.span.end for o in others)


def test_cite_quotes_the_document_text_at_the_span_verbatim() -> None:
    doc = Document(DOC_ID, "重庆会议", INCOME_TEXT, published=date(2023, 8, 25), doc_number="渝府〔2023〕1号")
    s0 = sentences_of(doc.text)[0]
    h = hit(doc.text, 0, len(doc.text))
    c = cite(doc, s0, h.chunk, 0.123456)
    assert c.quote == doc.text[c.start : c.end] == "收入达到16118元。"
    assert (c.doc_id, c.title, c.chunk_id, c.score) == (DOC_ID, "重庆会议", h.chunk.chunk_id, 0.1235)
    assert (c.doc_number, c.published) == ("渝府〔2023〕1号", date(2023, 8, 25))


def test_answer_probability_is_the_logistic_of_the_weighted_features() -> None:
    model = Abstention(weights=(2.0, -1.0), bias=-0.5, threshold=0.5, features=("coverage", "dense"))
    p = answer_probability({"coverage": 0.75, "dense": 0.25, "unused": 9.0}, model)
    assert p == 1.0 / (1.0 + math.exp(-(-0.5 + 1.5 - 0.25)))
    assert answer_probability({"coverage": 0.0}, Abstention()) == 0.5


# --- clauses


def clause_texts(text: str) -> list[str]:
    return [text[s.start : s.end] for s in clauses(text, Span(0, len(text)))]


def test_a_sentence_splits_into_clauses_after_commas_semicolons_and_colons() -> None:
    text = "2022年，全市脱贫人口人均纯收入达到16118元、高出全国脱贫人口收入1776元；成效明显：群众满意。"
    assert clause_texts(text) == [
        "2022年，", "全市脱贫人口人均纯收入达到16118元、高出全国脱贫人口收入1776元；", "成效明显：", "群众满意。",
    ]  # fmt: skip


def test_no_clause_break_inside_quotes_brackets_or_a_number() -> None:
    text = "提出“稳就业，保民生”的要求（含县、乡，村），投入1,234万元，效果好。"
    assert clause_texts(text) == ["提出“稳就业，保民生”的要求（含县、乡，村），", "投入1,234万元，", "效果好。"]


@given(st.text(alphabet="脱贫人口收入，；：、。“”（）12,", max_size=40))
def test_clauses_cover_the_sentence_verbatim_in_order(text: str) -> None:
    spans = clauses(text, Span(0, len(text)))
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
    assert "".join(text[s.start : s.end] for s in spans) == "".join(text.split())


def _clause_answer(question: str, text: str) -> str:
    span = answer_clauses(parsed(question), Span(0, len(text)), text, char12)
    return text[span.start : span.end]


def test_a_number_question_is_answered_by_the_clause_with_the_number() -> None:
    text = "近年来，重庆坚持把增加脱贫群众收入作为根本措施，2022年全市脱贫人口人均纯收入达到16118元，增长14.5%。"
    assert _clause_answer("重庆脱贫人口人均纯收入是多少", text) == "2022年全市脱贫人口人均纯收入达到16118元，"


def test_a_time_question_is_answered_by_the_clause_with_the_time() -> None:
    text = "自19世纪晚期，天城文被定为梵语的标准书写系统，十分可能的原因是印刷习惯。"
    answer = _clause_answer("天城文在何时成为梵语的标准书写系统", text)
    assert answer == "自19世纪晚期，天城文被定为梵语的标准书写系统，"


def test_a_list_or_untyped_question_keeps_the_whole_sentence() -> None:
    text = "六项重点任务具体为：一是巩固成果，二是发展产业，三是促进就业。"
    assert _clause_answer("六项重点任务包括哪些", text) == text
    assert _clause_answer("重点任务是什么意思", text) == text


def test_the_context_of_a_clause_is_its_whole_sentence() -> None:
    text = "前言。2022年，全市脱贫人口人均纯收入达到16118元。后记。"
    chunk = Chunk(f"{DOC_ID}:0-{len(text)}", DOC_ID, 0, text, 0, len(text), ())
    clause = Span(text.index("全市"), text.index("元") + 1)
    context = context_span(text, clause, chunk)
    assert text[context.start : context.end] == "2022年，全市脱贫人口人均纯收入达到16118元。"


# --- enumerations and numbers


def _items(text: str) -> list[str]:
    lead_in = split_sentences(text)[0]
    return [text[s.start : s.end] for s in enumeration(text, lead_in)]


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("六项重点任务具体为:\n一是守牢底线,精准监测;\n二是打造产业,聚焦粮油。\n三是深化改革,系统推进。\n",
         ["一是守牢底线,", "二是打造产业,", "三是深化改革,"]),
        ("主要任务如下：\n（一）稳定就业。做好帮扶。\n（二）发展产业。\n", ["（一）稳定就业。", "（二）发展产业。"]),
        ("要求包括：\n1.加强领导；\n2.压实责任；\n3.强化考核。", ["1.加强领导；", "2.压实责任；", "3.强化考核。"]),
    ],
)  # fmt: skip
def test_a_lead_in_yields_every_item_of_its_enumeration(text: str, items: list[str]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(
    "text",
    [
        "六项重点任务具体为:一是守牢底线。",  # one item is not an enumeration
        "任务如下：\n二是打造产业。\n三是深化改革。",  # does not start at 1
        "任务很多。一是守牢底线。二是打造产业。",  # no lead-in
    ],
)
def test_no_enumeration_without_a_lead_in_and_two_items_from_the_first(text: str) -> None:
    assert _items(text) == []


def test_numbering_that_restarts_ends_the_enumeration() -> None:
    text = "任务如下：\n一是甲。\n二是乙。\n另有要求：\n一是丙。\n"
    assert _items(text) == ["一是甲。", "二是乙。"]


def test_a_quantity_question_prefers_the_sentence_whose_number_has_its_subject_and_unit() -> None:
    text = "全市二、三级医院床位达到30万张。全市三级医院床位达到12万张。全市三级医院数量达到60家。"
    doc = Document(DOC_ID, "t", text)
    hit = Hit(Chunk(f"{DOC_ID}:0-{len(text)}", DOC_ID, 0, text, 0, len(text), ()), 1.0, 0, 1.0, 0.5, "fused")
    question = "三级医院床位有多少张"
    best = score_sentences(parsed(question), [hit], {DOC_ID: doc.text}, char12, CFG)[0]
    assert text[best.span.start : best.span.end] == "全市三级医院床位达到12万张。"


NOTICE = (
    "关于支持企业复工复产的通知\n"
    "二、减免质量检验检测服务收费。\n"
    "对复工复产企业的检验检测服务费用减半收取；对小微企业免收检验检测费；受理后3个工作日内出具报告。\n"
    "三、加强用工保障。\n"
    "企业招工最高可获30万元补助。"
)
QA = (
    "23、被污染的污水、污物如何处理？答：应当按照规定进行严格消毒。消毒后方可排放。"
    "24、口罩怎么丢弃？答：投入有害垃圾桶。"
)


def _passage(text: str, first: str, max_chars: int = 300) -> list[str]:
    start = text.index(first)
    sentence = next(s for s in split_sentences(text) if s.start == start)
    return [text[s.start : s.end] for s in passage(text, sentence, max_chars)]


def test_a_heading_is_never_the_answer_its_body_is() -> None:
    assert _passage(NOTICE, "二、减免质量检验检测服务收费。") == [
        "对复工复产企业的检验检测服务费用减半收取；对小微企业免收检验检测费；受理后3个工作日内出具报告。"
    ]


def test_a_title_line_gives_way_to_the_body_up_to_the_next_heading() -> None:
    first_body = _passage(NOTICE, "关于支持企业复工复产的通知")
    assert first_body and not first_body[0].startswith("关于")


def test_a_passage_keeps_every_semicolon_item_of_its_paragraph_and_stops_at_the_line_end() -> None:
    assert _passage(NOTICE, "对复工复产企业") == [
        "对复工复产企业的检验检测服务费用减半收取；对小微企业免收检验检测费；受理后3个工作日内出具报告。"
    ]


def test_a_passage_stops_at_max_chars_in_whole_sentences_but_keeps_its_first_sentence() -> None:
    assert _passage(NOTICE, "对复工复产企业", max_chars=20) == ["对复工复产企业的检验检测服务费用减半收取；"]


def test_a_qa_documents_own_question_gives_way_to_its_answer() -> None:
    assert _passage(QA, "23、") == ["答：应当按照规定进行严格消毒。消毒后方可排放。"]


def test_headings_and_question_lines_are_told_from_running_text() -> None:
    spans = split_sentences(NOTICE)
    flags = [is_heading(NOTICE, s) for s in spans]
    assert flags[:3] == [True, True, False]
    assert is_question_line(QA, split_sentences(QA)[0])
    assert not is_question_line(QA, split_sentences(QA)[1])


def test_a_run_on_notices_headline_is_not_part_of_the_answer() -> None:
    text = "宁波出台18条措施 全力支持企业复工复产 新华社宁波2月16日电 企业招工最高可获30万元补助。"
    title = "宁波出台18条措施 全力支持企业复工复产"
    span = without_title(text, Span(0, len(text)), title)
    assert text[span.start : span.end] == "新华社宁波2月16日电 企业招工最高可获30万元补助。"
    assert without_title(text, Span(0, len(text)), "别的标题") == Span(0, len(text))
    assert without_title(title, Span(0, len(title)), title) == Span(0, len(title))  # nothing would be left


def test_a_marked_line_that_says_something_in_clauses_is_an_item_not_a_heading() -> None:
    text = "关于调整开关灯时间的通知\n一、夏季开灯时间为19时30分，关灯时间为次日5时。\n二、减免检测收费。\n特此通知。"
    spans = split_sentences(text)
    assert [is_heading(text, s) for s in spans] == [True, False, True, False]


def test_a_dateline_is_never_the_answer_even_run_into_its_headline() -> None:
    text = (
        "四川：服务业小微企业承租国有房屋 今年减免3至6个月租金 新华社成都5月10日电\n"
        "记者10日从四川省国资委获悉，四川近日出台租金减免通知。减免对象为服务业小微企业。"
    )
    first_line = split_sentences(text)[0]
    assert is_heading(text, first_line)
    assert _passage(text, "四川：服务业") == [
        "记者10日从四川省国资委获悉，四川近日出台租金减免通知。减免对象为服务业小微企业。"
    ]
    dateline = text.index("新华社")
    assert is_heading(text, Span(dateline, dateline + len("新华社成都5月10日电")))


REPORT_HEAD = (
    "2025年贵州省政府工作报告\n"
    "来源：贵州日报\n"
    "——2025年1月19日在贵州省第十四届人民代表大会第三次会议上\n"
    "省长 李炳军\n"
    "各位代表：\n"
    "现在，我代表省人民政府向大会报告工作，请予审议。\n"
)


def test_a_title_gives_way_to_the_body_after_its_byline() -> None:
    text = "关于延长申报期限的通知\n来源：重庆日报\n2月申报纳税期限延长至2月24日。"
    assert _passage(text, "关于延长") == ["2月申报纳税期限延长至2月24日。"]
    assert _passage(text, "来源：") == ["2月申报纳税期限延长至2月24日。"]  # a byline is not the answer either


def test_a_run_in_heading_gives_way_to_the_rest_of_its_paragraph() -> None:
    text = "三、重点任务\n坚持稳中求进。稳就业是民生之本；新增就业60万人。\n四、保障措施"
    assert _passage(text, "坚持稳中求进") == ["稳就业是民生之本；新增就业60万人。"]
    alone = "坚持稳中求进，稳就业是民生之本。\n四、保障措施"  # a sentence that says something is kept
    assert _passage(alone, "坚持稳中求进") == ["坚持稳中求进，稳就业是民生之本。"]


def test_the_front_matter_of_a_long_text_is_told_from_its_first_sentence() -> None:
    text = REPORT_HEAD + "主要预期目标是：地区生产总值增长5.5%左右。\n" * 80
    spans = split_sentences(text)
    flags = [is_front_matter(text, s) for s in spans]
    assert flags[:6] == [True, True, True, True, True, False]
    assert not any(flags[6:])
    assert not any(is_front_matter(REPORT_HEAD, s) for s in split_sentences(REPORT_HEAD))  # a short text: a notice


def test_the_front_matter_of_a_long_text_is_ranked_below_every_other_sentence() -> None:
    text = REPORT_HEAD + "其他工作。\n" * 300 + "主要预期目标是：地区生产总值增长5.5%左右。"
    doc_hit = hit(text, 0, len(text), rank=0)
    scored = score_sentences(parsed("贵州省2025年主要预期目标有哪些"), [doc_hit], {DOC_ID: text}, char12, CFG)
    assert text[scored[0].span.start : scored[0].span.end] == "主要预期目标是：地区生产总值增长5.5%左右。"
    front = [is_front_matter(text, s.span) for s in scored]
    assert front == sorted(front)  # every front-matter sentence after every other
