"""SQLite, the source of truth: documents (clean text + metadata), chunks, and an embedding cache.

The index files are derived from this database and can always be rebuilt from it. ``version``
in the ``meta`` table goes up on every change, so an index generation knows whether it is stale.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ingest import audit
from ingest.audit import Actor, AuditQuery, AuditRecord, append, changes, records
from ingest.embed import Vectors
from ingest.types import Chunk, DocStatus, Document

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '', author TEXT NOT NULL DEFAULT '', published TEXT,
    doc_number TEXT, issuer TEXT NOT NULL DEFAULT '', source_url TEXT,
    sha256 TEXT NOT NULL, origin TEXT NOT NULL, filename TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    status TEXT NOT NULL DEFAULT 'parsed', error TEXT, fmt TEXT NOT NULL DEFAULT '', pages TEXT NOT NULL DEFAULT '[]',
    region TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    text TEXT NOT NULL, headings TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, ordinal);
CREATE TABLE IF NOT EXISTS replacements (
    doc_id TEXT PRIMARY KEY REFERENCES documents(doc_id) ON DELETE CASCADE,
    filename TEXT NOT NULL, sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (
    text_sha256 TEXT NOT NULL, model TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (text_sha256, model)
);
"""
_DOC_FIELDS = (
    "doc_id", "title", "text", "source", "author", "published",
    "doc_number", "issuer", "source_url", "sha256", "pages", "region", "ocr_pages",
)  # fmt: skip
# A document is searchable once parsed; "indexed" means a published generation holds it.
INDEXABLE = ("parsed", "indexed")
_STATUS_FIELDS = (
    "doc_id", "title", "filename", "status", "error", "fmt", "sha256",
    "doc_number", "issuer", "published", "updated_at", "region", "progress",
)  # fmt: skip
# Columns added after the first release, for databases created before them. ``region`` is a JSON
# list; NULL means "not derived yet" (a row from before the column), which ``fill_regions`` fixes.
_ADDED_COLUMNS = {
    "status": "TEXT NOT NULL DEFAULT 'parsed'",
    "error": "TEXT",
    "fmt": "TEXT NOT NULL DEFAULT ''",
    "pages": "TEXT NOT NULL DEFAULT '[]'",
    "region": "TEXT",
    # The ``version`` at which the document's text, chunks or metadata last changed: what an index
    # update since version V must re-index is every searchable document with a revision above V.
    "revision": "INTEGER NOT NULL DEFAULT 0",
    "ocr_pages": "TEXT NOT NULL DEFAULT '[]'",  # JSON list of the 1-based pages read by OCR
    # What the indexer is doing now to a document ("OCR 3/10 页"); NULL when nothing, and again once its
    # status changes.
    "progress": "TEXT",
}
_BATCH = 500
_METADATA_FIELDS = ("title", "doc_number", "issuer", "published", "region")


def text_sha256(text: str) -> str:
    """The key of a chunk's context in the embedding cache."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class StatusQuery:
    """One page of the documents that match: any of ``statuses`` and ``doc_ids`` (empty: any), ``text`` in the
    title, file name, issuer, 文号 or doc_id, and ``region`` among the names of their region."""

    offset: int = 0
    limit: int = 100
    statuses: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    text: str = ""
    region: str = ""


class Store:
    """A connection to the database in a data directory."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.db.executescript(_SCHEMA + audit.SCHEMA)
        self._migrate()
        self.db.execute("CREATE INDEX IF NOT EXISTS documents_sha ON documents(sha256)")
        # A document's row holds its whole text before the small columns, so a scan reading status,
        # revision or region walks every text's overflow pages (0.3 s a query at 95k documents, run on
        # every index update); these indexes answer those queries without reading a text.
        self.db.execute("CREATE INDEX IF NOT EXISTS documents_state ON documents(status, revision, doc_id)")
        self.db.execute("CREATE INDEX IF NOT EXISTS documents_unfilled ON documents(doc_id) WHERE region IS NULL")

    def _migrate(self) -> None:
        """Add the columns a database from an older release lacks, in one transaction (two processes may race)."""
        with self._transaction():
            have = {row[1] for row in self.db.execute("PRAGMA table_info(documents)")}
            for column, decl in _ADDED_COLUMNS.items():
                if column not in have:
                    self.db.execute(f"ALTER TABLE documents ADD COLUMN {column} {decl}")
                    logger.info("%s: added column documents.%s", self.path, column)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def get_meta(self, key: str) -> str | None:
        """A value of the meta table, or None."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def version(self) -> int:
        """A counter that goes up with every change to documents or chunks."""
        return int(self.get_meta("version") or 0)

    def _bump(self, changed: Iterable[str] = ()) -> None:
        """Count one change, made to the ``changed`` documents (none for a deletion)."""
        version = self.version + 1
        self._set_meta("version", str(version))
        self.db.executemany("UPDATE documents SET revision = ? WHERE doc_id = ?", [(version, d) for d in changed])

    def changed_since(self, version: int) -> set[str]:
        """The searchable documents whose text, chunks or metadata changed after ``version``."""
        rows = self.db.execute(f"SELECT doc_id FROM documents WHERE status IN {INDEXABLE} AND revision > ?", (version,))
        return {r[0] for r in rows}

    def searchable(self) -> set[str]:
        """The ids of every searchable (parsed or indexed) document."""
        return {r[0] for r in self.db.execute(f"SELECT doc_id FROM documents WHERE status IN {INDEXABLE}")}

    def doc_sha256(self) -> dict[str, tuple[str, str]]:
        """``doc_id -> (sha256 of the raw bytes, origin)`` for every document."""
        rows = self.db.execute("SELECT doc_id, sha256, origin FROM documents")
        return {r[0]: (r[1], r[2]) for r in rows}

    def put_document(
        self,
        doc: Document,
        chunks: Sequence[Chunk],
        origin: str,
        filename: str = "",
        fmt: str = "",
        existing_only: bool = False,
    ) -> bool:
        """Insert or update a parsed document and replace all its chunks, in one transaction.

        The row is updated in place, not deleted, so what hangs off it (a pending new version) stays.
        With ``existing_only`` the row must still be there (an upload deleted while it was being
        parsed stays deleted).

        Returns:
            False when nothing was stored because the row was gone.
        """
        row = doc.to_row()
        row["pages"] = json.dumps(row["pages"])
        row["region"] = json.dumps(row["region"], ensure_ascii=False)
        row["ocr_pages"] = json.dumps(row["ocr_pages"])
        values = [row[f] for f in _DOC_FIELDS]
        columns = [*_DOC_FIELDS, "origin", "filename", "fmt"]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        with self._transaction():
            present = self.db.execute("SELECT 1 FROM documents WHERE doc_id = ?", (doc.doc_id,)).fetchone()
            if existing_only and present is None:
                return False
            self.db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc.doc_id,))
            self.db.execute(
                f"INSERT INTO documents({', '.join(columns)}, status, error) "
                f"VALUES ({', '.join('?' * len(columns))}, 'parsed', NULL) "
                f"ON CONFLICT(doc_id) DO UPDATE SET {updates}, status = 'parsed', error = NULL, progress = NULL, "
                "updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
                (*values, origin, filename, fmt),
            )
            self.db.executemany(
                'INSERT INTO chunks(doc_id, ordinal, start, "end", text, headings) VALUES (?, ?, ?, ?, ?, ?)',
                [
                    (c.doc_id, c.ordinal, c.start, c.end, c.text, json.dumps(c.headings, ensure_ascii=False))
                    for c in chunks
                ],
            )
            self._bump((doc.doc_id,))
        return True

    def delete_document(self, doc_id: str, by: Actor | None = None) -> bool:
        """Delete a document and its chunks (audited as ``delete`` when ``by`` is given); False when there was none."""
        with self._transaction():
            title = self.db.execute("SELECT title FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
            if title is None:
                return False
            self._audit(by, "delete", doc_id, {"title": title[0]})
            self.db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
            self._bump()
        return True

    def set_meta(self, key: str, value: str) -> None:
        """Record a value of the meta table (facts about the library such as which upgrades were done)."""
        self._set_meta(key, value)

    def set_chunk_config(self, fingerprint: str) -> None:
        """Record the chunk config all chunks were made with."""
        self._set_meta("chunk_config", fingerprint)

    def documents(self, without_region: bool = False, doc_ids: Collection[str] | None = None) -> list[Document]:
        """Every searchable (parsed or indexed) document, ordered by doc_id, or those of ``doc_ids``; with
        ``without_region``, only those whose region was never derived (stored before regions were; their
        ``region`` reads ``()``)."""
        rows = self._select(
            f"SELECT {', '.join(_DOC_FIELDS)} FROM documents "
            f"{'INDEXED BY documents_unfilled ' if without_region else ''}WHERE status IN {INDEXABLE}"
            f"{' AND region IS NULL' if without_region else ''}",
            "doc_id",
            "ORDER BY doc_id",
            doc_ids,
        )
        documents = []
        for row in rows:
            fields = dict(zip(_DOC_FIELDS, row, strict=True))
            pages, region = json.loads(fields["pages"]), json.loads(fields["region"] or "[]")
            ocr_pages = json.loads(fields["ocr_pages"])
            documents.append(Document.from_row({**fields, "pages": pages, "region": region, "ocr_pages": ocr_pages}))
        return documents

    def _select(self, query: str, column: str, order: str, doc_ids: Collection[str] | None) -> list[tuple[Any, ...]]:
        """Rows of ``query`` in ``order``, all of them or those whose ``column`` is one of ``doc_ids``."""
        if doc_ids is None:
            return self.db.execute(f"{query} {order}").fetchall()
        ids = sorted(doc_ids)
        rows: list[tuple[Any, ...]] = []
        for i in range(0, len(ids), _BATCH):  # SQLite caps the number of parameters of one statement
            part = ids[i : i + _BATCH]
            rows += self.db.execute(f"{query} AND {column} IN ({', '.join('?' * len(part))}) {order}", part).fetchall()
        return rows

    def set_regions(self, regions: dict[str, tuple[str, ...]]) -> None:
        """Record derived regions, ``doc_id -> region``, in one transaction (one version bump)."""
        if not regions:
            return
        with self._transaction():
            self.db.executemany(
                "UPDATE documents SET region = ? WHERE doc_id = ?",
                [(json.dumps(list(r), ensure_ascii=False), d) for d, r in regions.items()],
            )
            self._bump(regions)

    def chunk_ids(self) -> list[tuple[int, str]]:
        """The row id and document of every chunk of a searchable document."""
        rows = self.db.execute(
            f"SELECT c.id, c.doc_id FROM chunks c JOIN documents d ON d.doc_id = c.doc_id WHERE d.status IN {INDEXABLE}"
        )
        return [(int(i), str(d)) for i, d in rows]

    def chunks(self, doc_ids: Collection[str] | None = None) -> list[tuple[int, Chunk]]:
        """Every chunk (or those of ``doc_ids``) with its row id, in document order."""
        rows = self._select(
            'SELECT c.id, c.doc_id, c.ordinal, c.start, c."end", c.text, c.headings FROM chunks c '
            f"JOIN documents d ON d.doc_id = c.doc_id WHERE d.status IN {INDEXABLE}",
            "c.doc_id",
            "ORDER BY c.doc_id, c.ordinal",
            doc_ids,
        )
        return [(i, Chunk(f"{d}:{s}-{e}", d, o, t, s, e, tuple(json.loads(h)))) for i, d, o, s, e, t, h in rows]

    def add_received(self, doc_id: str, filename: str, sha256: str, origin: str, by: Actor | None = None) -> None:
        """Record an upload whose raw bytes are stored: acknowledged, not yet parsed (audited as ``upload`` when
        ``by`` is given)."""
        with self._transaction():
            self.db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
            self.db.execute(
                "INSERT INTO documents(doc_id, title, text, sha256, origin, filename, status) "
                "VALUES (?, ?, '', ?, ?, ?, 'received')",
                (doc_id, filename, sha256, origin, filename),
            )
            self._audit(by, "upload", doc_id)
            self._bump()

    def add_replacement(self, doc_id: str, filename: str, sha256: str, by: Actor | None = None) -> None:
        """Record a new version of a document, stored but not yet parsed; the current version stays served.
        Audited as ``replace`` when ``by`` is given."""
        with self._transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO replacements(doc_id, filename, sha256) VALUES (?, ?, ?)",
                (doc_id, filename, sha256),
            )
            (previous,) = self.db.execute("SELECT sha256 FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
            self._audit(by, "replace", doc_id, {"previous_sha256": previous})

    def replacements(self) -> list[tuple[str, str, str]]:
        """Pending new versions: ``(doc_id, filename, sha256)``."""
        return [
            (str(d), str(f), str(h)) for d, f, h in self.db.execute("SELECT doc_id, filename, sha256 FROM replacements")
        ]

    def drop_replacement(self, doc_id: str, sha256: str, error: str | None, by: Actor | None = None) -> None:
        """Forget the pending new version ``sha256`` of a document; a failure reason is kept on the
        document, which stays as it was. A newer version received meanwhile stays pending. With ``by``,
        someone sent the document's current bytes again: audited as a ``replace`` by them."""
        with self._transaction():
            dropped = self.db.execute(
                "DELETE FROM replacements WHERE doc_id = ? AND sha256 = ?", (doc_id, sha256)
            ).rowcount
            if dropped:
                self.db.execute("UPDATE documents SET error = ? WHERE doc_id = ?", (error, doc_id))
                self._audit(by, "replace", doc_id, {"cancelled_sha256": sha256})

    def set_status(self, doc_id: str, status: str, error: str | None = None) -> None:
        """Move a document to ``status`` (``failed`` with its reason)."""
        with self._transaction():
            self.db.execute(
                "UPDATE documents SET status = ?, error = ?, progress = NULL, "
                "updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE doc_id = ?",
                (status, error, doc_id),
            )
            self._bump()

    def set_progress(self, doc_id: str, progress: str | None) -> None:
        """Say what the indexer is doing now to a document (``"OCR 3/10 页"``; None: nothing); changes nothing else
        (no version bump, no audit record, not ``updated_at``).

        The progress is only shown: a write the database refuses (another writer held it past the busy
        timeout) is logged and skipped, never failing the reading it reports on.
        """
        try:
            self.db.execute("UPDATE documents SET progress = ? WHERE doc_id = ?", (progress, doc_id))
        except sqlite3.OperationalError as e:
            logger.warning("could not record the progress of %s (%r): %s", doc_id, progress, e)

    def mark_indexed(self, doc_ids: Iterable[str] | None = None) -> None:
        """Record that a published generation holds these documents, or every parsed one (no version bump:
        nothing to re-index)."""
        with self._transaction():
            if doc_ids is None:
                self.db.execute("UPDATE documents SET status = 'indexed', progress = NULL WHERE status = 'parsed'")
                return
            self.db.executemany(
                "UPDATE documents SET status = 'indexed', progress = NULL WHERE doc_id = ? AND status = 'parsed'",
                [(d,) for d in doc_ids],
            )

    def update_metadata(self, doc_id: str, fields: dict[str, str | list[str] | None], by: Actor | None = None) -> bool:
        """Correct title, doc_number, issuer, published or region of a document; False when there is none.

        Audited as ``update`` when ``by`` is given, with each field whose value changed, old and new.
        """
        allowed = {k: v for k, v in fields.items() if k in _METADATA_FIELDS}
        if "region" in allowed:
            allowed["region"] = json.dumps(list(allowed["region"] or []), ensure_ascii=False)
        if not allowed:
            return self.status(doc_id) is not None
        sets = ", ".join(f"{k} = ?" for k in allowed)
        with self._transaction():
            old = self.db.execute(f"SELECT {', '.join(allowed)} FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
            n = self.db.execute(f"UPDATE documents SET {sets} WHERE doc_id = ?", (*allowed.values(), doc_id)).rowcount
            if n:
                self._audit(by, "update", doc_id, changes(dict(zip(allowed, old, strict=True)), allowed))
                self._bump((doc_id,))
        return bool(n)

    def _audit(self, by: Actor | None, action: str, doc_id: str, detail: dict[str, Any] | None = None) -> None:
        """Append the record of a change by ``by`` (none without one) inside the caller's transaction, so that
        the change and its record are committed together or not at all (:func:`ingest.audit.append`)."""
        append(self.db, by, action, doc_id, detail)

    def audit_records(self, query: AuditQuery) -> list[AuditRecord]:
        """The audit records a query selects (newest first unless it says oldest first)."""
        return records(self.db, query)

    def find_by_sha256(self, sha256: str, origin: str) -> str | None:
        """The doc_id of a document of ``origin`` whose current or pending bytes are these, if it did not fail."""
        row = self.db.execute(
            "SELECT doc_id FROM documents WHERE sha256 = ? AND origin = ? AND status != 'failed' "
            "UNION SELECT doc_id FROM replacements WHERE sha256 = ?",
            (sha256, origin, sha256),
        ).fetchone()
        return None if row is None else str(row[0])

    def statuses(
        self, doc_id: str | None = None, status: str | None = None, page: StatusQuery | None = None
    ) -> list[DocStatus]:
        """Every document's status row (or one document's, or those in one status, or one page of those a
        :class:`StatusQuery` selects), with chunk counts, ordered by doc_id."""
        where, args = self._status_filter(doc_id, status, page)
        limit = f" LIMIT {int(page.limit)} OFFSET {int(page.offset)}" if page is not None else ""
        rows = self.db.execute(
            f"SELECT {', '.join('d.' + f for f in _STATUS_FIELDS)}, "
            "(SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.doc_id) FROM documents d "
            f"{where} ORDER BY d.doc_id{limit}",
            args,
        )
        statuses = []
        for row in rows:
            fields = dict(zip((*_STATUS_FIELDS, "n_chunks"), row, strict=True))
            statuses.append(DocStatus(**{**fields, "region": tuple(json.loads(fields["region"] or "[]"))}))
        return statuses

    def count_statuses(self, page: StatusQuery) -> int:
        """How many documents the query selects, over all its pages."""
        where, args = self._status_filter(None, None, page)
        return int(self.db.execute(f"SELECT COUNT(*) FROM documents d {where}", args).fetchone()[0])

    @staticmethod
    def _status_filter(doc_id: str | None, status: str | None, page: StatusQuery | None) -> tuple[str, list[Any]]:
        where, args = [], []
        if doc_id is not None:
            where.append("d.doc_id = ?")
            args.append(doc_id)
        statuses = [status] if status is not None else list(page.statuses) if page is not None else []
        if statuses:
            where.append(f"d.status IN ({', '.join('?' * len(statuses))})")
            args += statuses
        if page is not None and page.doc_ids:
            where.append(f"d.doc_id IN ({', '.join('?' * len(page.doc_ids))})")
            args += page.doc_ids
        if page is not None and page.text:
            # Any of title, file name, issuer, 文号 or doc_id holding the text (LIKE's wildcards taken literally).
            like = "%" + page.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            columns = ("d.title", "d.filename", "d.issuer", "d.doc_number", "d.doc_id")
            where.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns) + ")")
            args += [like] * len(columns)
        if page is not None and page.region:
            where.append("EXISTS (SELECT 1 FROM json_each(d.region) WHERE json_each.value = ?)")
            args.append(page.region)
        return ("WHERE " + " AND ".join(where)) if where else "", args

    def origin(self, doc_id: str) -> str | None:
        """Where a document came from (``seed``, ``upload``, ``benchmark``), or None."""
        row = self.db.execute("SELECT origin FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return None if row is None else str(row[0])

    def status(self, doc_id: str) -> DocStatus | None:
        """One document's status row, or None."""
        found = self.statuses(doc_id)
        return found[0] if found else None

    def cached_vectors(self, model: str, keys: Iterable[str]) -> dict[str, Vectors]:
        """Cached embeddings of ``model`` for the given text hashes."""
        found: dict[str, Vectors] = {}
        wanted = list(keys)
        for i in range(0, len(wanted), 500):
            batch = wanted[i : i + 500]
            rows = self.db.execute(
                "SELECT text_sha256, vector FROM embeddings "
                f"WHERE model = ? AND text_sha256 IN ({', '.join('?' * len(batch))})",
                (model, *batch),
            )
            found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        return found

    def cache_vectors(self, model: str, items: Iterable[tuple[str, Vectors]]) -> None:
        """Store embeddings of ``model`` by text hash."""
        with self._transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO embeddings(text_sha256, model, vector) VALUES (?, ?, ?)",
                [(k, model, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items],
            )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        # The connection is in autocommit mode (isolation_level=None); BEGIN makes the block atomic.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
