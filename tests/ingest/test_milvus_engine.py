"""The Milvus search engine against the real engine: milvus-lite 2.5.1 (Milvus's own C++ engine), in process
(a file) and as a server on loopback (a URI, the production code path).

The same documents indexed on both engines must give the same candidates with the same scores and the
same answers; every add, replace and delete must reach the collection; a dropped, partial or foreign
collection is rebuilt from the database; an unreachable engine is an error, never a wrong answer.
Documents are the real report excerpts of ``tests/fixtures/durability``; vectors come from the real model.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import MilvusServer, chunk_ids

from ingest.build import UpdateOptions, embed_with_cache, ensure_index
from ingest.config import BuildConfig, DataPaths, EngineConfig
from ingest.embed import SentenceEmbedder
from ingest.library import Library
from ingest.milvus_index import ChunkRow, EngineUnavailableError, MilvusIndex, chunk_rows, milvus_index
from ingest.store import Store
from ingest.tokenize import tokenizer_id
from retriever.pipeline import Retriever
from retriever.types import Answer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "durability"
FILES = sorted((FIXTURES / "docs").glob("*.txt"))
QUESTIONS = [
    "取消农业税每年减轻农民负担多少？",
    "如何防范化解地方政府债务风险？",
    "如何加强生态系统保护和修复？",
    "脱贫人口收入是多少",
]


def _library(root: Path, cfg: BuildConfig, embedder: SentenceEmbedder, files: list[Path]) -> DataPaths:
    paths = DataPaths(root)
    library = Library(paths, cfg.chunk)
    try:
        for f in files:
            library.receive(f.name, f.read_bytes())
    finally:
        library.close()
    ensure_index(paths, None, cfg, embedder)
    return paths


@pytest.fixture(scope="module", params=["in-process", "server"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineConfig]:
    """A Milvus engine: a milvus-lite file opened in this process, or milvus-lite serving TCP on loopback."""
    root = tmp_path_factory.mktemp(f"milvus-{request.param}")
    if request.param == "in-process":
        yield EngineConfig(kind="milvus", uri=str(root / "engine.db"))
        return
    with MilvusServer(root / "engine.db") as server:
        yield EngineConfig(kind="milvus", uri=server.uri)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory, real_embedder: SentenceEmbedder) -> Retriever:
    paths = _library(tmp_path_factory.mktemp("embedded"), BuildConfig(), real_embedder, FILES)
    return Retriever.open(paths.index, real_embedder)


@pytest.fixture(scope="module")
def on_milvus(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: SentenceEmbedder, engine: EngineConfig
) -> Retriever:
    cfg = BuildConfig(engine=engine)
    paths = _library(tmp_path_factory.mktemp("milvus-library"), cfg, real_embedder, FILES)
    return Retriever.open(paths.index, real_embedder, engine=engine)


def _on_milvus(
    root: Path, embedder: SentenceEmbedder, engine: EngineConfig, files: list[Path]
) -> tuple[BuildConfig, DataPaths, MilvusIndex]:
    """A library of ``files`` indexed in its own Milvus collection: its config, paths and collection."""
    cfg = BuildConfig(engine=engine)
    paths = _library(root, cfg, embedder, files)
    return cfg, paths, _collection(paths, cfg, embedder)


def _collection(paths: DataPaths, cfg: BuildConfig, embedder: SentenceEmbedder) -> MilvusIndex:
    return milvus_index(cfg.engine, paths.root, embedder.info, tokenizer_id(cfg.tokenizer))


@pytest.mark.parametrize("question", QUESTIONS)
def test_both_engines_find_the_same_candidates_with_the_same_scores(
    embedded: Retriever, on_milvus: Retriever, question: str
) -> None:
    mine, theirs = on_milvus.signals(on_milvus.parse(question)), embedded.signals(embedded.parse(question))
    chunks = lambda r, s: [r.data.chunk(int(row)).chunk_id for row in s.rows]  # noqa: E731
    assert chunks(on_milvus, mine) == chunks(embedded, theirs)
    # Milvus's BM25 is Lucene's, scaled back to bm25s's; its statistics are those of the same live chunks.
    np.testing.assert_allclose(mine.lexical, theirs.lexical, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mine.dense, theirs.dense, atol=1e-5)


@pytest.mark.parametrize("question", QUESTIONS)
def test_both_engines_give_the_same_answer_and_citations(
    embedded: Retriever, on_milvus: Retriever, question: str
) -> None:
    mine, theirs = on_milvus.ask(question), embedded.ask(question)
    assert (mine.text, mine.abstained) == (theirs.text, theirs.abstained)
    shown = lambda a: [(c.doc_id, c.start, c.end, c.quote) for c in (*a.citations, *a.related)]  # noqa: E731
    assert shown(mine) == shown(theirs)


@pytest.mark.parametrize("share", [0.2, 0.8])  # a doc_id list, and its complement (``doc_id not in``)
def test_a_filter_admits_the_same_chunks_on_both_engines(
    embedded: Retriever, on_milvus: Retriever, share: float
) -> None:
    docs = sorted(embedded.docs)
    only = set(docs[: max(1, round(share * len(docs)))])
    for question in QUESTIONS:
        mine = on_milvus.search(question, 20, only=only)
        theirs = embedded.search(question, 20, only=only)
        assert [h.chunk.chunk_id for h in mine] == [h.chunk.chunk_id for h in theirs]
        assert {h.chunk.doc_id for h in mine} <= only


@pytest.mark.parametrize("k", [1, 3, 8])
def test_weighted_queries_give_the_exact_top_k_of_their_sum(embedded: Retriever, on_milvus: Retriever, k: int) -> None:
    """A question and its synonyms are two BM25 queries summed with weights: Milvus returns each one's top list,
    so its lists are widened until no row outside them can beat the k-th (the threshold algorithm)."""
    tokens = embedded.lexical.tokens
    cases = [
        [(tokens("农民负担"), 1.0), (tokens("农业税"), 0.5)],
        [(tokens("生态保护"), 1.0), (tokens("环境治理修复"), 0.5)],
        [(tokens("债务风险"), 1.0), (tokens("地方政府财政金融"), 0.9)],
    ]
    for queries in cases:
        mine, theirs = on_milvus.index.lexical(queries, k), embedded.index.lexical(queries, k)
        assert mine.rows.tolist() == theirs.rows.tolist()
        np.testing.assert_allclose(mine.scores, theirs.scores, rtol=1e-4, atol=1e-5)


def test_a_filtered_question_searches_the_admitted_documents_only(on_milvus: Retriever) -> None:
    only = {d for d in on_milvus.docs if "2008" in on_milvus.docs[d].title}
    assert only, "the 2008 report is in the library"
    answer = on_milvus.ask("取消农业税每年减轻农民负担多少？", only=only)
    assert "1335亿元" in answer.text
    assert {c.doc_id for c in (*answer.citations, *answer.related)} <= only
    hits = on_milvus.search("如何加强生态系统保护和修复？", 20, only=only)
    assert hits and {h.chunk.doc_id for h in hits} <= only


def test_adds_replacements_and_deletes_reach_the_collection(
    tmp_path: Path, real_embedder: SentenceEmbedder, engine: EngineConfig
) -> None:
    cfg, paths, collection = _on_milvus(tmp_path, real_embedder, replace(engine, collection="updates"), FILES[:3])
    assert collection.ids() == chunk_ids(paths.db)
    library = Library(paths, cfg.chunk)
    try:
        added = library.receive(FILES[3].name, FILES[3].read_bytes()).status.doc_id
        replaced = library.receive(
            FILES[0].name,
            (FIXTURES / "changed" / FILES[0].name).read_bytes(),
            doc_id=library.store.documents()[0].doc_id,
        ).status.doc_id
        deleted = library.store.documents()[1].doc_id
        assert library.delete(deleted)
    finally:
        library.close()
    ensure_index(paths, None, cfg, real_embedder)
    assert collection.ids() == chunk_ids(paths.db)
    retriever = Retriever.open(paths.index, real_embedder, engine=cfg.engine)
    assert added in retriever.docs and replaced in retriever.docs and deleted not in retriever.docs
    answer = retriever.ask("取消农业税每年减轻农民负担多少？")  # the 2008 report, changed: 1335 became 1353
    assert "1353亿元" in answer.text and answer.citations[0].doc_id == replaced
    assert all(deleted != h.chunk.doc_id for h in retriever.search("政府工作报告", 50))


def test_a_dropped_partial_or_padded_collection_is_rebuilt_from_the_database(
    tmp_path: Path, real_embedder: SentenceEmbedder, engine: EngineConfig
) -> None:
    cfg, paths, collection = _on_milvus(tmp_path, real_embedder, replace(engine, collection="repairs"), FILES[:3])
    wanted = chunk_ids(paths.db)
    reconcile = UpdateOptions(reconcile=True)
    expected = Retriever.open(paths.index, real_embedder, engine=cfg.engine).ask(QUESTIONS[0])

    collection.delete_ids(sorted(wanted)[::3])  # partial
    collection.upsert(  # padded: a chunk the database does not have (a crash between publish and delete)
        [replace(_rows(paths, cfg, real_embedder)[0], id=10**12)]
    )
    ensure_index(paths, None, cfg, real_embedder, reconcile)
    assert collection.ids() == wanted

    collection.client.drop_collection(collection.collection)  # missing
    ensure_index(paths, None, cfg, real_embedder, reconcile)
    assert collection.ids() == wanted
    answer = Retriever.open(paths.index, real_embedder, engine=cfg.engine).ask(QUESTIONS[0])
    assert (answer.text, [c.quote for c in answer.citations]) == (expected.text, [c.quote for c in expected.citations])


def _rows(paths: DataPaths, cfg: BuildConfig, embedder: SentenceEmbedder) -> list[ChunkRow]:
    """Every chunk of the database as the collection holds it."""
    store = Store(paths.db)
    try:
        rows = store.chunks()
        vectors = embed_with_cache(store, embedder, [c for _, c in rows])
        return list(chunk_rows(store.documents(), rows, vectors, cfg.tokenizer))
    finally:
        store.close()


def test_moving_a_library_into_milvus_resumes_where_a_killed_move_stopped(
    tmp_path: Path, real_embedder: SentenceEmbedder, engine: EngineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _library(tmp_path, BuildConfig(), real_embedder, FILES[:3])  # an embedded library
    cfg = BuildConfig(engine=replace(engine, collection="moved"))
    collection = _collection(paths, cfg, real_embedder)
    collection.ensure_collection()
    rows = _rows(paths, cfg, real_embedder)
    collection.upsert(rows[: len(rows) // 2])  # the first half made it before the move was killed
    written: list[int] = []
    upsert_batch = MilvusIndex._upsert_batch

    def observed(self: MilvusIndex, batch: list[dict[str, Any]], bar: Any) -> int:
        written.extend(int(r["id"]) for r in batch)
        return upsert_batch(self, batch, bar)

    monkeypatch.setattr(MilvusIndex, "_upsert_batch", observed)
    cached = _cached_vectors(paths)
    manifest = ensure_index(paths, None, cfg, real_embedder)  # what `ZHENGCE_INDEX=milvus zhengce ingest` does
    assert manifest.engine == "milvus"
    assert sorted(written) == sorted(r.id for r in rows[len(rows) // 2 :])  # the rest, nothing twice, no re-embedding
    assert collection.ids() == chunk_ids(paths.db)
    assert _cached_vectors(paths) == cached  # every vector came from the embedding cache


def _cached_vectors(paths: DataPaths) -> int:
    with sqlite3.connect(paths.db) as db:
        return int(db.execute("SELECT count(*) FROM embeddings").fetchone()[0])


def test_a_collection_built_for_another_tokenizer_is_recreated(
    tmp_path: Path, real_embedder: SentenceEmbedder, engine: EngineConfig
) -> None:
    cfg, paths, ours = _on_milvus(tmp_path, real_embedder, replace(engine, collection="foreign"), FILES[:1])
    assert ours.ids()
    other = MilvusIndex(ours.uri, "", ours.collection, real_embedder.info, "word+char12@v0")
    assert other.ensure_collection() is True  # dropped and created again, empty
    assert other.ids() == set()
    assert ours.ensure_collection() is True  # and ours is recognised as foreign in turn
    ensure_index(paths, None, cfg, real_embedder, UpdateOptions(reconcile=True))
    assert ours.ids() == chunk_ids(paths.db)


def test_switching_engines_rebuilds_the_index_and_says_why(
    tmp_path: Path, real_embedder: SentenceEmbedder, engine: EngineConfig
) -> None:
    paths = _library(tmp_path, BuildConfig(), real_embedder, FILES[:1])
    cfg = BuildConfig(engine=replace(engine, collection="switched"))
    manifest = ensure_index(paths, None, cfg, real_embedder)
    assert (manifest.engine, manifest.reason) == ("milvus", "the search engine changed to milvus")
    assert _collection(paths, cfg, real_embedder).ids() == chunk_ids(paths.db)
    # The generation keeps no vectors of its own: the engine holds them.
    assert all(
        s.vectors.shape[1] == 0 for s in Retriever.open(paths.index, real_embedder, engine=cfg.engine).data.segments
    )


def test_an_unreachable_engine_is_an_error_not_an_answer(tmp_path: Path, real_embedder: SentenceEmbedder) -> None:
    with MilvusServer(tmp_path / "engine.db") as server:
        cfg = BuildConfig(engine=EngineConfig(kind="milvus", uri=server.uri, collection="unreachable"))
        paths = _library(tmp_path / "data", cfg, real_embedder, FILES[:1])
        retriever = Retriever.open(paths.index, real_embedder, engine=cfg.engine)
        assert not retriever.ask(QUESTIONS[0]).abstained
        server.kill()
        with pytest.raises(EngineUnavailableError, match="unreachable"):
            retriever.ask(QUESTIONS[0])  # retried once, then refused: no writer's backoff
        with pytest.raises(EngineUnavailableError):
            retriever.index.check()
        server.start()
        assert "1335亿元" in _answer_once_reconnected(retriever, QUESTIONS[0]).text


def _answer_once_reconnected(retriever: Retriever, question: str, tries: int = 20) -> Answer:
    """The answer once the client is connected again; until then each ask may only be refused as unavailable.

    gRPC waits out its own reconnect backoff after the engine went away, so the first ask after a restart
    can still find the channel down (a 503 to the user, never another error).
    """
    for _ in range(tries):
        try:
            return retriever.ask(question)
        except EngineUnavailableError:
            time.sleep(0.5)
    return retriever.ask(question)
