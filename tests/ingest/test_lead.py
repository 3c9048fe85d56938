"""Tests for ingest.lead: the start of a news-style notice, and the stand-in titles a text gives."""

from __future__ import annotations

from datetime import date

import pytest

from ingest.lead import Lead, first_clause, looks_like_file_id, read_lead, strip_dateline


@pytest.mark.parametrize(
    ("line", "lead"),
    [
        (
            "江西出台稳就业措施 新华社南昌3月2日电（记者 张三）"
            "近日，江西省人力资源和社会保障厅、江西省财政厅联合印发通知。",
            Lead("江西出台稳就业措施", "南昌", "江西省人力资源和社会保障厅", None),
        ),
        (
            "吉林省出台措施 新华社长春2023年5月6日电 吉林省人民政府办公厅日前印发《若干措施》。",
            Lead("吉林省出台措施", "长春", "吉林省人民政府办公厅", date(2023, 5, 6)),
        ),
        (
            "山东出台细则 本报济南4月28日讯 记者从山东省财政厅获悉，2022年小微企业可减免房租。",
            Lead("山东出台细则", "济南", "山东省财政厅", date(2022, 4, 28)),
        ),
        (
            "为进一步做好农民工工资支付工作，宁波市人力资源和社会保障局近日出台十项措施。",
            Lead("", "", "宁波市人力资源和社会保障局", None),
        ),
    ],
)
def test_read_lead_finds_headline_dateline_organ_and_date(line: str, lead: Lead) -> None:
    assert read_lead(line) == lead


def test_a_dateline_without_a_year_takes_the_first_year_the_text_names() -> None:
    line = "江西延长申报期限 新华社南昌3月2日电 记者从国家税务总局江西省税务局获悉，申报期限延长。"

    assert read_lead(line).published is None
    assert read_lead(line, "江西省2020年3月份法定申报纳税期限延长至3月18日。").published == date(2020, 3, 2)


@pytest.mark.parametrize(
    ("text", "clause"),
    [
        ("为做好春节期间安全生产工作，市应急管理局近日部署开展安全生产大检查。", "为做好春节期间安全生产工作"),
        ("各单位：\n请于本周五前提交材料。", "各单位"),
        (
            "坚决守牢防止返贫致贫底线、打造千亿级特色生态产业、深化强村富民综合改革、推动宜居宜业和美乡村建设,8月24日",
            "坚决守牢防止返贫致贫底线、打造千亿级特色生态产业、深化强村富民综合改革…",
        ),
        ("", ""),
    ],
)
def test_first_clause_is_a_short_verbatim_start_of_the_text(text: str, clause: str) -> None:
    assert first_clause(text) == clause


@pytest.mark.parametrize(
    ("name", "is_id"),
    [
        ("3f9a0c2e7b1d4e5fa6c8b9d0e1f2a3b4.txt", True),
        ("3f9a0c2e7b1d4e5fa6c8b9d0e1f2a3b4", True),
        ("20200130_0017.pdf", True),
        ("关于停车收费的通知.txt", False),
        ("report_2024.txt", False),
        ("397", False),  # too short to tell; a title needs two Chinese characters anyway
    ],
)
def test_looks_like_file_id_tells_hashes_and_numbers_from_names(name: str, is_id: bool) -> None:
    assert looks_like_file_id(name) is is_id


@pytest.mark.parametrize(
    ("text", "stripped"),
    [
        ("新华社成都5月10日电", ""),
        ("今年减免3至6个月租金 新华社成都5月10日电", "今年减免3至6个月租金"),
        ("本报南昌讯", ""),
        ("记者10日从四川省国资委获悉", "记者10日从四川省国资委获悉"),
    ],
)
def test_strip_dateline_removes_a_dateline_at_the_end_only(text: str, stripped: str) -> None:
    assert strip_dateline(text) == stripped
