"""Tests for ingest.store: documents, chunks, version counter and embedding cache in a real SQLite file."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from ingest.chunk import chunk_document
from ingest.config import ChunkConfig
from ingest.store import Store, text_sha256
from ingest.types import Document

TEXT = (
    "一、总体要求\n对小型微利企业年应纳税所得额不超过100万元的部分，减按25%计入应纳税所得额，按20%的税率缴纳企业所得税。"
    "\n二、执行期限\n本公告执行至2027年12月31日。"
)


def _doc(doc_id: str = "tax-2024", text: str = TEXT) -> Document:
    return Document(
        doc_id=doc_id,
        title="关于进一步支持小微企业发展有关税费政策的公告",
        text=text,
        source="国家税务总局",
        author="",
        published=date(2023, 8, 2),
        doc_number="财政部 税务总局公告2023年第12号",
        issuer="财政部",
        source_url="https://example.gov.cn/a",
        sha256="ab" * 32,
    )


def _chunk_count(store: Store, doc_id: str) -> int:
    return int(store.db.execute("SELECT count(*) FROM chunks WHERE doc_id = ?", (doc_id,)).fetchone()[0])


def test_a_new_store_is_empty_at_version_zero(store: Store) -> None:
    assert store.version == 0
    assert store.documents() == []
    assert store.chunks() == []
    assert store.doc_sha256() == {}


def test_put_document_round_trips_the_document_and_its_chunks(store: Store) -> None:
    doc = _doc()
    chunks = chunk_document(doc, ChunkConfig(max_chars=40))
    store.put_document(doc, chunks, "seed", "tax.txt")
    assert store.documents() == [doc]
    stored = [c for _, c in store.chunks()]
    assert stored == chunks
    assert all(doc.text[c.start : c.end] == c.text for c in stored)
    assert store.doc_sha256() == {"tax-2024": ("ab" * 32, "seed")}
    assert store.version == 1


def test_a_document_without_optional_metadata_round_trips(store: Store) -> None:
    doc = Document(doc_id="bare", title="无元数据", text="只有一句。")
    store.put_document(doc, chunk_document(doc, ChunkConfig()), "upload")
    assert store.documents() == [doc]


def test_put_document_replaces_the_document_and_all_its_chunks(store: Store) -> None:
    store.put_document(_doc(), chunk_document(_doc(), ChunkConfig(max_chars=40)), "seed")
    old_ids = [i for i, _ in store.chunks()]
    new = _doc(text="新的正文只有一句。")
    store.put_document(new, chunk_document(new, ChunkConfig()), "seed")
    rows = store.chunks()
    assert [c.text for _, c in rows] == ["新的正文只有一句。"]
    assert store.documents() == [new]
    assert min(i for i, _ in rows) > max(old_ids), "chunk row ids (FAISS ids) are never reused"
    assert store.version == 2


def test_delete_document_cascades_to_its_chunks_and_leaves_others(store: Store) -> None:
    a, b = _doc("a"), _doc("b")
    store.put_document(a, chunk_document(a, ChunkConfig()), "seed")
    store.put_document(b, chunk_document(b, ChunkConfig()), "seed")
    assert _chunk_count(store, "a") > 0
    assert store.delete_document("a") is True
    assert _chunk_count(store, "a") == 0
    assert [d.doc_id for d in store.documents()] == ["b"]
    assert {c.doc_id for _, c in store.chunks()} == {"b"}
    assert store.version == 3


def test_deleting_an_unknown_document_changes_nothing(store: Store) -> None:
    store.put_document(_doc(), [], "seed")
    assert store.delete_document("nope") is False
    assert store.version == 1


def test_every_change_increments_the_version_by_one(store: Store) -> None:
    versions = [store.version]
    for doc_id in ("a", "b", "a"):
        store.put_document(_doc(doc_id), [], "seed")
        versions.append(store.version)
    store.delete_document("b")
    versions.append(store.version)
    assert versions == [0, 1, 2, 3, 4]


def test_documents_and_chunks_come_in_doc_id_then_ordinal_order(store: Store) -> None:
    for doc_id in ("z", "a", "m"):
        doc = _doc(doc_id)
        store.put_document(doc, chunk_document(doc, ChunkConfig(max_chars=40)), "seed")
    assert [d.doc_id for d in store.documents()] == ["a", "m", "z"]
    keys = [(c.doc_id, c.ordinal) for _, c in store.chunks()]
    assert keys == sorted(keys)


def test_the_store_persists_across_connections(tmp_path: Path) -> None:
    path = tmp_path / "zhengce.db"
    first = Store(path)
    first.put_document(_doc(), chunk_document(_doc(), ChunkConfig()), "seed")
    first.close()
    second = Store(path)
    try:
        assert second.documents() == [_doc()]
        assert second.version == 1
    finally:
        second.close()


def test_a_failed_put_leaves_the_previous_document_intact(store: Store) -> None:
    store.put_document(_doc(), chunk_document(_doc(), ChunkConfig()), "seed")
    before = (store.documents(), store.chunks(), store.version)
    chunks = chunk_document(_doc(), ChunkConfig())
    # A NULL text violates NOT NULL, so the insert fails after the old rows were deleted.
    broken = [*chunks, replace(chunks[0], text=None)]  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
        store.put_document(_doc(), broken, "seed")
    assert (store.documents(), store.chunks(), store.version) == before


def test_set_chunk_config_records_the_latest_config(store: Store) -> None:
    assert store.get_meta("chunk_config") is None
    store.set_chunk_config(repr(ChunkConfig().as_dict()))
    store.set_chunk_config(repr(ChunkConfig(max_chars=80).as_dict()))
    assert store.get_meta("chunk_config") == repr(ChunkConfig(max_chars=80).as_dict())


def test_embedding_cache_round_trips_vectors_bit_for_bit(store: Store) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((5, 512)).astype(np.float32)
    vectors[0, 0] = np.float32(1e-38)  # a subnormal-adjacent value must survive too
    keys = [text_sha256(f"第{i}段") for i in range(5)]
    store.cache_vectors("usem3", list(zip(keys, vectors, strict=True)))
    found = store.cached_vectors("usem3", keys)
    assert set(found) == set(keys)
    for k, v in zip(keys, vectors, strict=True):
        assert found[k].dtype == np.float32
        assert found[k].tobytes() == v.tobytes()


def test_embedding_cache_is_per_model_and_ignores_unknown_keys(store: Store) -> None:
    key = text_sha256("脱贫人口人均纯收入达到16118元")
    store.cache_vectors("usem3", [(key, np.ones(4, dtype=np.float32))])
    assert store.cached_vectors("e5-small", [key]) == {}
    assert set(store.cached_vectors("usem3", [key, text_sha256("别的")])) == {key}
    assert store.cached_vectors("usem3", []) == {}


def test_embedding_cache_looks_up_more_keys_than_one_sql_batch(store: Store) -> None:
    items = [(text_sha256(str(i)), np.full(3, i, dtype=np.float32)) for i in range(1203)]
    store.cache_vectors("m", items)
    found = store.cached_vectors("m", [k for k, _ in items])
    assert len(found) == 1203
    assert all(np.array_equal(found[k], v) for k, v in items)


def test_text_sha256_is_the_hex_digest_of_the_utf8_text() -> None:
    assert text_sha256("脱贫") == hashlib.sha256("脱贫".encode()).hexdigest()
    assert text_sha256("脱贫") != text_sha256("脱贫 ")
