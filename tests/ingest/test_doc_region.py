"""Tests for ingest.doc_region and the ``region`` a stored document carries: derived on parse, stored in
SQLite, written into the index, and filled in for databases made before regions existed."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ingest.build import ensure_index
from ingest.config import BuildConfig, ChunkConfig, DataPaths
from ingest.doc_region import document_region, region_named, with_region
from ingest.index_store import read_index
from ingest.store import Store
from ingest.types import Document

NATIONAL_REPORT = Path(__file__).resolve().parents[3] / "shared" / "data" / "gov_work_reports"


@pytest.mark.parametrize(
    ("title", "issuer", "text", "region"),
    [
        # the title is trusted first, then the issuer
        ("2025年重庆市政府工作报告", "", "各位代表：……北京……", ("重庆市",)),
        ("关于做好春耕工作的通知", "江西省农业农村厅", "各设区市农业农村局：", ("江西省",)),
        ("九江市出台十条措施", "江西省商务厅", "", ("江西省", "九江市")),
        ("江西九江小微企业减租", "", "", ("江西省", "九江市")),  # a later place inside the first makes it precise
        ("关于缓缴社保费的通知", "国家税务总局重庆市税务局", "", ("重庆市",)),
        ("渝中区开展安全生产检查", "", "", ("重庆市", "渝中区")),
        # national organs and titles give no region, whatever the body mentions
        ("关于某项工作的通知", "国务院", "各省、自治区、直辖市人民政府：上海、广东要带头。", ()),
        ("关于某项政策的公告", "财政部 税务总局", "在北京召开", ()),
        ("2025年中华人民共和国国务院政府工作报告", "", "香港、澳门……", ()),
        # then the dateline and the organ the lead names; a Beijing dateline is national news
        (
            "小微企业房租减免最长6个月",
            "",
            "小微企业房租减免 新华社南昌3月2日电 记者从有关部门获悉。",
            ("江西省", "南昌市"),
        ),
        ("稳就业举措出台", "", "稳就业举措出台 新华社北京7月12日电 会议要求各地稳就业。", ()),
        (
            "申报期限延长",
            "",
            "申报期限延长 今（30）日，记者从国家税务总局吉林省税务局获悉，申报期限延长。",
            ("吉林省",),
        ),
        # last, the start of the body; nothing at all gives ()
        ("关于调整停车收费标准的通知", "", "各区县：\n为规范贵阳市停车秩序，现通知如下。", ("贵州省", "贵阳市")),
        ("关于调整停车收费标准的通知", "某市发展改革委", "各区县：\n现通知如下。", ()),
    ],
)
def test_document_region_reads_title_issuer_dateline_then_body(
    title: str, issuer: str, text: str, region: tuple[str, ...]
) -> None:
    assert document_region(title, issuer, text) == region


def test_region_named_keeps_the_first_place_when_a_later_one_lies_elsewhere() -> None:
    assert region_named("重庆市 四川省联合印发") == ("重庆市",)
    assert region_named("") == ()


def test_the_national_report_has_no_region() -> None:
    text = (NATIONAL_REPORT / "2025_2025年中华人民共和国国务院政府工作报告.txt").read_text(encoding="utf-8")
    title = text.split("\n", 1)[0]
    assert document_region(title, "", text) == ()


def _doc(doc_id: str, title: str, text: str, issuer: str = "") -> Document:
    return Document(doc_id=doc_id, title=title, text=text, issuer=issuer, published=date(2024, 1, 2), sha256="ab" * 32)


def test_a_region_round_trips_through_rows_the_store_and_the_index(tmp_path: Path, hash_embedder: Any) -> None:
    doc = with_region(_doc("jj", "九江市出台十条措施", "九江市出台十条措施\n各县（市、区）：\n现通知如下。"))
    assert doc.region == ("江西省", "九江市")
    assert Document.from_row(json.loads(json.dumps(doc.to_row(), ensure_ascii=False))) == doc
    assert Document.from_row({k: v for k, v in doc.to_row().items() if k != "region"}).region == ()

    paths = DataPaths(tmp_path / "data")
    store = Store(paths.db)
    try:
        store.put_document(doc, [], "upload")
        assert store.documents() == [doc]
        assert store.status("jj").region == ("江西省", "九江市")  # type: ignore[union-attr]
    finally:
        store.close()
    ensure_index(paths, None, BuildConfig(chunk=ChunkConfig()), hash_embedder)
    assert read_index(paths.index).docs["jj"].region == ("江西省", "九江市")


# The documents table as the release before regions created it.
OLD_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '', author TEXT NOT NULL DEFAULT '', published TEXT,
    doc_number TEXT, issuer TEXT NOT NULL DEFAULT '', source_url TEXT,
    sha256 TEXT NOT NULL, origin TEXT NOT NULL, filename TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    status TEXT NOT NULL DEFAULT 'parsed', error TEXT, fmt TEXT NOT NULL DEFAULT '', pages TEXT NOT NULL DEFAULT '[]'
);
"""


def _old_database(path: Path, rows: list[tuple[str, str, str, str]]) -> None:
    """A database of the release before regions: ``(doc_id, title, text, issuer)`` rows, parsed."""
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.executemany(
        "INSERT INTO documents(doc_id, title, text, issuer, sha256, origin) VALUES (?, ?, ?, ?, ?, 'seed')",
        [(*row, "cd" * 32) for row in rows],
    )
    db.execute("INSERT INTO meta(key, value) VALUES ('version', '7')")
    db.commit()
    db.close()


def test_an_old_database_opens_with_regions_unknown_until_they_are_filled(tmp_path: Path, hash_embedder: Any) -> None:
    paths = DataPaths(tmp_path / "data")
    _old_database(
        paths.db,
        [
            ("gz", "贵阳市医保局答疑", "贵阳市医保局答疑\n参保人员可在线办理。", ""),
            ("gwy", "国务院关于某项工作的通知", "各省：\n现通知如下。", "国务院"),
        ],
    )
    store = Store(paths.db)
    try:
        assert {d.doc_id: d.region for d in store.documents()} == {"gwy": (), "gz": ()}
        assert {d.doc_id for d in store.documents(without_region=True)} == {"gz", "gwy"}
        version = store.version
    finally:
        store.close()

    ensure_index(paths, None, BuildConfig(chunk=ChunkConfig()), hash_embedder)

    store = Store(paths.db)
    try:
        assert {d.doc_id: d.region for d in store.documents()} == {"gwy": (), "gz": ("贵州省", "贵阳市")}
        assert store.documents(without_region=True) == []
        assert store.version > version
    finally:
        store.close()
    assert read_index(paths.index).docs["gz"].region == ("贵州省", "贵阳市")


def test_opening_a_database_twice_migrates_it_once(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path / "data")
    _old_database(paths.db, [("gz", "贵阳市医保局答疑", "参保人员可在线办理。", "")])
    first, second = Store(paths.db), Store(paths.db)
    try:
        columns = [row[1] for row in second.db.execute("PRAGMA table_info(documents)")]
        assert columns.count("region") == 1
    finally:
        first.close()
        second.close()


def test_a_corrected_region_is_stored_as_given(tmp_path: Path) -> None:
    store = Store(tmp_path / "data" / "zhengce.db")
    try:
        store.put_document(with_region(_doc("jj", "九江市出台十条措施", "现通知如下。")), [], "upload")
        assert store.update_metadata("jj", {"region": ["江西省", "赣州市"]})
        assert store.status("jj").region == ("江西省", "赣州市")  # type: ignore[union-attr]
        assert store.documents()[0].region == ("江西省", "赣州市")
    finally:
        store.close()
