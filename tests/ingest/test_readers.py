"""Tests for ingest.readers: real files (the shared PDF and provincial .docx reports) and small
fixtures in ``tests/fixtures/readers`` (regenerate them with ``make_fixtures.py`` there)."""

from __future__ import annotations

import io
import itertools
import random
import zipfile
from datetime import date
from pathlib import Path

import pytest
from helpers import SHARED_DATA
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import DocumentError
from ingest.pdf_worker import layout_pages
from ingest.readers import SUPPORTED, ParsedDocument, ReadLimits, UnsupportedFormatError, read_document

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "readers"
SHARED = SHARED_DATA
PDF_397 = SHARED / "pdf_sample" / "397.pdf"
CHONGQING = SHARED / "provincial_reports_2025_docx" / "2025年重庆市政府工作报告.docx"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="the shared public data set is not on this machine")

SIMPLIFIED_SENTENCE = (
    "全面实施市场准入负面清单管理。清单之外不得另设门槛和隐性限制，"
    "对市场准入负面清单以外的行业、领域、业务等，各类市场主体皆可依法平等进入。"
)
TRADITIONAL_SENTENCE = (
    "全面實施市場准入負面清單管理。清單之外不得另設門檻和隱性限制，"
    "對市場准入負面清單以外的行業、領域、業務等，各類市場主體皆可依法平等進入。"
)
GOV_PAGE_PARAGRAPHS = (
    "为积极应对人口老龄化，加快发展社区养老服务，满足老年人多层次、多样化的养老服务需求，结合本市实际，制定本实施意见。",
    "一、总体目标。到2025年，全市社区养老服务设施覆盖率达到百分之百，街道综合养老服务中心实现全覆盖，社区养老服务网络更加完善。",
    "二、完善设施布局。新建居住区按照每百户不少于二十平方米的标准配建社区养老服务设施，并与住宅同步规划、同步建设、同步验收、同步交付使用。",
    "三、丰富服务内容。鼓励社区养老服务机构提供助餐、助浴、助洁、助医等上门服务，为失能老年人提供专业照护，支持家庭承担养老功能。",
    "四、加强人才队伍建设。对在社区养老服务机构从业的护理人员给予岗位补贴，开展职业技能培训，逐步提高养老护理人员的薪酬待遇和社会地位。",
    "五、强化组织保障。各区县人民政府要把社区养老服务纳入经济社会发展规划，加大财政投入，建立督查考核机制，确保各项措施落到实处。",
)
GOV_PAGE_CHROME = (
    "网站首页", "政务公开", "当前位置", "发布时间", "字号", "相关新闻", "市民政局召开养老服务工作推进会",
    "养老护理员职业技能竞赛", "主办单位", "版权所有", "ICP备", "公网安备", "网站地图", "联系我们",
    "SCRIPT_BODY_MUST_NOT_APPEAR", "color: red",
)  # fmt: skip
SMALL_BOMB_LIMITS = ReadLimits(max_inflated_bytes=2**20)
DEFAULT_LIMITS = ReadLimits()


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _read_fixture(name: str, limits: ReadLimits = DEFAULT_LIMITS) -> ParsedDocument:
    return read_document(name, _fixture(name), limits)


def _assert_clean_lines(text: str) -> None:
    assert "\r" not in text
    assert text
    for line in text.split("\n"):
        assert line, "blank line"
        assert line == line.strip(), f"unstripped line {line!r}"


def _assert_bilingual(message: str, zh: str, en: str, name: str) -> None:
    assert zh in message and en in message and repr(name) in message, message


# --- file names, sizes, emptiness -----------------------------------------------------------


def test_an_unsupported_extension_is_refused_with_the_supported_list() -> None:
    with pytest.raises(UnsupportedFormatError) as err:
        read_document("会议纪要.xlsx", b"PK\x03\x04")
    _assert_bilingual(str(err.value), "不支持的文件类型", "unsupported file type", "会议纪要.xlsx")
    assert all(ext in str(err.value) for ext in SUPPORTED)
    assert isinstance(err.value, DocumentError)


@pytest.mark.parametrize("filename", ["README", "policy.txt.exe", "docs.pdf/notes", "x.txt\\evil.bin"])
def test_only_the_extension_of_the_last_path_component_counts(filename: str) -> None:
    with pytest.raises(UnsupportedFormatError):
        read_document(filename, _fixture("policy_utf8.txt"))


@pytest.mark.parametrize("filename", ["../../x.txt", "/etc/passwd/../x.TXT", "C:\\Users\\张三\\报告.Txt", "a/b\\c.txt"])
def test_a_path_in_the_client_name_is_reduced_to_its_basename(filename: str) -> None:
    document = read_document(filename, _fixture("policy_utf8.txt"))
    assert document.fmt == "txt"
    with pytest.raises(DocumentError) as err:
        read_document(filename, b"")
    assert "/" not in str(err.value).split(":")[0] and "\\" not in str(err.value).split(":")[0]


@pytest.mark.parametrize("data", [b"", b"   \r\n\t  \n", b"\n\n"])
def test_an_empty_or_blank_file_is_refused(data: bytes) -> None:
    with pytest.raises(DocumentError) as err:
        read_document("empty.txt", data)
    _assert_bilingual(str(err.value), "文件为空", "the file is empty", "empty.txt")


def test_a_file_over_max_bytes_is_refused_before_it_is_read() -> None:
    with pytest.raises(DocumentError) as err:
        read_document("big.pdf", b"%PDF-" + b"x" * 200, ReadLimits(max_bytes=100))
    _assert_bilingual(str(err.value), "文件过大", "the file is too large", "big.pdf")
    assert "max_bytes=100" in str(err.value)


# --- .txt and .md -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("policy_utf8.txt", SIMPLIFIED_SENTENCE),
        ("policy_utf8_bom.txt", SIMPLIFIED_SENTENCE),
        ("policy_gbk.txt", SIMPLIFIED_SENTENCE),
        ("policy_big5.txt", TRADITIONAL_SENTENCE),
    ],
)
def test_utf8_bom_gbk_and_big5_text_files_decode_to_the_right_chinese(name: str, sentence: str) -> None:
    document = _read_fixture(name)
    assert sentence in document.text.split("\n")
    assert not document.text.startswith("\ufeff")
    assert document.title.endswith(("制度性交易成本的意见", "制度性交易成本的意見"))
    assert document.fmt == "txt" and document.pages == ()


def test_utf16_with_a_byte_order_mark_decodes() -> None:
    data = (SIMPLIFIED_SENTENCE + "\n").encode("utf-16")
    assert read_document("unicode.txt", data).text == SIMPLIFIED_SENTENCE


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa",
        random.Random(7).randbytes(4096),
        bytes(range(1, 9)) * 50 + "正文".encode(),
    ],
    ids=["png", "random-bytes", "control-bytes"],
)
def test_binary_content_with_a_text_extension_is_not_a_text_file(data: bytes) -> None:
    with pytest.raises(DocumentError) as err:
        read_document("photo.txt", data)
    _assert_bilingual(str(err.value), "不是文本文件", "not a text file", "photo.txt")


def test_a_scraped_page_saved_as_txt_loses_its_chrome_and_keeps_its_byline_facts() -> None:
    document = _read_fixture("scraped_page.txt")
    assert document.text.split("\n")[0] == "市政府召开常务会议 研究部署稳就业工作"
    assert "会议要求，各区县、各部门要压实工作责任" in document.text
    for chrome in ("首页 >", "发布时间", "打印本页", "相关新闻", "招聘会", "ICP备"):
        assert chrome not in document.text
    assert document.author == "张明"
    assert document.published == date(2024, 3, 1)
    assert document.title == "市政府召开常务会议 研究部署稳就业工作"


def test_a_line_break_next_to_a_mark_that_never_ends_or_starts_a_line_is_joined() -> None:
    raw = "国务院已经拟定了《\n关于开展全民义务植树运动的决议\n》，提请大会审定后公布执行。\n下一段。\n"
    document = read_document("report.txt", raw.encode())
    assert document.text == "国务院已经拟定了《关于开展全民义务植树运动的决议》，提请大会审定后公布执行。\n下一段。"


def test_markdown_loses_only_its_line_syntax() -> None:
    document = _read_fixture("notice.md")
    lines = document.text.split("\n")
    assert document.fmt == "md"
    assert document.title == "关于做好2024年春季学期学生资助工作的通知"
    assert lines[:3] == ["关于做好2024年春季学期学生资助工作的通知", "各区县教育局：", "一、资助范围"]
    assert "家庭经济困难的在校学生均可按规定申请国家助学金，学校应当在开学后一个月内完成认定工作。" in lines
    assert not any(line.startswith(("#", ">", "- ", "---", "|---")) for line in lines)
    assert "| 国家助学金 | 每生每年2000元 |" in lines


# --- .html ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gov_page.html", "gov_page_gbk.htm"])
def test_a_gov_page_keeps_its_article_and_loses_nav_related_news_and_footer(name: str) -> None:
    document = _read_fixture(name)
    lines = document.text.split("\n")
    assert all(paragraph in lines for paragraph in GOV_PAGE_PARAGRAPHS)
    for chrome in GOV_PAGE_CHROME:
        assert chrome not in document.text, chrome
    assert document.title == "关于加快发展社区养老服务的实施意见"
    assert document.published == date(2024, 3, 5)
    assert document.fmt == "html"


def test_escaped_markup_in_an_article_comes_out_as_plain_characters() -> None:
    document = _read_fixture("gov_page.html")
    assert "在页面中以文字形式出现的代码 <script>alert(1)</script> 只是普通字符" in document.text
    assert "&lt;" not in document.text


def test_a_page_title_loses_the_site_name_after_an_underscore() -> None:
    paragraph = (
        "<p>" + "各区县人民政府要把社区养老服务纳入经济社会发展规划，加大财政投入，确保各项措施落到实处。" * 3 + "</p>"
    )
    title = "<title>关于加快发展社区养老服务的实施意见_政策文件_某市人民政府</title>"
    html = f"<html><head>{title}</head><body>{paragraph}</body></html>"
    assert read_document("page.html", html.encode()).title == "关于加快发展社区养老服务的实施意见"


def test_a_tiny_page_falls_back_to_the_body_text_without_scripts() -> None:
    document = _read_fixture("tiny_page.html")
    assert document.text == "本周六全天停水。"
    assert document.title == "停水通知"


# --- .pdf -----------------------------------------------------------------------------------


@needs_shared
def test_the_real_pdf_has_its_doc_number_title_and_whole_sentences() -> None:
    document = read_document("397.pdf", PDF_397.read_bytes())
    lines = document.text.split("\n")
    # pypdf gives "〔2019〕860 号": the brackets survive, the typesetter's gap before 号 is removed.
    assert "发改办财金规〔2019〕860号" in lines
    assert document.title == "关于加强个人所得税纳税信用建设的通知"
    # Broken over three lines in the PDF.
    assert (
        "各省、自治区、直辖市、新疆生产建设兵团社会信用体系建设牵头部门，国家税务总局各省、自治区、直辖市和计划单列市"
        "税务局，社会信用体系建设部际联席会议成员单位办公厅（室）：" in lines
    )
    # Broken across pages 1 and 2, under a heading that stays on its own line.
    assert lines[lines.index("一、总体要求") + 1].startswith(
        "2019年1月1日起全面施行的《中华人民共和国个人所得税法》及其实施条例，是党中央、国务院着眼于优化税收制度、推动经济发展"
    )
    assert "（一）对个人所得税守信纳税人提供更多便利和机会" in lines
    assert "2019年8月20日" in lines and "— 1 —" not in document.text


@needs_shared
def test_the_real_pdf_page_spans_cover_the_text_in_order() -> None:
    document = read_document("397.pdf", PDF_397.read_bytes())
    spans = document.pages
    assert [span.page for span in spans] == [1, 2, 3, 4, 5]
    assert spans[0].start == 0 and spans[-1].end == len(document.text)
    for before, after in itertools.pairwise(spans):
        assert after.start in (before.end, before.end + 1)
        assert document.text[before.end : after.start] in ("", "\n")
    # The sentence broken across pages 1 and 2 is one line; the page boundary falls inside it.
    assert spans[0].end == spans[1].start
    assert document.text[spans[1].start :].startswith("经济发展、惠及百姓民生作出的一项重大决策部署。")


def test_page_layout_drops_page_numbers_and_running_headers_and_joins_broken_sentences() -> None:
    # Each page's first body line differs in more than digits (lines that differ only in digits repeat).
    body = "这是{n}页上一行排满的正文文字用来确定版心宽度并且没有句末标点所以"
    pages = [
        f"某某市人民政府办公厅文件\n{body.format(n=n)}\n应当与下一行连接。\n第{i}条 本办法自发布之日起施行。\n- {i} -"
        for i, n in enumerate("甲乙丙丁", 1)
    ]
    pages[1] = pages[1].replace("- 2 -", "第 2 页 共 4 页")
    text, spans = layout_pages(pages)
    assert "某某市人民政府办公厅文件" not in text
    assert "页 共" not in text and "- 1 -" not in text
    lines = text.split("\n")
    assert lines[:3] == [
        body.format(n="甲") + "应当与下一行连接。",
        "第1条 本办法自发布之日起施行。",
        body.format(n="乙") + "应当与下一行连接。",
    ]
    assert len(lines) == 8
    assert [page for _, _, page in spans] == [1, 2, 3, 4]


def test_page_layout_never_drops_a_repeated_sentence_as_a_running_header() -> None:
    text, _ = layout_pages(["本通知自发布之日起施行。\n正文第一页。", "本通知自发布之日起施行。\n正文第二页。"] * 2)
    assert text.count("本通知自发布之日起施行。") == 4


def test_page_layout_keeps_short_lines_and_headings_apart() -> None:
    page = "一、总体要求\n这是一行排满的正文文字用来确定版心宽度并且没有句末标点所以\n接着写完。\n"
    text, _ = layout_pages([page + "国家发展改革委办公厅\n2019 年 8 月 20 日"])
    assert text.split("\n") == [
        "一、总体要求",
        "这是一行排满的正文文字用来确定版心宽度并且没有句末标点所以接着写完。",
        "国家发展改革委办公厅",
        "2019年8月20日",
    ]


@pytest.mark.parametrize("name", ["blank_page.pdf", "scanned.pdf"])
def test_a_pdf_without_a_text_layer_is_refused_as_probably_scanned(name: str) -> None:
    with pytest.raises(DocumentError) as err:
        _read_fixture(name)
    _assert_bilingual(str(err.value), "PDF 没有文字层（可能是扫描件），无法检索", "the PDF has no text layer", name)


@pytest.mark.parametrize("source", ["malformed", "truncated"])
def test_a_malformed_or_truncated_pdf_is_refused_as_unparseable(source: str) -> None:
    if source == "truncated" and not PDF_397.is_file():
        pytest.skip("the shared PDF is not on this machine")
    data = _fixture("malformed.pdf") if source == "malformed" else PDF_397.read_bytes()[:3000]
    with pytest.raises(DocumentError) as err:
        read_document("bad.pdf", data)
    _assert_bilingual(str(err.value), "PDF 无法解析", "the PDF could not be parsed", "bad.pdf")


@needs_shared
def test_a_pdf_that_takes_longer_than_the_timeout_is_abandoned() -> None:
    with pytest.raises(DocumentError) as err:
        read_document("slow.pdf", PDF_397.read_bytes(), ReadLimits(pdf_timeout_s=0.001))
    _assert_bilingual(str(err.value), "PDF 无法解析", "no result after 0.001s", "slow.pdf")


@needs_shared
def test_a_pdf_with_more_than_max_pages_is_refused() -> None:
    with pytest.raises(DocumentError) as err:
        read_document("long.pdf", PDF_397.read_bytes(), ReadLimits(max_pages=2))
    assert "5 pages, more than max_pages=2" in str(err.value)


# --- .docx ----------------------------------------------------------------------------------


def test_a_docx_keeps_headings_paragraphs_and_tables_in_body_order() -> None:
    document = _read_fixture("report.docx")
    assert document.title == "关于印发2024年统计工作要点的通知"
    assert document.text.split("\n") == [
        "关于印发2024年统计工作要点的通知",
        "各区县统计局：现将2024年统计工作要点印发给你们，请结合实际认真贯彻落实。",
        "一、主要指标",
        "下表列出本年度需要重点监测的主要指标。",
        "指标：地区生产总值（亿元）；2024年：32193.15；2025年：34100",
        "指标：常住人口（万人）；2024年：3190；2025年：3191",
        "各单位要按时报送上述指标数据。",
        "项目：全市统计执法检查；完成时限：2024年底",
        "二、工作要求",
        "各地要加强组织领导，确保统计数据真实准确。",
    ]
    assert document.fmt == "docx" and document.author == "" and document.published is None


def test_a_docx_table_title_row_becomes_its_own_line_and_the_next_row_is_the_header() -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("一、主要指标")
    table = document.add_table(rows=4, cols=3)
    table.cell(0, 0).merge(table.cell(0, 2)).text = "2024年主要指标完成情况"
    for row, values in zip(
        table.rows[1:],
        (("指标", "目标", "完成"), ("地区生产总值增速", "6%左右", "5.7%"), ("城镇新增就业", "70万人", "71.9万人")),
        strict=True,
    ):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    out = io.BytesIO()
    document.save(out)
    assert read_document("table.docx", out.getvalue()).text.split("\n") == [
        "一、主要指标",
        "2024年主要指标完成情况",
        "指标：地区生产总值增速；目标：6%左右；完成：5.7%",
        "指标：城镇新增就业；目标：70万人；完成：71.9万人",
    ]


@needs_shared
def test_the_real_chongqing_report_reads_whole_with_its_headings() -> None:
    document = read_document(CHONGQING.name, CHONGQING.read_bytes())
    lines = document.text.split("\n")
    assert len(document.text) > 20_000 and "重庆" in document.text
    assert document.title == "2025年重庆市政府工作报告"
    assert {"一、2024年工作回顾", "二、2025年主要任务"} <= set(lines)
    assert lines.index("一、2024年工作回顾") < lines.index("二、2025年主要任务")
    _assert_clean_lines(document.text)


@needs_shared
def test_a_docx_copy_of_a_news_page_gives_its_byline_as_the_source_not_as_text() -> None:
    document = read_document(CHONGQING.name, CHONGQING.read_bytes())
    assert document.source == "重庆日报"
    assert "来源" not in document.text
    # Only the byline goes: the report's own front matter stays.
    assert document.title == "2025年重庆市政府工作报告"
    assert "各位代表：" in document.text.split("\n")[:8]


def test_a_zip_bomb_docx_is_refused_by_its_declared_size() -> None:
    with pytest.raises(DocumentError) as err:
        _read_fixture("zip_bomb.docx", SMALL_BOMB_LIMITS)
    _assert_bilingual(str(err.value), "DOCX 解压后过大（疑似压缩炸弹）", "possible zip bomb", "zip_bomb.docx")
    assert "declares" in str(err.value)


def test_a_zip_bomb_docx_that_lies_about_its_size_is_refused_by_what_it_inflates_to() -> None:
    with zipfile.ZipFile(io.BytesIO(_fixture("zip_bomb_lying.docx"))) as archive:
        assert archive.getinfo("word/document.xml").file_size == 1000  # the lie
    with pytest.raises(DocumentError) as err:
        _read_fixture("zip_bomb_lying.docx", SMALL_BOMB_LIMITS)
    _assert_bilingual(str(err.value), "疑似压缩炸弹", "possible zip bomb", "zip_bomb_lying.docx")
    assert "'word/document.xml' inflates past" in str(err.value)


def test_a_docx_with_more_zip_entries_than_allowed_is_refused() -> None:
    with pytest.raises(DocumentError) as err:
        _read_fixture("report.docx", ReadLimits(max_zip_entries=3))
    assert "more than max_zip_entries=3" in str(err.value)


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "zh"),
    [
        (b"this is plain text, not a zip", "DOCX 不是有效的 zip 文件"),
        (_zip({"notes.txt": "随便写的".encode()}), "DOCX 文件损坏或不是 Word 文档"),
        (_fixture("report.docx")[:5000], "DOCX 不是有效的 zip 文件"),
    ],
    ids=["not-a-zip", "zip-but-not-docx", "truncated"],
)
def test_a_docx_that_is_not_a_word_document_is_refused(data: bytes, zh: str) -> None:
    with pytest.raises(DocumentError) as err:
        read_document("broken.docx", data)
    assert zh in str(err.value) and "'broken.docx'" in str(err.value)


# --- every format -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["policy_utf8.txt", "policy_gbk.txt", "policy_big5.txt", "scraped_page.txt", "notice.md", "gov_page.html",
     "gov_page_gbk.htm", "tiny_page.html", "report.docx"],
)  # fmt: skip
def test_every_reader_returns_stripped_lines_without_blank_lines_or_carriage_returns(name: str) -> None:
    _assert_clean_lines(_read_fixture(name).text)


@needs_shared
def test_the_real_pdf_text_has_stripped_lines_without_blank_lines() -> None:
    _assert_clean_lines(read_document("397.pdf", PDF_397.read_bytes()).text)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(min_size=1, max_size=3000), ext=st.sampled_from([".txt", ".md", ".html", ".docx"]))
def test_arbitrary_bytes_either_read_into_clean_lines_or_raise_a_document_error(data: bytes, ext: str) -> None:
    try:
        document = read_document("upload" + ext, data)
    except DocumentError:
        return
    _assert_clean_lines(document.text)


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=500))
def test_any_utf8_text_with_visible_content_reads_into_clean_lines(text: str) -> None:
    try:
        document = read_document("note.txt", text.encode("utf-8"))
    except DocumentError:
        return
    _assert_clean_lines(document.text)
