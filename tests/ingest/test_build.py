"""Tests for ingest.build: seeds → database → index generation, rebuilt only when something changed.

The product path runs with the real USE-m3 model on a copy of the real seeds; the HashEmbedder is
used where only the bookkeeping is under test.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ingest.build import SEED_ORIGIN, ensure_index, seed_document, sync_seeds
from ingest.chunk import split_sentences
from ingest.clean import clean_text
from ingest.config import BuildConfig, ChunkConfig, DataPaths
from ingest.errors import IngestError, SeedError
from ingest.index_store import read_index, segment_dirs
from ingest.library import Library
from ingest.seeds import read_seeds
from ingest.store import Store
from ingest.tokenize import tokenizer_id
from ingest.types import Document, EmbedderInfo
from retriever.config import RetrievalConfig
from retriever.pipeline import Retriever

SEED_ID = "cq-2023-08-25-xianjie"
TAX_ID = "tax-2023-12"
TAX = (
    "关于进一步支持小微企业和个体工商户发展有关税费政策的公告\n"
    "一、对小型微利企业减按25%计算应纳税所得额，按20%的税率缴纳企业所得税政策，延续执行至2027年12月31日。\n"
    "二、对个体工商户年应纳税所得额不超过200万元的部分，减半征收个人所得税。\n"
    "三、本公告自2023年1月1日起施行。\n"
)
TAX_QUESTION = "个体工商户个人所得税有什么优惠"


def _embedding_rows(paths: DataPaths) -> int:
    with sqlite3.connect(paths.db) as db:
        return int(db.execute("SELECT count(*) FROM embeddings").fetchone()[0])


def _store_version(paths: DataPaths) -> int:
    store = Store(paths.db)
    try:
        return store.version
    finally:
        store.close()


def _generations(paths: DataPaths) -> list[str]:
    return sorted(p.name for p in paths.index.glob("gen-*"))


def _put_seed(seeds: Path, doc_id: str, text: str) -> None:
    """Write a seed file and append its manifest line, with the right sha256."""
    raw = text.encode("utf-8")
    (seeds / "docs" / f"{doc_id}.txt").write_bytes(raw)
    digest = hashlib.sha256(raw).hexdigest()
    row = {"doc_id": doc_id, "title": "税费政策公告", "file": f"docs/{doc_id}.txt", "sha256": digest}
    with (seeds / "manifest.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _drop_manifest_line(seeds: Path, doc_id: str) -> None:
    manifest = seeds / "manifest.jsonl"
    lines = [line for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = [line for line in lines if json.loads(line)["doc_id"] != doc_id]
    assert len(kept) == len(lines) - 1
    manifest.write_text("\n".join(kept) + "\n", encoding="utf-8")


def _multi_sentence_chunks_longer_than(data: Any, max_chars: int) -> list[str]:
    texts = {d.doc_id: d.text for d in data.docs.values()}
    return [
        c.chunk_id
        for c in data.chunks
        if len(c.text) > max_chars and len(split_sentences(texts[c.doc_id], c.start, c.end)) > 1
    ]


def test_data_paths_put_the_database_and_the_index_inside_the_data_directory(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path)
    assert paths.db == tmp_path / "zhengce.db"
    assert paths.index == tmp_path / "index"


def test_seed_document_is_the_cleaned_text_with_manifest_metadata(repo_root: Path) -> None:
    (entry,) = read_seeds(repo_root / "seeds")
    doc = seed_document(entry)
    assert doc.text == clean_text(entry.raw.decode("utf-8")).text
    assert (doc.doc_id, doc.title, doc.sha256) == (entry.doc_id, entry.title, entry.sha256)
    assert doc.published == entry.published and doc.author == "邓俐"
    assert "16118元" in doc.text and "原标题" not in doc.text and "上一篇" not in doc.text


@pytest.mark.model
def test_ensure_index_builds_the_real_seeds_with_the_real_model(
    tmp_path: Path, repo_root: Path, real_embedder: Any, seed_docs: list[Document]
) -> None:
    paths = DataPaths(tmp_path)
    manifest = ensure_index(paths, repo_root / "seeds", BuildConfig(), real_embedder)
    assert (manifest.generation, manifest.n_docs) == (1, 1)
    assert manifest.embedder == real_embedder.info
    assert manifest.tokenizer == tokenizer_id("char12") and manifest.chunk_config == ChunkConfig().as_dict()
    data = read_index(paths.index, real_embedder.info)
    assert list(data.docs.values()) == seed_docs
    assert len(data.chunks) == manifest.n_chunks == _embedding_rows(paths)


@pytest.mark.model
def test_ensure_index_twice_without_changes_reuses_the_generation_without_embedding(
    tmp_path: Path, repo_root: Path, real_embedder: Any
) -> None:
    paths = DataPaths(tmp_path)
    first = ensure_index(paths, repo_root / "seeds", BuildConfig(), real_embedder)
    state = (_embedding_rows(paths), _store_version(paths), _generations(paths))
    second = ensure_index(paths, repo_root / "seeds", BuildConfig(), real_embedder)
    assert second == first
    assert (_embedding_rows(paths), _store_version(paths), _generations(paths)) == state
    assert state[2] == ["gen-000001"]


@pytest.mark.model
def test_adding_then_removing_a_seed_document_publishes_new_generations(
    tmp_path: Path, real_embedder: Any, seed_writer: Callable[..., Path]
) -> None:
    seeds = seed_writer(tmp_path, [], copy_repo_seeds=True)
    paths = DataPaths(tmp_path / "data")
    first = ensure_index(paths, seeds, BuildConfig(), real_embedder)
    rows_before = _embedding_rows(paths)

    _put_seed(seeds, TAX_ID, TAX)
    added = ensure_index(paths, seeds, BuildConfig(), real_embedder)
    assert (added.generation, added.n_docs) == (first.generation + 1, 2)
    new_chunks = added.n_chunks - first.n_chunks
    assert new_chunks > 0
    assert _embedding_rows(paths) == rows_before + new_chunks, "the seed's chunks came from the cache"

    retriever = Retriever.open(paths.index, real_embedder, RetrievalConfig())
    answer = retriever.ask(TAX_QUESTION)
    assert not answer.abstained
    assert answer.citations[0].doc_id == TAX_ID
    assert "减半征收个人所得税" in answer.text
    assert retriever.search(TAX_QUESTION, 1)[0].chunk.doc_id == TAX_ID

    _drop_manifest_line(seeds, TAX_ID)
    removed = ensure_index(paths, seeds, BuildConfig(), real_embedder)
    assert (removed.generation, removed.n_docs, removed.n_chunks) == (added.generation + 1, 1, first.n_chunks)
    retriever = Retriever.open(paths.index, real_embedder, RetrievalConfig())
    assert set(retriever.docs) == {SEED_ID}
    assert all(h.chunk.doc_id == SEED_ID for h in retriever.search(TAX_QUESTION, 5))


@pytest.mark.model
def test_changing_max_chars_rechunks_every_document(tmp_path: Path, repo_root: Path, real_embedder: Any) -> None:
    paths = DataPaths(tmp_path)
    before = ensure_index(paths, repo_root / "seeds", BuildConfig(), real_embedder)
    cfg = BuildConfig(chunk=ChunkConfig(max_chars=80))
    after = ensure_index(paths, repo_root / "seeds", cfg, real_embedder)
    assert after.generation == before.generation + 1
    assert after.chunk_config == {**ChunkConfig().as_dict(), "max_chars": 80}
    assert after.n_chunks > before.n_chunks
    data = read_index(paths.index, real_embedder.info)
    assert _multi_sentence_chunks_longer_than(data, 80) == []
    assert ensure_index(paths, repo_root / "seeds", cfg, real_embedder) == after


def test_a_changed_seed_file_replaces_the_document(
    tmp_path: Path, hash_embedder: Any, seed_writer: Callable[..., Path]
) -> None:
    seeds = seed_writer(tmp_path, [(TAX_ID, TAX)])
    paths = DataPaths(tmp_path / "data")
    first = ensure_index(paths, seeds, BuildConfig(), hash_embedder)
    changed = TAX.replace("减半征收", "免征")
    _drop_manifest_line(seeds, TAX_ID)
    _put_seed(seeds, TAX_ID, changed)
    second = ensure_index(paths, seeds, BuildConfig(), hash_embedder)
    assert second.generation == first.generation + 1
    doc = read_index(paths.index).docs[TAX_ID]
    assert "免征个人所得税" in doc.text and "减半征收" not in doc.text
    assert doc.sha256 == hashlib.sha256(changed.encode("utf-8")).hexdigest()


def test_changing_the_tokenizer_rebuilds_without_embedding_again(
    tmp_path: Path, hash_embedder: Any, seed_writer: Callable[..., Path]
) -> None:
    seeds = seed_writer(tmp_path, [(TAX_ID, TAX)])
    paths = DataPaths(tmp_path / "data")
    first = ensure_index(paths, seeds, BuildConfig(), hash_embedder)
    rows = _embedding_rows(paths)
    second = ensure_index(paths, seeds, BuildConfig(tokenizer="word"), hash_embedder)
    assert (second.generation, second.tokenizer) == (first.generation + 1, tokenizer_id("word"))
    assert _embedding_rows(paths) == rows
    retriever = Retriever.open(paths.index, hash_embedder, RetrievalConfig())
    assert retriever.lexical.scheme == tokenizer_id("word")
    assert "个人所得税" in retriever.data.segments[0].postings.vocab  # a jieba word, never a char12 token


def test_changing_the_embedder_rebuilds_with_the_new_model(
    tmp_path: Path, hash_embedder: Any, seed_writer: Callable[..., Path]
) -> None:
    class OtherHash(type(hash_embedder)):  # type: ignore[misc]
        info = EmbedderInfo("hash-test-2", 64)

    seeds = seed_writer(tmp_path, [(TAX_ID, TAX)])
    paths = DataPaths(tmp_path / "data")
    first = ensure_index(paths, seeds, BuildConfig(), hash_embedder)
    second = ensure_index(paths, seeds, BuildConfig(), OtherHash())
    assert second.generation == first.generation + 1
    assert second.embedder.name == "hash-test-2"


def test_a_bad_seed_folder_raises_seed_error_and_leaves_the_index_alone(
    tmp_path: Path, hash_embedder: Any, seed_writer: Callable[..., Path]
) -> None:
    seeds = seed_writer(tmp_path, [(TAX_ID, TAX)])
    paths = DataPaths(tmp_path / "data")
    first = ensure_index(paths, seeds, BuildConfig(), hash_embedder)
    (seeds / "docs" / f"{TAX_ID}.txt").write_text(TAX + "篡改", encoding="utf-8")
    with pytest.raises(SeedError, match="sha256"):
        ensure_index(paths, seeds, BuildConfig(), hash_embedder)
    assert read_index(paths.index).manifest == first


def test_without_a_seeds_folder_the_stored_documents_are_indexed(
    tmp_path: Path, hash_embedder: Any, seed_writer: Callable[..., Path]
) -> None:
    seeds = seed_writer(tmp_path, [(TAX_ID, TAX)])
    paths = DataPaths(tmp_path / "data")
    first = ensure_index(paths, seeds, BuildConfig(), hash_embedder)
    assert ensure_index(paths, None, BuildConfig(), hash_embedder) == first


def test_sync_seeds_counts_additions_replacements_and_removals(
    tmp_path: Path, seed_writer: Callable[..., Path]
) -> None:
    seeds = seed_writer(tmp_path, [("a", TAX), ("b", TAX + "四、附则。\n")])
    store = Store(tmp_path / "zhengce.db")
    try:
        assert sync_seeds(store, seeds, ChunkConfig()) == 2
        assert sync_seeds(store, seeds, ChunkConfig()) == 0
        _drop_manifest_line(seeds, "b")
        assert sync_seeds(store, seeds, ChunkConfig()) == 1
        assert store.doc_sha256() == {"a": (hashlib.sha256(TAX.encode()).hexdigest(), SEED_ORIGIN)}
    finally:
        store.close()


def test_ensure_index_rebuilds_a_corrupt_current_generation(
    tmp_path: Path, hash_embedder: Any, seed_writer: Callable[..., Path]
) -> None:
    seeds = seed_writer(tmp_path, [(TAX_ID, TAX)])
    paths = DataPaths(tmp_path / "data")
    first = ensure_index(paths, seeds, BuildConfig(), hash_embedder)
    vectors = segment_dirs(paths.index)[0] / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:100])
    second = ensure_index(paths, seeds, BuildConfig(), hash_embedder)
    assert second.generation == first.generation + 1
    assert read_index(paths.index).manifest == second


def test_a_rechunk_interrupted_by_a_seed_error_is_completed_by_the_next_build(
    tmp_path: Path, hash_embedder: Any, seed_writer: Callable[..., Path]
) -> None:
    text = "第一句话说明总体要求。" * 3 + "第二句话说明保障措施。" * 3
    seeds = seed_writer(tmp_path, [("a-doc", text), ("b-doc", text)])
    paths = DataPaths(tmp_path / "data")
    ensure_index(paths, seeds, BuildConfig(), hash_embedder)
    b = seeds / "docs" / "b-doc.txt"
    good = b.read_bytes()
    b.write_bytes(good + "篡改".encode())
    small = BuildConfig(chunk=ChunkConfig(max_chars=30))
    with pytest.raises(SeedError):
        ensure_index(paths, seeds, small, hash_embedder)
    b.write_bytes(good)
    manifest = ensure_index(paths, seeds, small, hash_embedder)
    assert manifest.chunk_config["max_chars"] == 30
    assert _multi_sentence_chunks_longer_than(read_index(paths.index), 30) == []


def test_an_empty_corpus_gives_an_empty_index_or_an_ingest_error(
    tmp_path: Path, hash_embedder: Any, seed_writer: Callable[..., Path]
) -> None:
    seeds = seed_writer(tmp_path, [])
    paths = DataPaths(tmp_path / "data")
    try:
        manifest = ensure_index(paths, seeds, BuildConfig(), hash_embedder)
    except IngestError:
        return
    assert manifest.n_chunks == 0
    assert read_index(paths.index).chunks == ()


def test_a_chunk_size_change_rechunks_uploads_even_without_seeds(tmp_path: Path, hash_embedder: Any) -> None:
    paths = DataPaths(tmp_path)
    seed_file = next((Path(__file__).resolve().parents[2] / "seeds" / "docs").glob("*.txt"))
    library = Library(paths, ChunkConfig())
    try:
        library.receive("notice.txt", seed_file.read_bytes())
    finally:
        library.close()
    wide = ensure_index(paths, None, BuildConfig(), hash_embedder)
    narrow = ensure_index(paths, None, BuildConfig(chunk=ChunkConfig(max_chars=60)), hash_embedder)
    assert narrow.n_chunks > wide.n_chunks
    assert narrow.chunk_config == ChunkConfig(max_chars=60).as_dict()
