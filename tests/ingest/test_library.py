"""The library of uploaded documents (``ingest.library.Library``) on real files in a real data directory.

Receive → parse → (ensure_index) indexed; duplicates, refusals, parse failures with their reasons,
replacement, deletion of raw files, and recovery of uploads a crash left ``received``. The
embedding model plays no part here, so indexing uses the deterministic ``HashEmbedder``.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.build import ensure_index
from ingest.config import BuildConfig, ChunkConfig, DataPaths
from ingest.errors import DocumentError
from ingest.library import Library
from ingest.readers import ReadLimits, UnsupportedFormatError
from ingest.types import Document
from retriever.pipeline import Retriever

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
READERS = REPO / "tests" / "fixtures" / "readers"
UPLOADS = REPO / "tests" / "fixtures" / "uploads"
PDF = SHARED / "pdf_sample" / "397.pdf"
CHONGQING = SHARED / "provincial_reports_2025_docx" / "2025年重庆市政府工作报告.docx"
PARKING = UPLOADS / "parking_fees.txt"
PARKING_REVISED = UPLOADS / "parking_fees_revised_gbk.txt"
CHINESE = "\u4e00-\u9fff"


@pytest.fixture()
def paths(tmp_path: Path) -> DataPaths:
    """A fresh data directory."""
    return DataPaths(tmp_path / "data")


@pytest.fixture()
def library(paths: DataPaths) -> Iterator[Library]:
    """A library over the fresh data directory, with the default chunking and read limits."""
    lib = Library(paths, ChunkConfig())
    yield lib
    lib.close()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def raw_files(paths: DataPaths) -> set[str]:
    """The names of the raw files under ``files/``."""
    folder = paths.root / "files"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def stored(library: Library, doc_id: str) -> Document:
    """The parsed document as the store holds it."""
    return next(d for d in library.store.documents() if d.doc_id == doc_id)


def test_receive_stores_the_bytes_under_their_sha256_and_records_received(library: Library, paths: DataPaths) -> None:
    data = PARKING.read_bytes()
    got = library.receive(PARKING.name, data)
    digest = sha256(data)
    assert got.duplicate is False
    row = got.status
    assert (row.doc_id, row.status, row.filename, row.sha256) == (
        f"doc-{digest[:16]}",
        "received",
        PARKING.name,
        digest,
    )
    assert (row.error, row.n_chunks) == (None, 0)
    assert (paths.root / "files" / digest).read_bytes() == data
    assert raw_files(paths) == {digest}
    assert library.store.documents() == []  # acknowledged, not yet searchable


def test_a_received_upload_survives_closing_the_library(library: Library, paths: DataPaths) -> None:
    doc_id = library.receive(PARKING.name, PARKING.read_bytes()).status.doc_id
    library.close()
    reopened = Library(paths, ChunkConfig())
    try:
        row = reopened.store.status(doc_id)
    finally:
        reopened.close()
    assert row is not None
    assert row.status == "received"


@pytest.mark.parametrize(
    "client_name", ["../../evil.txt", "..\\..\\evil.txt", "/etc/cron.d/evil.txt", "C:\\Windows\\evil.txt"]
)
def test_a_client_path_is_kept_only_as_its_last_component_and_never_used_to_store(
    tmp_path: Path, library: Library, paths: DataPaths, client_name: str
) -> None:
    data = PARKING.read_bytes()
    row = library.receive(client_name, data).status
    assert row.filename == "evil.txt"
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert f"data/files/{sha256(data)}" in files
    assert all(f.startswith("data/") and "evil" not in f for f in files)
    assert not (tmp_path.parent / "evil.txt").exists()


def test_identical_bytes_are_a_duplicate_reporting_the_existing_document(library: Library, paths: DataPaths) -> None:
    data = PARKING.read_bytes()
    first = library.parse(library.receive(PARKING.name, data).status)
    version = library.store.version
    again = library.receive("renamed-copy.txt", data)
    assert again.duplicate is True
    assert again.status == first
    assert library.store.version == version
    assert [r.doc_id for r in library.store.statuses()] == [first.doc_id]
    assert raw_files(paths) == {sha256(data)}


def test_identical_bytes_of_a_document_not_yet_parsed_are_a_duplicate_too(library: Library) -> None:
    data = PARKING.read_bytes()
    first = library.receive(PARKING.name, data).status
    again = library.receive(PARKING.name, data)
    assert (again.duplicate, again.status.doc_id, again.status.status) == (True, first.doc_id, "received")


@pytest.mark.parametrize(
    ("name", "data", "error", "message"),
    [
        ("empty.txt", b"", DocumentError, "文件为空 / the file is empty"),
        ("blank.txt", b" \r\n\t \n", DocumentError, "文件为空 / the file is empty"),
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00", UnsupportedFormatError, "unsupported file type '.exe'"),
        ("README", "通知".encode(), UnsupportedFormatError, "unsupported file type '(none)'"),
        ("scan.bmp", b"BM\x00\x00", UnsupportedFormatError, "upload one of .docx, .htm, .html, .jpeg, .jpg"),
    ],
)
def test_a_refused_upload_stores_nothing(
    library: Library, paths: DataPaths, name: str, data: bytes, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        library.receive(name, data)
    assert library.store.statuses() == []
    assert library.store.version == 0
    assert raw_files(paths) == set()


def test_a_file_over_the_size_limit_is_refused_and_not_stored(paths: DataPaths) -> None:
    data = PARKING.read_bytes()
    small = Library(paths, ChunkConfig(), ReadLimits(max_bytes=len(data) - 1))
    try:
        with pytest.raises(DocumentError, match="文件过大 / the file is too large"):
            small.receive(PARKING.name, data)
        assert small.store.statuses() == []
    finally:
        small.close()
    assert raw_files(paths) == set()


FORMATS = [
    (READERS / "policy_utf8.txt", "txt", "关于进一步优化营商环境降低市场主体制度性交易成本的意见", "市场准入负面清单"),
    (PARKING_REVISED, "txt", "关于调整中心城区道路临时停车收费标准的通知（修订）", "工作日白天每半小时收费3元"),
    (UPLOADS / "heating_notice_big5.txt", "txt", "關於做好今冬明春城鎮集中供暖工作的通知", "不得低於攝氏18度"),
    (UPLOADS / "water_outage.md", "md", "关于城南片区计划停水的公告", "城南广场临时供水点免费取水"),
    (UPLOADS / "library_hours.html", "html", "关于调整市图书馆开放时间的公告", "每周一闭馆"),
    (READERS / "report.docx", "docx", "关于印发2024年统计工作要点的通知", "地区生产总值（亿元）"),
    (PDF, "pdf", "关于加强个人所得税纳税信用建设的通知", "个人所得税纳税信用"),
    (CHONGQING, "docx", "2025年重庆市政府工作报告", "32193.15亿元"),
]


@pytest.mark.parametrize(("path", "fmt", "title", "phrase"), FORMATS, ids=[f[0].name for f in FORMATS])
def test_parse_reads_each_format_into_chunks_that_are_the_text_at_their_offsets(
    library: Library, path: Path, fmt: str, title: str, phrase: str
) -> None:
    row = library.parse(library.receive(path.name, path.read_bytes()).status)
    assert (row.status, row.error, row.fmt, row.title) == ("parsed", None, fmt, title)
    assert row.n_chunks > 0
    doc = stored(library, row.doc_id)
    assert phrase in doc.text
    chunks = [c for _, c in library.store.chunks() if c.doc_id == row.doc_id]
    assert len(chunks) == row.n_chunks
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)


def test_the_pdf_is_parsed_with_its_doc_number_issuer_date_and_page_spans(library: Library) -> None:
    row = library.parse(library.receive(PDF.name, PDF.read_bytes()).status)
    assert (row.doc_number, row.published) == ("发改办财金规〔2019〕860号", "2019-08-20")
    assert "税务总局办公厅" in row.issuer
    doc = stored(library, row.doc_id)
    assert [page for _, _, page in doc.pages] == [1, 2, 3, 4, 5]
    assert doc.pages[0][0] == 0
    assert doc.pages[-1][1] == len(doc.text)
    assert doc.page_at(doc.text.index("发改办财金规〔2019〕860号")) == 1


FAILURES = [
    ("scan.pdf", (READERS / "scanned.pdf").read_bytes(), "PDF 没有文字层", "the PDF has no text layer"),
    ("broken.pdf", (READERS / "malformed.pdf").read_bytes(), "PDF 无法解析", "the PDF could not be parsed"),
    ("bomb.docx", (UPLOADS / "zip_bomb_256mib.docx").read_bytes(), "疑似压缩炸弹", "possible zip bomb"),
    ("lying.docx", (UPLOADS / "zip_bomb_256mib_lying.docx").read_bytes(), "疑似压缩炸弹", "possible zip bomb"),
    ("photo.txt", (UPLOADS / "photo.png").read_bytes(), "不是文本文件", "not a text file"),
    ("blank.txt", "\u3000\u3000\n\u3000 \n".encode(), "没有可检索的正文", "no text left to search"),
    ("not-word.docx", "这不是一个Word文件".encode(), "DOCX 不是有效的 zip 文件", "not a valid zip file"),
]


@pytest.mark.parametrize(("name", "data", "zh", "en"), FAILURES, ids=[f[0] for f in FAILURES])
def test_a_parse_failure_is_recorded_with_its_reason_in_chinese_and_english(
    library: Library, name: str, data: bytes, zh: str, en: str
) -> None:
    row = library.parse(library.receive(name, data).status)
    assert (row.status, row.n_chunks) == ("failed", 0)
    assert row.error is not None
    chinese, separator, english = row.error.partition("/")  # the name is quoted first and has no "/"
    assert separator, row.error
    assert zh in chinese
    assert re.search(f"[{CHINESE}]", chinese)
    assert en in english
    assert repr(name) in row.error
    assert library.store.documents() == []
    assert library.store.chunks() == []


def test_bytes_that_failed_can_be_sent_again_and_are_not_called_duplicates(library: Library) -> None:
    data = (READERS / "scanned.pdf").read_bytes()
    failed = library.parse(library.receive("scan.pdf", data).status)
    again = library.receive("scan.pdf", data)
    assert again.duplicate is False
    assert (again.status.doc_id, again.status.status, again.status.error) == (failed.doc_id, "received", None)


def test_replacing_keeps_the_doc_id_and_swaps_text_and_chunks(library: Library) -> None:
    first = library.parse(library.receive(PARKING.name, PARKING.read_bytes()).status)
    got = library.receive(PARKING_REVISED.name, PARKING_REVISED.read_bytes(), doc_id=first.doc_id)
    assert (got.duplicate, got.status.doc_id, got.status.status) == (False, first.doc_id, "received")
    assert "每小时收费8元" in stored(library, first.doc_id).text  # the old version serves until the new one parses
    (row,) = library.process_pending()
    assert (row.doc_id, row.status, row.filename) == (first.doc_id, "parsed", PARKING_REVISED.name)
    doc = stored(library, first.doc_id)
    assert "每半小时收费3元" in doc.text
    assert "每小时收费8元" not in doc.text
    chunks = [c for _, c in library.store.chunks()]
    assert len(chunks) == row.n_chunks
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)


def test_a_version_received_while_an_earlier_one_is_applied_stays_pending(library: Library, paths: DataPaths) -> None:
    # The server acknowledges a PUT while its indexer (another connection) applies the previous PUT of
    # the same document: applying v2 must not forget v3 (the crash loop lost an acknowledged version so).
    first = library.parse(library.receive(PARKING.name, PARKING.read_bytes()).status)
    library.receive("v2.txt", "关于停车收费的通知\n第二版：每小时收费5元。\n".encode(), doc_id=first.doc_id)
    [applying] = library.store.replacements()
    other = Library(paths, library.chunk)  # the server's request handler
    try:
        other.receive("v3.txt", "关于停车收费的通知\n第三版：每小时收费6元。\n".encode(), doc_id=first.doc_id)
    finally:
        other.close()
    library._apply_replacement(*applying)
    assert "第二版" in stored(library, first.doc_id).text
    library.process_pending()
    assert "第三版" in stored(library, first.doc_id).text
    assert library.store.replacements() == []


def test_replacing_with_the_same_bytes_is_a_duplicate_that_changes_nothing(library: Library) -> None:
    first = library.parse(library.receive(PARKING.name, PARKING.read_bytes()).status)
    version = library.store.version
    again = library.receive("again.txt", PARKING.read_bytes(), doc_id=first.doc_id)
    assert (again.duplicate, again.status) == (True, first)
    assert library.store.version == version


def test_replacing_removes_the_previous_versions_raw_file(library: Library, paths: DataPaths) -> None:
    first = library.parse(library.receive(PARKING.name, PARKING.read_bytes()).status)
    library.receive(PARKING_REVISED.name, PARKING_REVISED.read_bytes(), doc_id=first.doc_id)
    library.process_pending()
    assert raw_files(paths) == {sha256(PARKING_REVISED.read_bytes())}


def test_a_new_version_that_cannot_be_read_leaves_the_current_one_and_says_why(
    library: Library, paths: DataPaths
) -> None:
    first = library.parse(library.receive(PARKING.name, PARKING.read_bytes()).status)
    photo = (UPLOADS / "photo.png").read_bytes()
    got = library.receive("parking-v2.txt", photo, doc_id=first.doc_id)
    assert (got.duplicate, got.status.status) == (False, "received")
    (row,) = library.process_pending()
    assert (row.doc_id, row.status, row.filename, row.sha256) == (first.doc_id, "parsed", PARKING.name, first.sha256)
    assert row.error is not None
    assert "新版本未采用 / the new version was not used" in row.error
    assert "不是文本文件 / not a text file" in row.error
    assert "每小时收费8元" in stored(library, first.doc_id).text
    assert raw_files(paths) == {first.sha256}
    assert library.store.replacements() == []


def test_deleting_a_document_with_a_pending_new_version_removes_both_raw_files(
    library: Library, paths: DataPaths
) -> None:
    first = library.parse(library.receive(PARKING.name, PARKING.read_bytes()).status)
    library.receive(PARKING_REVISED.name, PARKING_REVISED.read_bytes(), doc_id=first.doc_id)
    assert raw_files(paths) == {first.sha256, sha256(PARKING_REVISED.read_bytes())}
    assert library.delete(first.doc_id) is True
    assert raw_files(paths) == set()
    assert library.process_pending() == []
    assert library.store.statuses() == []


def test_delete_removes_the_document_its_chunks_and_its_raw_file(library: Library, paths: DataPaths) -> None:
    keep = library.parse(library.receive(PDF.name, PDF.read_bytes()).status)
    gone = library.parse(library.receive(PARKING.name, PARKING.read_bytes()).status)
    assert library.delete(gone.doc_id) is True
    assert library.store.status(gone.doc_id) is None
    assert {c.doc_id for _, c in library.store.chunks()} == {keep.doc_id}
    assert raw_files(paths) == {keep.sha256}
    assert library.delete(gone.doc_id) is False
    assert library.delete("doc-never-was") is False


def test_delete_keeps_a_raw_file_another_document_still_uses(library: Library, paths: DataPaths) -> None:
    data = PARKING.read_bytes()
    a = library.parse(library.receive(PARKING.name, data).status)
    b = library.parse(library.receive(PDF.name, PDF.read_bytes()).status)
    library.receive("copy.txt", data, doc_id=b.doc_id)
    (b,) = library.process_pending()  # b now has a's bytes
    assert b.sha256 == a.sha256
    assert library.delete(a.doc_id) is True
    assert sha256(data) in raw_files(paths)
    reparsed = library.parse(library.receive("copy.txt", data, doc_id=b.doc_id).status)
    assert reparsed.status == "parsed"  # b's bytes are still readable
    assert library.delete(b.doc_id) is True
    assert sha256(data) not in raw_files(paths)


def test_process_pending_parses_only_received_documents(library: Library) -> None:
    parsed = library.parse(library.receive(PARKING.name, PARKING.read_bytes()).status)
    failed = library.parse(library.receive("scan.pdf", (READERS / "scanned.pdf").read_bytes()).status)
    waiting = library.receive(PDF.name, PDF.read_bytes()).status
    done = library.process_pending()
    assert [(r.doc_id, r.status) for r in done] == [(waiting.doc_id, "parsed")]
    assert library.store.status(parsed.doc_id) == parsed
    assert library.store.status(failed.doc_id) == failed
    version = library.store.version
    assert library.process_pending() == []
    assert library.store.version == version


# Receives each file, says so, and dies before parsing: what a crash (or a kill -9) leaves behind.
CRASHING_RECEIVER = """
import os, sys
from pathlib import Path
from ingest.config import ChunkConfig, DataPaths
from ingest.library import Library
library = Library(DataPaths(Path(sys.argv[1])), ChunkConfig())
for name in sys.argv[2:]:
    print(library.receive(Path(name).name, Path(name).read_bytes()).status.doc_id, flush=True)
os._exit(137)
"""


def _run_then_crash(script: str, *args: str) -> list[str]:
    """What a child process running ``script`` printed (its acknowledged doc_ids) before it was SIGKILLed."""
    crashed = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert crashed.returncode == 137, crashed.stderr
    return crashed.stdout.split()


def test_uploads_a_crash_left_received_are_parsed_and_indexed_on_the_next_update(
    paths: DataPaths, hash_embedder: Any
) -> None:
    files = [PARKING, PDF, UPLOADS / "water_outage.md", READERS / "malformed.pdf"]
    doc_ids = _run_then_crash(CRASHING_RECEIVER, str(paths.root), *map(str, files))
    assert len(doc_ids) == len(files)
    library = Library(paths, ChunkConfig())
    try:
        assert [library.store.status(d).status for d in doc_ids] == ["received"] * len(files)  # type: ignore[union-attr]
        manifest = ensure_index(paths, None, BuildConfig(), hash_embedder)
        rows = [library.store.status(d) for d in doc_ids]
    finally:
        library.close()
    assert [r.status for r in rows if r is not None] == ["indexed", "indexed", "indexed", "failed"]
    assert manifest.n_docs == 3
    served = Retriever.open(paths.index, hash_embedder).docs
    assert set(served) == set(doc_ids[:3])
    assert "城南广场临时供水点免费取水" in served[doc_ids[2]].text


def test_process_pending_completes_what_a_crash_left_received(paths: DataPaths) -> None:
    doc_ids = _run_then_crash(CRASHING_RECEIVER, str(paths.root), str(PARKING), str(CHONGQING))
    library = Library(paths, ChunkConfig())
    try:
        done = library.process_pending()
        assert sorted(r.doc_id for r in done) == sorted(doc_ids)
        assert all(r.status == "parsed" and r.n_chunks > 0 for r in done)
        assert library.store.statuses(status="received") == []
    finally:
        library.close()


def test_a_failed_document_is_never_indexed_and_the_others_are(paths: DataPaths, hash_embedder: Any) -> None:
    library = Library(paths, ChunkConfig())
    try:
        good = library.receive(PARKING.name, PARKING.read_bytes()).status.doc_id
        bad = library.receive("photo.txt", (UPLOADS / "photo.png").read_bytes()).status.doc_id
        ensure_index(paths, None, BuildConfig(), hash_embedder)
        statuses = {r.doc_id: r.status for r in library.store.statuses()}
    finally:
        library.close()
    assert statuses == {good: "indexed", bad: "failed"}
    assert set(Retriever.open(paths.index, hash_embedder).docs) == {good}


# Sends a new version of a document and dies before it is parsed.
CRASHING_REPLACER = """
import os, sys
from pathlib import Path
from ingest.config import ChunkConfig, DataPaths
from ingest.library import Library
library = Library(DataPaths(Path(sys.argv[1])), ChunkConfig())
library.receive(Path(sys.argv[3]).name, Path(sys.argv[3]).read_bytes(), doc_id=sys.argv[2])
os._exit(137)
"""


def test_a_new_version_a_crash_left_pending_is_applied_by_the_next_update(paths: DataPaths, hash_embedder: Any) -> None:
    library = Library(paths, ChunkConfig())
    try:
        doc_id = library.receive(PARKING.name, PARKING.read_bytes()).status.doc_id
    finally:
        library.close()
    ensure_index(paths, None, BuildConfig(), hash_embedder)
    _run_then_crash(CRASHING_REPLACER, str(paths.root), doc_id, str(PARKING_REVISED))
    assert "每小时收费8元" in Retriever.open(paths.index, hash_embedder).docs[doc_id].text
    ensure_index(paths, None, BuildConfig(), hash_embedder)
    served = Retriever.open(paths.index, hash_embedder).docs[doc_id]
    assert "每半小时收费3元" in served.text
    assert "每小时收费8元" not in served.text
