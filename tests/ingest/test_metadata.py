"""Tests for ingest.metadata: real PDF, .docx and .txt government documents, plus hand-written notices.

The real documents are read here with pypdf and python-docx directly (not through the project's
readers) so that these tests pin what ``extract_metadata`` makes of the text those libraries produce.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pypdf
import pytest
from docx import Document
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.metadata import (
    DOC_NUMBER,
    PolicyMetadata,
    extract_metadata,
    guess_title,
    normalize_doc_number,
    parse_chinese_date,
)

# shared/ lies beside the repository, here and in CI.
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
PDF_NOTICE = DATA / "pdf_sample" / "397.pdf"
REPORTS_TXT = DATA / "gov_work_reports"
REPORTS_DOCX = DATA / "provincial_reports_2025_docx"


def _pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)


def _docx_text(path: Path) -> str:
    return "\n".join(p.text for p in Document(str(path)).paragraphs if p.text.strip())


# A 国务院 notice laid out as GB/T 9704 prescribes; the title wraps over two lines and the body cites
# another document's 文号 and mentions a date, neither of which is this document's own.
STATE_COUNCIL_NOTICE = """国务院文件
国发〔2021〕1号
国务院关于加强基层公共服务
能力建设的通知
各省、自治区、直辖市人民政府，国务院各部委、各直属机构：
为贯彻落实《国务院办公厅关于推进基本公共服务均等化的意见》（国办发〔2019〕5号），自2021年3月1日起，\
各地要统筹推进基层公共服务能力建设。现就有关事项通知如下。
一、总体要求
各地区、各部门要充分认识加强基层公共服务能力建设的重要意义。
国务院
2021年1月4日
（此件公开发布）
"""

JOINT_NOTICE = """财政部 税务总局文件
财税［2023］12号
财政部 税务总局关于某项税费政策的通知
各省、自治区、直辖市财政厅（局），国家税务总局各省、自治区、直辖市税务局：
现将有关政策通知如下。
一、本通知自2023年1月1日起执行。
财政部
税务总局
2023年8月2日
"""


def test_the_pdf_notice_yields_its_own_number_title_issuers_and_signing_date() -> None:
    meta = extract_metadata(_pdf_text(PDF_NOTICE))

    assert meta.doc_number == "发改办财金规〔2019〕860号"
    assert "关于加强个人所得税纳税信用建设的通知" in meta.title
    # The signature block of the PDF reads "国家发展改革委办公厅" / "税务总局办公厅" / "2019 年 8 月 20 日".
    assert meta.issuer == "国家发展改革委办公厅 税务总局办公厅"
    assert meta.published == date(2019, 8, 20)


def test_the_pdf_notice_cites_other_numbers_in_its_body_that_are_not_taken() -> None:
    text = _pdf_text(PDF_NOTICE)
    found = [normalize_doc_number(m.group(0)) for m in DOC_NUMBER.finditer(text)]

    assert found[0] == "发改办财金规〔2019〕860号"
    assert {"国发〔2018〕41号", "国发〔2014〕21号", "国发〔2016〕33号", "国办发〔2019〕35号"} <= set(found)


def test_the_raw_doc_number_match_locates_the_number_as_the_pdf_spells_it() -> None:
    text = _pdf_text(PDF_NOTICE)
    m = DOC_NUMBER.search(text)

    assert m is not None
    assert text[m.start() : m.end()] == "发改办财金规〔2019〕860 号"


def test_every_national_report_and_resolution_gets_its_first_line_as_title_and_no_doc_number() -> None:
    paths = sorted(REPORTS_TXT.glob("*.txt"))
    assert len(paths) == 72

    for path in paths:
        text = path.read_text(encoding="utf-8")
        meta = extract_metadata(text)
        assert meta.title == text.splitlines()[0].strip(), path.name
        assert meta.doc_number is None, path.name
        if meta.published is not None and path.name[:4].isdigit():
            assert meta.published.year == int(path.name[:4]), path.name


def test_the_2025_national_report_has_its_title_and_no_number_issuer_or_date() -> None:
    text = (REPORTS_TXT / "2025_2025年中华人民共和国国务院政府工作报告.txt").read_text(encoding="utf-8")

    assert extract_metadata(text) == PolicyMetadata("2025年中华人民共和国国务院政府工作报告", None, "", None)


def test_a_1950s_report_in_traditional_characters_has_its_title() -> None:
    text = (REPORTS_TXT / "1954_1954年中华人民共和国国务院政府工作报告.txt").read_text(encoding="utf-8")

    assert "會議" in text
    assert extract_metadata(text).title == "1954年中华人民共和国国务院政府工作报告"


def test_a_report_wrapped_over_lines_takes_its_date_from_the_note_under_the_title() -> None:
    text = (REPORTS_TXT / "2017_2017年中华人民共和国国务院政府工作报告.txt").read_text(encoding="utf-8")

    assert "——2017年3月5日在第十二届全国人民代表大会第五次会议上" in text
    assert extract_metadata(text).published == date(2017, 3, 5)


def test_an_npc_resolution_is_issued_by_the_session_named_in_its_title_on_the_date_it_was_adopted() -> None:
    name = "resolution_第十四届全国人民代表大会第一次会议关于政府工作报告的决议.txt"
    meta = extract_metadata((REPORTS_TXT / name).read_text(encoding="utf-8"))

    assert meta.title == "第十四届全国人民代表大会第一次会议关于政府工作报告的决议"
    assert meta.issuer == "第十四届全国人民代表大会第一次会议"
    assert meta.published == date(2023, 3, 13)


@pytest.mark.parametrize(
    ("name", "published"),
    [("重庆市", date(2025, 1, 19)), ("北京市", date(2025, 1, 14)), ("内蒙古自治区", date(2025, 1, 14))],
)
def test_a_provincial_docx_report_has_its_title_and_the_date_it_was_delivered(name: str, published: date) -> None:
    path = REPORTS_DOCX / f"2025年{name}政府工作报告.docx"
    # The docx core title is empty in these files: an empty hint must fall back to the text.
    meta = extract_metadata(_docx_text(path), title_hint=Document(str(path)).core_properties.title)

    assert meta == PolicyMetadata(f"2025年{name}政府工作报告", None, "", published)


def test_every_provincial_docx_report_gets_a_title_naming_its_province_and_a_2025_date() -> None:
    paths = sorted(REPORTS_DOCX.glob("*.docx"))
    assert len(paths) == 31

    for path in paths:
        meta = extract_metadata(_docx_text(path))
        province = path.stem.removeprefix("2025年").removesuffix("政府工作报告")
        assert "政府工作报告" in meta.title and province in meta.title, path.name
        assert meta.doc_number is None, path.name
        assert meta.published is not None and (meta.published.year, meta.published.month) == (2025, 1), path.name


def test_a_state_council_notice_yields_its_header_number_joined_title_signature_and_date() -> None:
    meta = extract_metadata(STATE_COUNCIL_NOTICE)

    assert meta == PolicyMetadata(
        "国务院关于加强基层公共服务能力建设的通知", "国发〔2021〕1号", "国务院", date(2021, 1, 4)
    )


def test_a_joint_notice_names_both_issuers_in_signature_order() -> None:
    meta = extract_metadata(JOINT_NOTICE)

    assert meta == PolicyMetadata(
        "财政部 税务总局关于某项税费政策的通知", "财税〔2023〕12号", "财政部 税务总局", date(2023, 8, 2)
    )


def test_without_a_signature_the_issuers_come_from_the_title_prefix() -> None:
    text = "财政部、税务总局关于某项税费政策的通知\n各省财政厅：\n现将有关政策通知如下。"

    assert extract_metadata(text).issuer == "财政部 税务总局"


def test_a_forwarding_title_is_issued_by_the_organ_that_forwards() -> None:
    text = "国务院办公厅转发国家发展改革委关于某项工作意见的通知\n各省、自治区、直辖市人民政府：\n现转发给你们。"

    assert extract_metadata(text).issuer == "国务院办公厅"


def test_without_signature_or_title_prefix_the_issuer_comes_from_the_masthead() -> None:
    text = "国家发展和改革委员会文件\n发改投资〔2022〕7号\n关于某项投资工作的通知\n各省发展改革委：\n现通知如下。"
    meta = extract_metadata(text)

    assert (meta.issuer, meta.doc_number, meta.title) == (
        "国家发展和改革委员会",
        "发改投资〔2022〕7号",
        "关于某项投资工作的通知",
    )


def test_a_title_wrapped_before_its_final_de_joins_the_next_line() -> None:
    text = (
        "渝府办发〔2023〕12号\n重庆市人民政府办公厅关于印发重庆市某项工作实施方案\n的通知\n各区县人民政府：\n现印发。"
    )
    meta = extract_metadata(text)

    assert meta.title == "重庆市人民政府办公厅关于印发重庆市某项工作实施方案的通知"
    assert (meta.doc_number, meta.issuer) == ("渝府办发〔2023〕12号", "重庆市人民政府办公厅")


def test_an_organ_line_above_a_title_starting_with_guanyu_is_part_of_the_title() -> None:
    meta = extract_metadata("重庆市人民政府办公厅\n关于某项工作的通知\n各区县人民政府：\n现通知如下。")

    assert (meta.title, meta.issuer) == ("重庆市人民政府办公厅关于某项工作的通知", "重庆市人民政府办公厅")


def test_a_doc_number_cited_only_in_the_body_is_not_the_documents_own() -> None:
    text = (
        "关于做好某项工作的通知\n各区县人民政府：\n"
        "根据《国务院关于某项工作的通知》（国发〔2019〕5号），现将有关事项通知如下。\n"
        "国发〔2019〕5号\n"
    )

    assert extract_metadata(text).doc_number is None


def test_a_doc_number_standing_alone_beyond_the_header_is_not_taken() -> None:
    body = "\n".join(f"第{i}条 本条规定某项内容。" for i in range(1, 20))
    text = f"某项工作管理办法\n{body}\n国发〔2019〕5号\n"

    assert extract_metadata(text).doc_number is None


@pytest.mark.parametrize(
    "raw",
    [
        "国发〔2021〕1号",
        "国发[2021]1号",
        "国发［2021］1号",
        "国发（2021）1号",
        "国发(2021)1号",
        "国发【2021】1号",
        "国发 〔2021〕 1 号",
    ],
)
def test_every_bracket_variant_of_a_header_number_normalises_to_hexagonal_brackets(raw: str) -> None:
    meta = extract_metadata(f"国务院文件\n{raw}\n国务院关于某项工作的通知\n各省：\n现通知如下。")
    m = DOC_NUMBER.search(raw)

    assert meta.doc_number == "国发〔2021〕1号"
    assert m is not None and m.group(0) == raw


@pytest.mark.parametrize(
    ("question", "number"),
    [
        ("请问国办发〔2019〕5号文件讲了什么", "国办发〔2019〕5号"),
        ("按照财税[2019]13号的规定，小微企业怎么减税", "财税〔2019〕13号"),
        ("各部门要认真贯彻落实渝府办发（2023）12号精神", "渝府办发〔2023〕12号"),
        ("发改办财金规〔2019〕860 号和国发〔2021〕1号有什么关系", "发改办财金规〔2019〕860号"),
    ],
)
def test_a_doc_number_in_a_question_is_matched_without_the_words_before_it(question: str, number: str) -> None:
    assert normalize_doc_number(question) == number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019年7月23日", date(2019, 7, 23)),
        ("2019年07月23日", date(2019, 7, 23)),
        ("2019 年 8 月 20 日", date(2019, 8, 20)),
        ("2019-07-23", date(2019, 7, 23)),
        ("2019/7/23", date(2019, 7, 23)),
        ("二〇一九年七月二十三日", date(2019, 7, 23)),
        ("二○二一年十二月十日", date(2021, 12, 10)),
        ("二〇二一年一月四日", date(2021, 1, 4)),
        ("2019年2月30日", None),
        ("二〇一九年十十月一日", None),
        ("2019年7月23日起施行", None),
        ("", None),
    ],
)
def test_parse_chinese_date_reads_exactly_one_date_or_returns_none(text: str, expected: date | None) -> None:
    assert parse_chinese_date(text) == expected


def test_a_signature_dated_in_chinese_numerals_gives_the_date() -> None:
    text = "关于某项工作的通知\n各处室：\n现通知如下。\n国务院办公厅\n二〇一九年七月二十三日\n"
    meta = extract_metadata(text)

    assert (meta.issuer, meta.published) == ("国务院办公厅", date(2019, 7, 23))


def test_a_letter_spaced_pdf_signature_is_read_as_one_organ() -> None:
    text = "关于某项工作的通知\n各处室：\n现通知如下。\n国 务 院\n2021 年 1 月 4 日\n— 3 —\n"

    assert extract_metadata(text).issuer == "国务院"


def test_dates_in_body_sentences_are_never_the_published_date() -> None:
    text = "关于某项工作的通知\n各处室：\n本办法自2019年1月1日起施行。\n2018年12月1日前已受理的事项按原规定办理。\n"

    assert extract_metadata(text).published is None


def test_a_web_page_field_table_gives_number_issuer_and_the_date_it_was_written() -> None:
    text = (
        "索引号：000014349/2021-00001 主题分类：综合政务\n"
        "发文机关：国务院 成文日期：2021年01月04日\n"
        "标题：国务院关于某项工作的通知\n"
        "发文字号：国发〔2021〕1号 发布日期：2021年01月06日\n"
        "各省、自治区、直辖市人民政府：\n现通知如下。\n"
    )

    assert extract_metadata(text) == PolicyMetadata(
        "国务院关于某项工作的通知", "国发〔2021〕1号", "国务院", date(2021, 1, 4)
    )


def test_the_printing_line_of_the_colophon_dates_an_unsigned_document() -> None:
    text = "关于某项工作的通知\n各处室：\n现通知如下。\n抄送：各部委。\n国务院办公厅秘书局 2021年1月5日印发\n"

    assert extract_metadata(text).published == date(2021, 1, 5)


def test_a_title_hint_that_looks_like_a_title_wins_and_a_file_name_hint_is_ignored() -> None:
    text = "国务院文件\n国发〔2021〕1号\n国务院关于某项工作的通知\n各省：\n现通知如下。"

    assert extract_metadata(text, title_hint="关于某项工作的通知（修订稿）").title == "关于某项工作的通知（修订稿）"
    assert extract_metadata(text, title_hint="397").title == "国务院关于某项工作的通知"
    assert extract_metadata(text, title_hint="Microsoft Word - 某项工作的通知.doc").title == "某项工作的通知"


def test_a_notice_with_no_metadata_gives_empty_fields() -> None:
    text = "各单位：\n请于本周五前提交材料，逾期不再受理。\n谢谢配合。"

    assert extract_metadata(text) == PolicyMetadata("", None, "", None)


def test_empty_text_gives_empty_fields() -> None:
    assert extract_metadata("") == PolicyMetadata("", None, "", None)


_POLICY_PIECES = st.sampled_from(
    [
        "\n",
        " ",
        "国务院",
        "关于",
        "的通知",
        "文件",
        "国发",
        "〔",
        "〕",
        "[",
        "（",
        "）",
        "2021",
        "年",
        "月",
        "日",
        "号",
        "十",
        "二〇一九",
        "：",
        "。",
        "——",
        "— 1 —",
        "发文字号：",
        "成文日期：",
        "印发",
        "\u200b",
        "办公厅",
        "一",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_extract_metadata_never_raises_on_arbitrary_text(text: str) -> None:
    assert isinstance(extract_metadata(text, title_hint=text[:20]), PolicyMetadata)


@settings(max_examples=300, deadline=None)
@given(st.lists(_POLICY_PIECES, max_size=60).map("".join))
def test_extract_metadata_never_raises_on_text_made_of_policy_fragments(text: str) -> None:
    meta = extract_metadata(text)

    assert meta.doc_number is None or normalize_doc_number(meta.doc_number) == meta.doc_number


# --- news-style notices: one run-on line, a headline glued to its lead

RUN_ON = (
    '2月申报纳税期限延长至2月24日 重庆倡导"非接触式"办理税费业务 今（30）日，华龙网-新重庆客户端记者从'
    "国家税务总局重庆市税务局获悉，重庆市2月份申报纳税期限延长至2月24日。"
)


def test_a_run_on_notice_is_titled_by_its_headline_and_issued_by_the_organ_its_lead_names() -> None:
    meta = extract_metadata(RUN_ON)

    assert meta == PolicyMetadata(
        '2月申报纳税期限延长至2月24日 重庆倡导"非接触式"办理税费业务', None, "国家税务总局重庆市税务局", None
    )


@pytest.mark.parametrize(
    ("text", "title", "published"),
    [
        (
            "江西出台稳就业十条措施新华社南昌3月2日电（记者 张三）2020年以来，江西省稳就业成效明显。",
            "江西出台稳就业十条措施",
            date(2020, 3, 2),
        ),
        (
            "九江启动植树活动 本报讯 2024年3月12日，九江市林业局组织开展义务植树活动。",
            "九江启动植树活动",
            date(2024, 3, 12),
        ),
        ("关于个税汇算的问答 1、汇算什么时候开始？答：2024年3月1日开始。", "关于个税汇算的问答", None),
        (
            "宁波出台18条措施 全力支持企业复工复产 本报讯\n2月10日，宁波市人民政府办公厅印发《若干措施》。",
            "宁波出台18条措施 全力支持企业复工复产",
            None,
        ),
    ],
)
def test_a_headline_ends_where_its_dateline_or_lead_starts(text: str, title: str, published: date | None) -> None:
    meta = extract_metadata(text)

    assert (meta.title, meta.published) == (title, published)


def test_a_byline_source_that_is_an_organ_is_the_issuer_and_a_newspaper_is_not() -> None:
    text = "重庆扩大缓缴社会保险费政策范围\n为帮助企业纾困，重庆将缓缴政策实施范围扩大到餐饮、零售等行业。"

    assert extract_metadata(text, source="重庆市人力资源和社会保障局").issuer == "重庆市人力资源和社会保障局"
    assert extract_metadata(text, source="重庆日报").issuer == ""
    assert extract_metadata(text, source="新华社").issuer == ""


@pytest.mark.parametrize("hint", ["3f9a0c2e7b1d4e5fa6c8b9d0e1f2a3b4", "20200130_0017", "国务院文件", "国发〔2021〕1号"])
def test_a_hash_a_number_or_a_masthead_is_never_taken_as_a_title_hint(hint: str) -> None:
    text = "国务院文件\n国发〔2021〕1号\n国务院关于某项工作的通知\n各省：\n现通知如下。"

    assert extract_metadata(text, title_hint=hint).title == "国务院关于某项工作的通知"


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("国务院文件\n国发〔2021〕1号\n国务院关于某项工作的通知\n各省：", "国务院关于某项工作的通知"),
        ("3f9a0c2e7b1d4e5fa6c8b9d0e1f2a3b4\n正文第一句。", ""),
        (RUN_ON, '2月申报纳税期限延长至2月24日 重庆倡导"非接触式"办理税费业务'),
    ],
)
def test_guess_title_skips_mastheads_and_file_names_and_reads_a_run_on_headline(text: str, title: str) -> None:
    assert guess_title(text) == title
    assert guess_title(text, declared="3f9a0c2e7b1d4e5fa6c8b9d0e1f2a3b4") == title
    assert guess_title(text, declared="停水通知") == "停水通知"
