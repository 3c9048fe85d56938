"""Run-on single-line notices read through the upload path and answered with the real model.

The committed notices (``evals/notices/``) are one line each and named by a hash, as scraped pages
come; sibling regions hold near-identical notices. These tests check what a staff member sees:
real titles, the region a question names, and the answer after a Q&A notice's own question.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ingest.build import ensure_index
from ingest.config import BuildConfig, DataPaths
from ingest.library import Library
from ingest.lock import writer_lock
from retriever.config import load_config
from retriever.pipeline import Retriever

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def notices(tmp_path_factory: pytest.TempPathFactory, repo_root: Path, real_embedder: Any) -> Retriever:
    """The 26 notices uploaded as files; answers are never withheld, so the answer unit is what is tested."""
    paths = DataPaths(tmp_path_factory.mktemp("notices"))
    cfg = BuildConfig()
    with writer_lock(paths.root):
        library = Library(paths, cfg.chunk)
        try:
            for f in sorted((repo_root / "evals" / "notices").glob("*.txt")):
                library.receive(f.name, f.read_bytes())
            library.process_pending()
            assert [s.filename for s in library.store.statuses() if s.status == "failed"] == []
        finally:
            library.close()
    ensure_index(paths, None, cfg, real_embedder)
    config = load_config()
    never_withheld = replace(config.abstention, threshold=-math.inf, confident=-math.inf, rules=False)
    config = replace(config, abstention=never_withheld)
    return Retriever.open(paths.index, real_embedder, config)


def test_no_notice_is_titled_by_its_hash_and_each_gets_its_headline(notices: Retriever, repo_root: Path) -> None:
    lines = (repo_root / "evals" / "notices" / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    expected = {row["title"] for row in map(json.loads, lines)}
    titles = {d.title for d in notices.docs.values()}
    assert not [t for t in titles if re.fullmatch(r"[0-9a-f]{8,}", t)]
    assert len(titles & expected) >= 0.9 * len(expected)


def test_a_question_naming_a_province_is_answered_from_that_province(notices: Retriever) -> None:
    answer = notices.ask("江西省3月份申报纳税截止到哪天")
    assert notices.docs[answer.citations[0].doc_id].region[:1] == ("江西省",)
    assert "3月18日" in answer.text


def test_a_province_finds_the_notice_of_one_of_its_cities(notices: Retriever) -> None:
    answer = notices.ask("江西省对承租国有房产的中小微企业减免几个月房租")
    region = notices.docs[answer.citations[0].doc_id].region
    assert region[:1] == ("江西省",) and len(region) == 2  # 九江市 or 赣州市, never 四川, 吉林 or 重庆
    assert "房租" in answer.text


def test_a_qa_notice_answers_with_the_answer_not_its_own_question(notices: Retriever) -> None:
    answer = notices.ask("从省外低风险地区回九江要做些什么")
    assert "提前3天" in answer.text
    assert "？" not in answer.text.split("答：")[-1][:1]
    assert not answer.text.rstrip().endswith("？")


def test_a_measures_question_gets_the_passage_not_one_clause(notices: Retriever) -> None:
    answer = notices.ask("宁波支持企业复工复产有哪些减免房租和降低成本的措施")
    assert len(answer.text) > 60
    assert notices.docs[answer.citations[0].doc_id].region == ("浙江省", "宁波市")
    for c in answer.citations:
        assert notices.docs[c.doc_id].text[c.start : c.end] == c.quote
