"""How far OCR of a scan is: reported page by page by the real worker and Tesseract, recorded on the document's
row in the real SQLite store while it is read (and seen there from another connection), and cleared after.

The scans are made in the test from known text (``fixtures.ocr.scans``); nothing is mocked.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from fixtures.ocr.scans import image_pdf, needs_ocr, png, text_image

from ingest.audit import AuditQuery
from ingest.chunk import chunk_document
from ingest.config import ChunkConfig, DataPaths
from ingest.library import Library
from ingest.readers import read_document
from ingest.store import Store
from ingest.types import DocStatus, Document

NOTICE = [
    "关于做好2025年春季农业生产工作的通知",
    "各县（市、区）农业农村局：",
    "一、各地要在3月15日前完成春耕备耕物资储备情况摸底。",
    "二、种粮大户每亩补贴标准提高到120元。",
]
SHA = "ab" * 32


def _status_of(store: Store, doc_id: str) -> DocStatus:
    status = store.status(doc_id)
    assert status is not None, doc_id
    return status


def _progress_of(store: Store, doc_id: str) -> str | None:
    return _status_of(store, doc_id).progress


@needs_ocr
def test_reading_a_three_page_scan_reports_each_page_in_order() -> None:
    calls: list[tuple[int, int]] = []
    document = read_document("三页扫描件.pdf", image_pdf([text_image(NOTICE)] * 3), progress=lambda *c: calls.append(c))
    assert document.ocr_pages == (1, 2, 3)
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]


@needs_ocr
def test_an_image_reports_its_one_page_and_a_text_file_reports_nothing() -> None:
    calls: list[tuple[int, int]] = []
    read_document("通知.png", png(text_image(NOTICE)), progress=lambda *c: calls.append(c))
    assert calls == [(0, 1), (1, 1)]
    calls.clear()
    read_document("通知.txt", "\n".join(NOTICE).encode(), progress=lambda *c: calls.append(c))
    assert calls == []


def test_progress_round_trips_without_a_version_bump_or_an_audit_record(store: Store) -> None:
    store.add_received("scan", "扫描件.pdf", SHA, "upload")
    version = store.version
    assert _progress_of(store, "scan") is None
    store.set_progress("scan", "OCR 3/10 页")
    assert _progress_of(store, "scan") == "OCR 3/10 页"
    assert store.version == version
    assert store.audit_records(AuditQuery(doc_id="scan")) == []
    store.set_progress("scan", None)
    assert _progress_of(store, "scan") is None


def test_progress_is_cleared_when_the_status_changes(store: Store) -> None:
    store.add_received("scan", "扫描件.pdf", SHA, "upload")
    store.set_progress("scan", "OCR 1/2 页")
    store.set_status("scan", "failed", "OCR 超时")
    assert (_status_of(store, "scan").status, _progress_of(store, "scan")) == ("failed", None)

    doc = Document(doc_id="scan", title="通知", text="\n".join(NOTICE), sha256=SHA)
    store.set_progress("scan", "OCR 2/2 页")
    store.put_document(doc, chunk_document(doc, ChunkConfig()), "upload", "扫描件.pdf", "pdf")
    assert (_status_of(store, "scan").status, _progress_of(store, "scan")) == ("parsed", None)

    store.set_progress("scan", "OCR 2/2 页")
    store.mark_indexed(["scan"])
    assert (_status_of(store, "scan").status, _progress_of(store, "scan")) == ("indexed", None)


# The documents table as the release before ``progress`` created it (every later column added by migration).
OLD_DOCUMENTS = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '', author TEXT NOT NULL DEFAULT '', published TEXT,
    doc_number TEXT, issuer TEXT NOT NULL DEFAULT '', source_url TEXT,
    sha256 TEXT NOT NULL, origin TEXT NOT NULL, filename TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    status TEXT NOT NULL DEFAULT 'parsed', error TEXT, fmt TEXT NOT NULL DEFAULT '', pages TEXT NOT NULL DEFAULT '[]',
    region TEXT, revision INTEGER NOT NULL DEFAULT 0, ocr_pages TEXT NOT NULL DEFAULT '[]'
);
"""


def test_an_old_database_gets_the_progress_column_and_its_rows_read_none(tmp_path: Path) -> None:
    path = tmp_path / "data" / "zhengce.db"
    path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(path)) as db:
        db.executescript(OLD_DOCUMENTS)
        db.execute(
            "INSERT INTO documents(doc_id, title, text, sha256, origin, status) "
            "VALUES ('old', '扫描件.pdf', '', ?, 'upload', 'received')",
            (SHA,),
        )
        db.commit()
    store = Store(path)
    try:
        assert "progress" in {row[1] for row in store.db.execute("PRAGMA table_info(documents)")}
        assert _progress_of(store, "old") is None
        store.set_progress("old", "OCR 0/4 页")
        assert _progress_of(store, "old") == "OCR 0/4 页"
    finally:
        store.close()


@needs_ocr
def test_parsing_a_scan_shows_its_progress_to_another_connection_and_clears_it_after(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path / "data")
    library = Library(paths, ChunkConfig())
    watcher = Store(paths.db)  # as the server's connection reads the rows while the indexer parses
    try:
        received = library.receive("两页扫描件.pdf", image_pdf([text_image(NOTICE)] * 2)).status
        seen: list[str | None] = []
        parsing = threading.Thread(target=library.parse, args=(received,))
        parsing.start()
        while parsing.is_alive():
            progress = _progress_of(watcher, received.doc_id)
            if progress and progress not in seen:
                seen.append(progress)
            parsing.join(0.05)
        after = _status_of(watcher, received.doc_id)
    finally:
        watcher.close()
        library.close()
    assert (after.status, after.progress) == ("parsed", None), after
    # Each page takes seconds to OCR; the last report is cleared at once and may be missed.
    assert seen[:2] == ["OCR 0/2 页", "OCR 1/2 页"], seen
    assert set(seen) <= {"OCR 0/2 页", "OCR 1/2 页", "OCR 2/2 页"}, seen
