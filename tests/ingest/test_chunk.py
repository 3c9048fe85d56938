"""Tests for ingest.chunk: sentence splitting and chunk packing on the real seed and generated text."""

from __future__ import annotations

import itertools
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.chunk import chunk_document, heading_level, split_sentences
from ingest.config import ChunkConfig
from ingest.types import Chunk, Document, Span

NUMBER = re.compile(r"\d+(?:\.\d+)?")
HEADING = "六项重点任务具体为:"

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
        for boundary in (c.start, c.end):
            assert not any(a < boundary < b for a, b in numbers), (boundary, c.text)
        if len(c.text) > cfg.max_chars:
            assert len(split_sentences(text, c.start, c.end)) == 1, c.text
    for s in sentences:
        assert any(_inside(s, c) for c in chunks), text[s.start : s.end]
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
    doc = _doc(f"短句一。{long}短句二。")
    chunks = chunk_document(doc, ChunkConfig(max_chars=30))
    assert [c.text for c in chunks] == ["短句一。", long, "短句二。"]


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


def test_heading_level_recognises_chapters_numbered_items_and_lead_in_lines() -> None:
    assert heading_level("第二章 保障措施") == 0
    assert heading_level("一、总体要求") == 1
    assert heading_level("（三）加强组织领导") == 2
    assert heading_level("3.工作目标") == 3
    assert heading_level(HEADING) == 4
    assert heading_level("一是坚决守牢防止返贫致贫底线。") is None
    assert heading_level("3.5万人") is None
    assert heading_level("") is None
    assert heading_level("一、" + "很长" * 30) is None


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
