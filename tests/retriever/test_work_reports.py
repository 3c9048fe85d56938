"""Questions about real work reports: the 2024 and 2025 national reports and three provinces' 2025 reports.

Staff ask "2024年政府工作报告里…有哪些措施". Searched with the document's name, such a question found the
report's own opening (各位代表：现在，我代表国务院，向大会报告政府工作…), which says 政府工作 and 报告 and
nothing else, and answered with it at high confidence. The name now picks the document; the rest of the
question is what is looked for in it.

A report reviews last year and plans this one in sections whose headings say which (一、2024年工作回顾,
二、2025年主要任务), often in near-identical sentences (建成102个“美丽街区” / 建成100个“美丽街区”). A question
saying 今年 or 去年 asks one of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingest.build import ensure_index
from ingest.config import BuildConfig, DataPaths
from ingest.library import Library
from ingest.lock import writer_lock
from retriever.pipeline import Retriever
from retriever.types import Answer
from tests.helpers import SHARED_DATA

pytestmark = pytest.mark.model

NATIONAL = SHARED_DATA / "gov_work_reports"
FILES = (
    NATIONAL / "2024_2024年中华人民共和国国务院政府工作报告.txt",
    NATIONAL / "2025_2025年中华人民共和国国务院政府工作报告.txt",
    SHARED_DATA / "provincial_reports_2025_docx" / "2025年四川省政府工作报告.docx",
    SHARED_DATA / "provincial_reports_2025_docx" / "2025年上海市政府工作报告.docx",
    SHARED_DATA / "provincial_reports_2025_docx" / "2025年贵州省政府工作报告.docx",
)
OPENING = "我代表国务院，向大会报告政府工作"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, real_embedder: Any) -> Retriever:
    """The five reports uploaded as files and indexed with the real model; the committed calibration."""
    paths = DataPaths(tmp_path_factory.mktemp("reports"))
    cfg = BuildConfig()
    with writer_lock(paths.root):
        library = Library(paths, cfg.chunk)
        try:
            for f in FILES:
                library.receive(f.name, Path(f).read_bytes())
            library.process_pending()
        finally:
            library.close()
    ensure_index(paths, None, cfg, real_embedder)
    return Retriever.open(paths.index, real_embedder)


def _title_of(retriever: Retriever, answer: Answer) -> str:
    return retriever.docs[answer.citations[0].doc_id].title


@pytest.mark.parametrize(
    ("question", "year"),
    [
        ("2024年政府工作报告在科技创新方面提出了哪些举措", "2024"),
        ("2025年政府工作报告对稳外贸提出了什么要求", "2025"),
        ("按照2024年政府工作报告，食品药品安全怎么抓", "2024"),
    ],
)
def test_a_question_naming_its_report_is_answered_from_that_reports_body(
    reports: Retriever, question: str, year: str
) -> None:
    answer = reports.ask(question)
    assert not answer.abstained
    assert OPENING not in answer.text and not answer.text.startswith("各位代表")
    assert f"{year}年中华人民共和国国务院政府工作报告" in _title_of(reports, answer)
    opening_end = reports.docs[answer.citations[0].doc_id].text.index(OPENING) + len(OPENING)
    assert all(c.start > opening_end for c in answer.citations if c.answer_part)


def test_a_question_naming_a_report_of_another_year_is_refused(reports: Retriever) -> None:
    """The 2024 report speaks of 2023 (its review of the year), but it is not the 2023 report asked for."""
    answer = reports.ask("2023年政府工作报告提出的经济增长目标是多少")
    assert answer.abstained and answer.features["missing_named"] == 1.0
    kept = reports.ask("2024年政府工作报告提出的经济增长目标是多少")  # the same question of a report it holds
    assert not kept.abstained and "5%左右" in kept.text


@pytest.mark.parametrize(
    ("question", "said", "not_said"),
    [
        ("上海去年新建了多少个美丽街区", "建成102个“美丽街区”", "100个"),  # the review of 2024
        ("上海今年要新建多少个美丽街区", "建成100个“美丽街区”", "102个"),  # the plan for 2025
        ("去年全国粮食产量是多少", "粮食产量首次跃上1.4万亿斤新台阶", "左右"),  # not the target 1.4万亿斤左右
    ],
)
def test_this_year_and_last_year_are_read_from_the_section_about_them(
    reports: Retriever, question: str, said: str, not_said: str
) -> None:
    answer = reports.ask(question)
    assert not answer.abstained
    assert said in answer.text and not_said not in answer.text


def test_a_named_reports_year_does_not_hold_back_its_review_of_the_year_before(reports: Retriever) -> None:
    """2025 names the report, not the year asked about: its problems are told in its review of 2024."""
    answer = reports.ask("2025年政府工作报告提到国内存在哪些困难")
    assert not answer.abstained and "2025年中华人民共和国国务院政府工作报告" in _title_of(reports, answer)
    text = reports.docs[answer.citations[0].doc_id].text
    review = (text.index("一、2024年工作回顾"), text.index("二、2025年经济社会发展总体要求"))
    assert all(review[0] < c.start < review[1] for c in answer.citations if c.answer_part)


def test_a_reports_front_matter_is_not_the_answer_its_body_is(reports: Retriever) -> None:
    """The 贵州 report's title says 贵州省 and 2025年, and a Word copy of a news page keeps ``来源：贵州日报`` under it.

    Its title line was the best sentence, and the passage under it began with the byline.
    """
    answer = reports.ask("贵州省2025年主要预期目标有哪些")
    assert not answer.abstained and "贵州省政府工作报告" in _title_of(reports, answer)
    assert answer.text.startswith("主要预期目标是：全省地区生产总值增长5.5%左右")
    assert "来源" not in answer.text and "各位代表" not in answer.text
