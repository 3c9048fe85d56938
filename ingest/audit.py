"""The audit trail: an append-only record of every change staff make to the library through the API.

Who (the name of the API key, never the key), when (UTC), what (upload, replace, update, delete), which
document and which file (its sha256; for a metadata correction each changed field, old and new). Records
live in the ``audit`` table of the library's database (:mod:`ingest.store`), are written inside the
transaction of the change they describe, and cannot be changed or deleted: triggers abort any UPDATE or
DELETE, from any connection.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    action TEXT NOT NULL CHECK (action IN ('upload', 'replace', 'update', 'delete')),
    doc_id TEXT NOT NULL, filename TEXT NOT NULL, sha256 TEXT, key_name TEXT, detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_doc ON audit(doc_id, id);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: a record is never changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: a record is never deleted'); END;
"""
ACTIONS = ("upload", "replace", "update", "delete")
_FIELDS = ("id", "time", "action", "doc_id", "filename", "sha256", "key_name", "detail")
ID_MAX = 2**63 - 1  # SQLite's largest integer: the largest id, and the largest ``before``


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change, as the audit trail records it: the name of the API key the write was sent with
    (None when the server has no key configured). A change made with no ``Actor`` is not audited (parsing,
    indexing, the seeds)."""

    key_name: str | None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One change to the library, as the append-only ``audit`` table holds it.

    ``sha256`` is the file's: the one uploaded, the new version of a replacement, the one deleted (None for a
    metadata correction, whose ``detail`` holds each changed field as ``{"old": …, "new": …}``).
    """

    id: int
    time: str  # UTC, ISO 8601 with milliseconds
    action: str  # one of ACTIONS
    doc_id: str
    filename: str
    sha256: str | None
    key_name: str | None
    detail: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Audit records of one document and/or action (None: any), with an id below ``before``; newest first,
    at most ``limit`` (None: all), or oldest first."""

    doc_id: str | None = None
    action: str | None = None
    before: int | None = None
    limit: int | None = 100
    oldest_first: bool = False


def append(db: sqlite3.Connection, by: Actor | None, action: str, doc_id: str, detail: dict[str, Any] | None) -> None:
    """Append the record of a change by ``by`` (none without one) inside the caller's transaction. The file is
    the document's, or its pending new version's for a replacement."""
    if by is None:
        return
    row = None
    if action == "replace":
        row = db.execute("SELECT filename, sha256 FROM replacements WHERE doc_id = ?", (doc_id,)).fetchone()
    row = row or db.execute("SELECT filename, sha256 FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
    assert row is not None, f"no row of {doc_id} to audit its {action}"
    db.execute(
        "INSERT INTO audit(action, doc_id, filename, sha256, key_name, detail) VALUES (?, ?, ?, ?, ?, ?)",
        (action, doc_id, row[0], None if action == "update" else row[1], by.key_name,
         None if detail is None else json.dumps(detail, ensure_ascii=False)),
    )  # fmt: skip


def records(db: sqlite3.Connection, query: AuditQuery) -> list[AuditRecord]:
    """The records a query selects (newest first unless it says oldest first)."""
    where = ["id < ?"]
    args: list[Any] = [query.before if query.before is not None else ID_MAX]
    for column, value in (("doc_id", query.doc_id), ("action", query.action)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    order = "ASC" if query.oldest_first else "DESC"
    limit = f" LIMIT {int(query.limit)}" if query.limit is not None else ""
    rows = db.execute(
        f"SELECT {', '.join(_FIELDS)} FROM audit WHERE {' AND '.join(where)} ORDER BY id {order}{limit}", args
    )
    out = []
    for row in rows:
        fields = dict(zip(_FIELDS, row, strict=True))
        detail = fields.pop("detail")
        out.append(AuditRecord(**fields, detail=None if detail is None else json.loads(detail)))
    return out


def changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``field -> {"old", "new"}`` of the metadata fields whose stored value changes (a region as its list)."""

    def shown(field: str, value: Any) -> Any:
        return json.loads(value or "[]") if field == "region" else value

    return {k: {"old": shown(k, old[k]), "new": shown(k, new[k])} for k in new if old[k] != new[k]}
