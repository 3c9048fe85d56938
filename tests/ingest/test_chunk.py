"""Tests for ingest.chunk: sentence splitting and structure-aware packing on the real seed, real
government work reports, a regulation with chapters and articles, tables, and generated text."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.chunk import chunk_document, heading_level, split_sentences
from ingest.config import ChunkConfig
from ingest.types import Chunk, Document, Span

NUMBER = re.compile(r"\d+(?:\.\d+)?")
ARTICLE = re.compile(r"^第[一二三四五六七八九十百零〇\d]+条", re.MULTILINE)
HEADING = "六项重点任务具体为:"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
REPORTS = SHARED / "gov_work_reports"
needs_reports = pytest.mark.skipif(not REPORTS.is_dir(), reason="the shared public data set is not on this machine")

# Pieces of policy prose; a generated text is a random mix of them.
PIECES = (
    "脱贫人口人均纯收入达到16118元、高出全国脱贫人口收入1776元。",
    "打造产业帮扶基地5.6万个,",
    "打造2—3个年销售额10亿元以上的“爆品”,",
    "他说：“要稳。要快。”",
    "然后继续推进。",
    "确保脱贫人口就业规模稳定在75万人以上；",
    "力争今年全市农产品加工总产值达到3967亿元！",
    "是否完成？",
    "全面推进农村厕所、垃圾、污水“三大革命”。",
    "总体思路要以‘1456’架构推动。",
    "对小型微利企业减按25%计入应纳税所得额;",
    "税率为20.5%!",
    "2024年3月1日",
    "会议指出，要坚决守住不发生规模性返贫这一条底线，聚焦稳定增收、补齐短板、激发动力、促进长效这四个关键",
    "\n",
    "\n",
    "\n一、总体要求\n",
    "\n（二）保障措施\n",
    "\n第三章 附则\n",
    "\n六项重点任务具体为:\n",
    "\n会上强调，今年重点抓好以下几个方面：\n",
    "\n一是加强组织领导，压实工作责任。\n",
    "\n（三）强化保障，推动各项措施落地见效。",
    "\n表1 主要指标\n",
    "\n指标：常住人口（万人）；2024年：3190；2025年：3191\n",
    "\n第十二条 本条例自2024年3月1日起施行。\n",
    "\n附件1\n",
)


def _doc(text: str, doc_id: str = "t") -> Document:
    return Document(doc_id=doc_id, title="测试", text=text)


def _texts(doc: Document, spans: list[Span]) -> list[str]:
    return [doc.text[s.start : s.end] for s in spans]


def _inside(span: Span, chunk: Chunk) -> bool:
    return chunk.start <= span.start and span.end <= chunk.end


def _check_invariants(doc: Document, chunks: list[Chunk], cfg: ChunkConfig) -> None:
    text = doc.text
    sentences = split_sentences(text)
    numbers = [m.span() for m in NUMBER.finditer(text)]
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.chunk_id == f"{doc.doc_id}:{c.start}-{c.end}"
        assert c.text and c.text == c.text.strip()
        assert not c.headings or not c.text.startswith(c.headings[-1]), "a chunk never repeats its own heading"
        for boundary in (c.start, c.end):
            assert not any(a < boundary < b for a, b in numbers), (boundary, c.text)
        if len(c.text) > cfg.max_chars:
            # One sentence, after at most heading lines or a lead too short to be a chunk of its own.
            *lead, last = split_sentences(text, c.start, c.end)
            lead_lines = text[c.start : last.start].splitlines()
            assert (
                not lead
                or lead[-1].end - c.start < cfg.max_chars // 3
                or all(heading_level(line) is not None for line in lead_lines if line.strip())
            ), c.text
    for s in sentences:
        assert any(_inside(s, c) for c in chunks), text[s.start : s.end]
    for article in (m.start() for m in ARTICLE.finditer(text)):
        for c in chunks:
            if c.start < article < c.end:  # only heading lines (第一章 总则) may come before an article in its chunk
                lines = text[c.start : article].splitlines()
                assert all(heading_level(line) is not None for line in lines if line.strip()), c.text
    for prev, nxt in itertools.pairwise(chunks):
        assert prev.start < nxt.start and prev.end < nxt.end
        if nxt.start < prev.end:
            shared = split_sentences(text, nxt.start, prev.end)
            assert len(shared) <= cfg.overlap_sentences
            assert shared[0] == Span(nxt.start, prev.end), "an overlap is one whole sentence"


def test_seed_chunk_text_equals_document_text_at_its_offsets(seed_docs: list[Document]) -> None:
    for doc in seed_docs:
        chunks = chunk_document(doc, ChunkConfig())
        assert chunks
        for c in chunks:
            assert doc.text[c.start : c.end] == c.text


def test_seed_chunks_keep_every_invariant(seed_docs: list[Document]) -> None:
    for cfg in (ChunkConfig(), ChunkConfig(max_chars=80), ChunkConfig(max_chars=500), ChunkConfig(overlap_sentences=0)):
        for doc in seed_docs:
            _check_invariants(doc, chunk_document(doc, cfg), cfg)


def test_seed_figures_16118_and_5_6_are_never_cut(seed_docs: list[Document]) -> None:
    doc = seed_docs[0]
    for cfg in (ChunkConfig(max_chars=m) for m in (20, 50, 80, 200)):
        chunks = chunk_document(doc, cfg)
        assert any("16118元" in c.text for c in chunks)
        assert any("5.6万个" in c.text for c in chunks)
        for c in chunks:
            assert not c.text.startswith(("6118", "118", ".6", "6万")), c.text
            assert not c.text.endswith(("1611", "161", "5.", "5")), c.text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(st.sampled_from(PIECES), min_size=0, max_size=40),
    max_chars=st.integers(min_value=10, max_value=300),
    overlap=st.sampled_from((0, 1)),
)
def test_generated_policy_text_chunks_keep_every_invariant(pieces: list[str], max_chars: int, overlap: int) -> None:
    doc = _doc("".join(pieces).strip())
    cfg = ChunkConfig(max_chars=max_chars, overlap_sentences=overlap)
    _check_invariants(doc, chunk_document(doc, cfg), cfg)


def test_a_blank_document_has_no_chunks() -> None:
    assert chunk_document(_doc(""), ChunkConfig()) == []
    assert chunk_document(_doc("\n  \n"), ChunkConfig()) == []


def test_a_chunk_longer_than_max_chars_is_a_single_sentence() -> None:
    long = "聚焦稳定增收、补齐短板、激发动力、促进长效这四个关键" * 3 + "。"
    lead = "会议指出要坚决守住不发生规模性返贫的底线。"
    doc = _doc(f"{lead}{long}短句二。")
    chunks = chunk_document(doc, ChunkConfig(max_chars=30))
    assert [c.text for c in chunks] == [lead, long, "短句二。"]


def test_a_sentence_too_short_to_be_a_chunk_takes_along_the_next_one_however_long() -> None:
    long = "聚焦稳定增收、补齐短板、激发动力、促进长效这四个关键" * 3 + "。"
    doc = _doc(f"短句一。{long}短句二。")
    chunks = chunk_document(doc, ChunkConfig(max_chars=30))
    assert [c.text for c in chunks] == ["短句一。" + long, "短句二。"]


def test_consecutive_chunks_share_exactly_the_last_sentence_when_it_fits() -> None:
    doc = _doc("第一句话很短。第二句话也短。第三句话还是短。第四句话依然短。")
    chunks = chunk_document(doc, ChunkConfig(max_chars=15, overlap_sentences=1))
    # The third sentence still fits after the second (15 chars); the fourth does not fit after the third.
    expected = ["第一句话很短。第二句话也短。", "第二句话也短。第三句话还是短。", "第四句话依然短。"]
    assert [c.text for c in chunks] == expected


def test_without_overlap_chunks_are_disjoint() -> None:
    doc = _doc("第一句话很短。第二句话也短。第三句话还是短。第四句话依然短。")
    chunks = chunk_document(doc, ChunkConfig(max_chars=15, overlap_sentences=0))
    assert [c.text for c in chunks] == ["第一句话很短。第二句话也短。", "第三句话还是短。", "第四句话依然短。"]


def test_split_sentences_cuts_at_full_and_half_width_end_marks_and_line_breaks() -> None:
    text = "一句。二句！三句？四句；五句;六句!七句?八句\n九句"
    assert _texts(_doc(text), split_sentences(text)) == [
        "一句。", "二句！", "三句？", "四句；", "五句;", "六句!", "七句?", "八句", "九句",
    ]  # fmt: skip


def test_split_sentences_does_not_cut_at_commas_colons_or_decimal_points() -> None:
    text = "打造产业帮扶基地5.6万个,脱贫产业覆盖90%以上脱贫户：税率20.5%，达到16118元。"
    assert split_sentences(text) == [Span(0, len(text))]


def test_a_quotation_with_full_stops_inside_is_not_split() -> None:
    text = "他说：“要稳。要快。”然后继续推进。"
    assert _texts(_doc(text), split_sentences(text)) == ["他说：“要稳。要快。”", "然后继续推进。"]


def test_a_sentence_takes_along_the_closing_quote_and_bracket_after_its_end_mark() -> None:
    text = "（要稳。）要快！”随后散会。"
    assert _texts(_doc(text), split_sentences(text)) == ["（要稳。）", "要快！”", "随后散会。"]


def test_split_sentences_reports_document_offsets_without_blank_space() -> None:
    text = "  前言。\n\n  第一句。 第二句。  \n"
    spans = split_sentences(text, 2)
    assert _texts(_doc(text), spans) == ["前言。", "第一句。", "第二句。"]
    assert spans[0].start == 2


def test_split_sentences_stays_inside_the_given_range() -> None:
    text = "甲句。乙句。丙句。丁句。"
    assert _texts(_doc(text), split_sentences(text, 3, 9)) == ["乙句。", "丙句。"]


def test_an_unclosed_quotation_does_not_swallow_the_sentences_of_the_next_line() -> None:
    text = "他说：“要稳。\n第二行。第三句。"
    assert _texts(_doc(text), split_sentences(text)) == ["他说：“要稳。", "第二行。", "第三句。"]


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("附件2", 0), ("第一编 总则", 1), ("第二章 保障措施", 2), ("第一节 一般规定", 3), ("第十二条", 4),
        ("一、总体要求", 5), ("（三）加强组织领导", 6), ("(三)加强组织领导", 6), ("3.工作目标", 7),
        ("3、工作目标", 7), ("（2）申报材料", 8), ("一是加强组织领导", 9), (HEADING, 10),
        ("一是坚决守牢防止返贫致贫底线。", None), ("第十二条 本条例自2024年3月1日起施行。", None),
        ("附件所列项目", None), ("3.5万人", None), ("", None), ("一、" + "很长" * 30, None),
    ],
)  # fmt: skip
def test_heading_level_recognises_annexes_chapters_articles_numbered_items_and_lead_in_lines(
    line: str, level: int | None
) -> None:
    assert heading_level(line) == level


def test_seed_heading_line_opens_its_own_chunk_as_its_first_sentence(seed_docs: list[Document]) -> None:
    chunks = chunk_document(seed_docs[0], ChunkConfig())
    (first,) = [c for c in chunks if "一是坚决守牢" in c.text]
    assert first.text.startswith(HEADING + "\n一是坚决守牢防止返贫致贫底线")


def test_seed_chunks_after_the_heading_carry_it_as_context_but_not_in_their_text(seed_docs: list[Document]) -> None:
    chunks = chunk_document(seed_docs[0], ChunkConfig())
    heading_at = next(i for i, c in enumerate(chunks) if c.text.startswith(HEADING))
    before, after = chunks[:heading_at], chunks[heading_at + 1 :]
    assert after and all(c.headings == (HEADING,) for c in after)
    assert all(not c.text.startswith(HEADING) and c.context.startswith(HEADING + "\n") for c in after)
    assert [c.text[:2] for c in after if c.text[:2] in ("二是", "三是", "四是", "五是", "六是")]
    assert all(c.headings == () for c in before)


def test_the_chunk_that_starts_with_a_heading_does_not_repeat_it_in_its_headings(seed_docs: list[Document]) -> None:
    chunks = chunk_document(seed_docs[0], ChunkConfig())
    (opening,) = [c for c in chunks if c.text.startswith(HEADING)]
    assert opening.headings == ()
    assert opening.context.count(HEADING) == 1


def test_nested_headings_form_a_path_and_a_sibling_replaces_its_predecessor() -> None:
    text = "一、总体要求\n正文甲。\n（一）指导思想\n正文乙。\n（二）基本原则\n正文丙。\n二、保障措施\n正文丁。"
    chunks = chunk_document(_doc(text), ChunkConfig(max_chars=200))
    by_body = {c.text.splitlines()[-1]: c.headings for c in chunks}
    assert by_body["正文乙。"][:1] == ("一、总体要求",)
    assert "（一）指导思想" not in by_body["正文丙。"]
    assert "一、总体要求" not in by_body["正文丁。"]
    for c in chunks:
        assert _doc(text).text[c.start : c.end] == c.text


# --- a regulation: chapters, articles, lists -----------------------------------------------------

# Modelled on the municipal 文明行为促进条例 that Chinese cities have enacted (official texts are public domain).
REGULATION = "\n".join(
    (
        "某市文明行为促进条例",
        "第一章 总则",
        "第一条 为了培育和践行社会主义核心价值观，引导和促进文明行为，提升公民文明素质和社会文明程度，"
        "根据有关法律、行政法规，结合本市实际，制定本条例。",
        "第二条 本市行政区域内文明行为的促进及其相关工作，适用本条例。",
        "第三条 本条例所称文明行为，是指遵守宪法和法律、法规规定，践行社会主义核心价值观，"
        "传承中华优秀传统文化，维护公序良俗、引领社会风尚、推动社会文明进步的行为。",
        "第二章 基本行为规范",
        "第四条 公民应当自觉遵守下列公共场所文明行为规范：",
        "（一）衣着得体，言行举止文明，不在公共场所大声喧哗；",
        "（二）咳嗽、打喷嚏时遮掩口鼻，不随地吐痰、便溺，不乱扔瓜果皮核、烟头、纸屑、口香糖等废弃物；",
        "（三）爱护公共设施，不在公共设施、树木、建筑物上涂写、刻画；",
        "（四）自觉排队，礼让他人，不插队、不抢座；",
        "（五）法律、法规规定的其他公共场所文明行为规范。",
        "第五条 公民应当自觉遵守下列交通文明行为规范：",
        "（一）机动车礼让行人，不随意变更车道，不违规占用应急车道；",
        "（二）非机动车和行人各行其道，不闯红灯，不翻越交通隔离设施。",
        "第三章 法律责任",
        "第六条 违反本条例第四条第二项规定，随地吐痰、便溺，乱扔瓜果皮核、烟头、纸屑、口香糖等废弃物的，"
        "由城市管理综合执法部门责令改正，处五十元以上二百元以下罚款。",
        "第七条 本条例自2024年3月1日起施行。",
    )
)


def test_every_article_starts_a_chunk_and_no_chunk_holds_two_articles() -> None:
    doc = _doc(REGULATION)
    for max_chars in (40, 80, 150, 400):
        cfg = ChunkConfig(max_chars=max_chars)
        chunks = chunk_document(doc, cfg)
        _check_invariants(doc, chunks, cfg)
        for c in chunks:
            assert len(ARTICLE.findall(c.text)) <= 1, c.text


def test_a_chapter_heading_opens_the_chunk_of_its_first_article_and_heads_the_rest() -> None:
    chunks = chunk_document(_doc(REGULATION), ChunkConfig())
    (opening,) = [c for c in chunks if c.text.startswith("第二章 基本行为规范")]
    assert opening.text.startswith("第二章 基本行为规范\n第四条 公民应当自觉遵守下列公共场所文明行为规范：")
    assert opening.headings == ()
    fifth = next(c for c in chunks if c.text.startswith("第五条"))
    assert fifth.headings[-1:] == ("第二章 基本行为规范",)
    assert not any(c.text == "第二章 基本行为规范" for c in chunks), "a heading is never a chunk of its own"


def test_a_list_under_a_lead_in_stays_whole_when_it_fits_and_its_pieces_carry_the_lead_in() -> None:
    doc = _doc(REGULATION)
    whole = chunk_document(doc, ChunkConfig(max_chars=400))
    (fourth,) = [c for c in whole if "第四条" in c.text and "（五）" in c.text]
    assert "（一）" in fourth.text and fourth.text.count("\n（") == 5
    cut = chunk_document(doc, ChunkConfig(max_chars=80))
    items = [c for c in cut if c.start > doc.text.index("第四条") and c.end <= doc.text.index("第五条")]
    assert len(items) >= 2
    for c in items[1:]:
        assert c.headings[-1] == "第四条 公民应当自觉遵守下列公共场所文明行为规范：", c.headings
    for item in re.findall(r"（[一二三四五]）[^\n]+", doc.text[doc.text.index("第四条") : doc.text.index("第五条")]):
        assert any(item in c.text for c in cut), f"an item that fits a chunk is never cut: {item}"


def test_a_long_article_is_cut_at_sentences_and_each_piece_carries_its_number() -> None:
    body = "".join(f"第{n}项工作应当按照规定的时限和程序办理完毕并向社会公开办理结果。" for n in range(1, 9))
    doc = _doc(f"第三章 监督管理\n第十条 {body}\n第十一条 本条例自公布之日起施行。")
    cfg = ChunkConfig(max_chars=80)
    chunks = chunk_document(doc, cfg)
    _check_invariants(doc, chunks, cfg)
    tenth = [c for c in chunks if c.end <= doc.text.index("第十一条")]
    assert len(tenth) > 2
    assert all(c.headings == ("第三章 监督管理", "第十条") for c in tenth[1:])
    assert chunks[-1].text == "第十一条 本条例自公布之日起施行。"


@st.composite
def _regulations(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for n in range(1, draw(st.integers(1, 12)) + 1):
        if draw(st.booleans()) and draw(st.booleans()):
            lines.append(f"第{n}章 {draw(st.sampled_from(['总则', '法律责任', '附则']))}")
        lines.append(f"第{n}条 " + "".join(draw(st.lists(st.sampled_from(PIECES[:13]), min_size=1, max_size=4))))
        for k in range(1, draw(st.integers(0, 3)) + 1):
            lines.append(f"（{'一二三'[k - 1]}）" + draw(st.sampled_from(PIECES[:13])))
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(PIECES[:13])))
    return "\n".join(lines)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_regulations(), max_chars=st.integers(min_value=10, max_value=300), overlap=st.sampled_from((0, 1)))
def test_generated_regulations_keep_offsets_and_never_run_across_an_article(
    text: str, max_chars: int, overlap: int
) -> None:
    doc = _doc(text)
    cfg = ChunkConfig(max_chars=max_chars, overlap_sentences=overlap)
    _check_invariants(doc, chunk_document(doc, cfg), cfg)


# --- real government work reports ----------------------------------------------------------------


def _report(name: str) -> Document:
    from ingest.clean import clean_text

    (path,) = REPORTS.glob(f"{name}_*.txt")
    return _doc(clean_text(path.read_text(encoding="utf-8")).text, doc_id=name)


@needs_reports
@pytest.mark.parametrize("name", ["1954", "1988", "2009", "2019", "2023", "2025"])
def test_real_reports_keep_every_invariant_at_sizes_near_max_chars(name: str) -> None:
    doc, cfg = _report(name), ChunkConfig()
    chunks = chunk_document(doc, cfg)
    _check_invariants(doc, chunks, cfg)
    sizes = sorted(len(c.text) for c in chunks)
    assert 100 <= sum(sizes) / len(sizes) <= cfg.max_chars
    assert sizes[len(sizes) // 2] <= cfg.max_chars


def _assert_a_chunk_starts_at(chunks: list[Chunk], start: int) -> None:
    assert any(c.start == start for c in chunks)
    assert not any(c.start < start < c.end for c in chunks)


@needs_reports
def test_a_report_section_starts_a_chunk_and_heads_every_chunk_under_it() -> None:
    doc = _report("2023")
    chunks = chunk_document(doc, ChunkConfig())
    section = "二、对今年政府工作的建议"
    start = doc.text.index(section)
    _assert_a_chunk_starts_at(chunks, start)
    under = [c for c in chunks if c.start > start]
    assert under and all(c.headings[:1] == (section,) for c in under)


@needs_reports
def test_a_numbered_report_item_starts_a_chunk_and_its_other_chunks_carry_its_section() -> None:
    doc = _report("2023")
    chunks = chunk_document(doc, ChunkConfig())
    item = "（二）如期打赢脱贫攻坚战，巩固拓展脱贫攻坚成果。"
    start = doc.text.index(item)
    end = doc.text.index("（三）", start)
    _assert_a_chunk_starts_at(chunks, start)
    rest = [c for c in chunks if start < c.start < end]
    assert rest and all(c.headings == ("一、过去一年和五年工作回顾",) for c in rest)


# --- tables --------------------------------------------------------------------------------------

ROW = "指标：地区生产总值（亿元）；2024年：32193.15；2025年：34100"


def test_a_table_row_is_one_sentence_and_prose_with_semicolons_is_not() -> None:
    assert split_sentences(ROW) == [Span(0, len(ROW))]
    assert split_sentences(f"  {ROW}\n下一行。") == [Span(2, 2 + len(ROW)), Span(3 + len(ROW), 7 + len(ROW))]
    prose = "对低收入户，要一户一策帮扶；对因病因残的，做好兜底保障；"
    assert len(split_sentences(prose)) == 2
    no_key = "地区生产总值（亿元）；2024年：32193.15；2025年：34100"  # the header's first cell was empty
    assert split_sentences(no_key) == [Span(0, len(no_key))]


def test_table_rows_are_never_cut_and_carry_the_table_caption_and_section() -> None:
    rows = [
        f"地区：第{n}区；常住人口（万人）：{300 + n}；地区生产总值（亿元）：{1000 + 17 * n}.5" for n in range(1, 13)
    ]
    text = "\n".join(["一、主要指标", "表1 2024年各区主要指标", *rows, "各区要按时报送上述数据。"])
    doc = _doc(text)
    for max_chars in (60, 150):
        cfg = ChunkConfig(max_chars=max_chars)
        chunks = chunk_document(doc, cfg)
        _check_invariants(doc, chunks, cfg)
        for row in rows:
            holders = [c for c in chunks if row in c.text]
            assert holders, f"a row is never cut: {row}"
            assert all(
                c.text.startswith("一、") or c.headings == ("一、主要指标", "表1 2024年各区主要指标") for c in holders
            )
        last = chunks[-1]
        assert rows[-1] in last.text or last.headings == ("一、主要指标",), "the caption heads only its rows"


def test_docx_table_rows_are_chunked_whole_under_their_caption_and_section() -> None:
    from ingest.readers import read_document

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "readers" / "report.docx"
    parsed = read_document(fixture.name, fixture.read_bytes())
    doc = _doc(parsed.text)
    rows = [line for line in doc.text.splitlines() if line.count("：") >= 2]
    assert len(rows) == 3
    for max_chars in (30, 60, 150):
        cfg = ChunkConfig(max_chars=max_chars)
        chunks = chunk_document(doc, cfg)
        _check_invariants(doc, chunks, cfg)
        for row in rows:
            (holder, *_) = [c for c in chunks if row in c.text]
            assert holder.headings[:1] == ("一、主要指标",) or holder.text.startswith("一、主要指标")
    first_row = next(c for c in chunk_document(doc, ChunkConfig(max_chars=30)) if c.text.startswith(rows[0]))
    assert first_row.headings == ("一、主要指标", "下表列出本年度需要重点监测的主要指标。")
