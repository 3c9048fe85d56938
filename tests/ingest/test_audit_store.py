"""The audit trail in the real SQLite store: one record per change, written in the change's own transaction,
append-only (triggers refuse UPDATE and DELETE, from any connection), paged newest first."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.audit import Actor, AuditQuery, AuditRecord
from ingest.config import ChunkConfig, DataPaths
from ingest.errors import DocumentError
from ingest.library import Library
from ingest.store import Store

ZHANG, LI = Actor("zhang"), Actor("li")


def notice(*facts: str) -> bytes:
    return "\n".join(("关于做好秋粮收购工作的通知", "各有关单位：", *facts, "特此通知。")).encode("utf-8")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture()
def library(tmp_path: Path) -> Iterator[Library]:
    lib = Library(DataPaths(tmp_path / "data"), ChunkConfig())
    yield lib
    lib.close()


def trail(store: Store, doc_id: str | None = None) -> list[AuditRecord]:
    return store.audit_records(AuditQuery(doc_id=doc_id, limit=None, oldest_first=True))


def added(library: Library, data: bytes, by: Actor | None = ZHANG) -> str:
    """Receive and parse an upload; its doc_id."""
    doc_id = library.receive("通知.txt", data, by=by).status.doc_id
    library.process_pending()
    return doc_id


def test_an_upload_is_recorded_once_with_its_file_key_name_and_utc_time(library: Library) -> None:
    data = notice("收购价格每斤1.2元。")
    doc_id = added(library, data)
    (record,) = trail(library.store)
    assert (record.action, record.doc_id, record.filename) == ("upload", doc_id, "通知.txt")
    assert (record.sha256, record.key_name, record.detail) == (sha(data), "zhang", None)
    assert record.time.endswith("Z")
    when = datetime.fromisoformat(record.time)
    assert when.tzinfo is not None and abs((datetime.now(UTC) - when).total_seconds()) < 60


def test_parsing_indexing_and_changes_without_an_actor_write_no_record(library: Library) -> None:
    doc_id = added(library, notice("不记录。"), by=None)
    library.store.update_metadata(doc_id, {"title": "改"})
    library.delete(doc_id)
    assert trail(library.store) == []


def test_a_replacement_records_the_new_file_and_the_previous_sha256(library: Library) -> None:
    old, new = notice("旧版本。"), notice("新版本。")
    doc_id = added(library, old)
    library.receive("新版.txt", new, doc_id=doc_id, by=LI)
    record = trail(library.store)[-1]
    assert (record.action, record.filename, record.sha256, record.key_name) == ("replace", "新版.txt", sha(new), "li")
    assert record.detail == {"previous_sha256": sha(old)}


def test_sending_the_current_bytes_again_records_the_cancelled_new_version(library: Library) -> None:
    old, new = notice("当前版本。"), notice("待处理版本。")
    doc_id = added(library, old)
    library.receive("新版.txt", new, doc_id=doc_id, by=LI)
    library.receive("通知.txt", old, doc_id=doc_id, by=ZHANG)
    record = trail(library.store)[-1]
    assert (record.action, record.sha256, record.key_name) == ("replace", sha(old), "zhang")
    assert record.detail == {"cancelled_sha256": sha(new)}


def test_identical_bytes_and_a_refused_file_write_no_record(library: Library) -> None:
    data = notice("重复。")
    added(library, data)
    assert library.receive("again.txt", data, by=LI).duplicate
    with pytest.raises(DocumentError):
        library.receive("empty.txt", b"", by=LI)
    assert [r.action for r in trail(library.store)] == ["upload"]


def test_a_metadata_correction_records_each_changed_field_old_and_new(library: Library) -> None:
    doc_id = added(library, notice("更正。"))
    before = library.store.status(doc_id)
    assert before is not None
    library.store.update_metadata(
        doc_id, {"title": "新标题", "region": ["重庆市"], "issuer": before.issuer}, Actor(None)
    )
    record = trail(library.store)[-1]
    assert (record.action, record.sha256, record.key_name, record.filename) == ("update", None, None, "通知.txt")
    assert record.detail == {
        "title": {"old": before.title, "new": "新标题"},
        "region": {"old": list(before.region), "new": ["重庆市"]},
    }  # the issuer sent unchanged is not listed


def test_a_deletion_records_the_sha256_and_title_of_what_was_deleted(library: Library) -> None:
    data = notice("将被删除。")
    doc_id = added(library, data)
    title = library.store.status(doc_id).title  # type: ignore[union-attr]
    assert library.delete(doc_id, LI)
    record = trail(library.store)[-1]
    assert (record.action, record.doc_id, record.sha256, record.key_name) == ("delete", doc_id, sha(data), "li")
    assert record.detail == {"title": title}


def test_a_change_to_a_missing_document_writes_no_record(library: Library) -> None:
    assert not library.delete("doc-missing", ZHANG)
    assert not library.store.update_metadata("doc-missing", {"title": "x"}, ZHANG)
    assert trail(library.store) == []


def test_a_change_that_fails_before_its_commit_leaves_neither_change_nor_record(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc_id = added(library, notice("回滚。"))
    version = library.store.version

    def fail(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")  # as the commit's last step would

    monkeypatch.setattr(library.store, "_bump", fail)
    with pytest.raises(sqlite3.OperationalError):
        library.delete(doc_id, LI)
    with pytest.raises(sqlite3.OperationalError):
        library.store.update_metadata(doc_id, {"title": "不会保存"}, LI)
    monkeypatch.undo()
    assert library.store.status(doc_id) is not None and library.store.version == version
    assert [r.action for r in trail(library.store)] == ["upload"]


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit SET key_name = 'someone-else'", "DELETE FROM audit", "DELETE FROM audit WHERE id = 1"],
)
def test_updating_or_deleting_an_audit_record_raises_from_any_connection(library: Library, statement: str) -> None:
    added(library, notice("不可更改。"))
    with closing(sqlite3.connect(library.store.path)) as other:
        for db in (library.store.db, other):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(statement)
    assert len(trail(library.store)) == 1
    assert trail(library.store)[0].key_name == "zhang"


def test_records_page_newest_first_with_before(library: Library) -> None:
    doc_id = added(library, notice("分页。"))
    for n in range(6):
        library.store.update_metadata(doc_id, {"title": f"标题{n}"}, ZHANG)
    everything = library.store.audit_records(AuditQuery(doc_id=doc_id, limit=None))
    assert [r.id for r in everything] == sorted((r.id for r in everything), reverse=True) and len(everything) == 7
    first = library.store.audit_records(AuditQuery(doc_id=doc_id, limit=3))
    second = library.store.audit_records(AuditQuery(doc_id=doc_id, before=first[-1].id, limit=3))
    assert first + second == everything[:6]
    updates = library.store.audit_records(AuditQuery(doc_id=doc_id, action="update", limit=None))
    assert len(updates) == 6 and all(r.action == "update" for r in updates)


def test_a_database_of_an_older_release_gets_the_audit_table_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "zhengce.db"
    Store(path).close()
    with closing(sqlite3.connect(path)) as db:
        db.execute("DROP TABLE audit")  # as a release before the audit trail left it (its triggers go too)
    store = Store(path)
    try:
        store.add_received("doc-1", "a.txt", "ab" * 32, "upload", ZHANG)
        assert [(r.action, r.key_name) for r in trail(store)] == [("upload", "zhang")]
    finally:
        store.close()
