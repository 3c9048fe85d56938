"""Incremental updates equal a fresh build: any sequence of add / replace / delete followed by
``ensure_index`` leaves an index (segments and tombstones, merged or not by the merge policy) whose
answers are exactly those of a data directory built from scratch with only the surviving documents;
merging every segment gives exactly the fresh build's segment; unchanged chunks are never embedded twice.

Documents are real excerpts of national 政府工作报告 (``tests/fixtures/durability``), each in two
versions; answers come from the real USE-m3 model, because ranking must match to the last citation.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from ingest.build import compact_index, ensure_index
from ingest.config import BuildConfig, DataPaths
from ingest.embed import SentenceEmbedder
from ingest.index_store import Segment, read_index
from ingest.library import Library
from retriever.pipeline import Retriever
from retriever.types import Answer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "durability"
QUESTIONS = {q["file"]: q for q in json.loads((FIXTURES / "questions.json").read_text(encoding="utf-8"))}
# Eight of the twelve documents take part, in two versions each (docs/ and changed/).
SLOTS = [QUESTIONS[f"report-{year}.txt"] for year in (2008, 2012, 2014, 2016, 2017, 2018, 2021, 2022)]
VERSIONS = ("docs", "changed")
# Each document's own question, and two that several documents answer in part.
ASKED = [*(q["question"] for q in SLOTS), "如何防范化解地方政府债务风险？", "如何加强生态系统保护和修复？"]
CFG = BuildConfig()


def version_bytes(slot: int, version: int) -> bytes:
    """The bytes of one version of one document."""
    path: Path = FIXTURES / VERSIONS[version] / SLOTS[slot]["file"]
    return path.read_bytes()


def content_id(data: bytes) -> str:
    """The doc_id a new upload of ``data`` gets."""
    return f"doc-{hashlib.sha256(data).hexdigest()[:16]}"


def embedding_rows(paths: DataPaths) -> int:
    """How many vectors the data directory's embedding cache holds."""
    with sqlite3.connect(paths.db) as db:
        return int(db.execute("SELECT count(*) FROM embeddings").fetchone()[0])


@dataclass
class Present:
    """What the user expects of a document that was added and not deleted: its id, the version last
    sent, and the version the last update parsed (None before the first; a new version waits for the next)."""

    doc_id: str
    version: int
    parsed: int | None


class Model:
    """The user's view of the library: which documents exist, under which id, in which version.

    Three cases are left out here, each the subject of its own test below (remove the guard once
    its bug is fixed): adding the first version while the document is, or is becoming, another one;
    replacing a document that was never parsed; and sending back the parsed version while another waits.
    """

    def __init__(self) -> None:
        self.present: dict[int, Present] = {}

    def apply(self, library: Library, op: tuple[str, int, int]) -> None:
        """Do ``op`` on the library and check what it reports against what the user expects."""
        kind, slot, version = op
        name, here = SLOTS[slot]["file"], self.present.get(slot)
        if kind == "add" and (here is None or (here.version == 0 and here.parsed != 1)):
            got = library.receive(name, version_bytes(slot, 0))
            assert (got.status.doc_id, got.duplicate) == (content_id(version_bytes(slot, 0)), here is not None)
            self.present.setdefault(slot, Present(got.status.doc_id, 0, None))
        elif kind == "replace" and here is not None and here.parsed is not None and version != here.parsed:
            got = library.receive(name, version_bytes(slot, version), doc_id=here.doc_id)
            assert (got.status.doc_id, got.duplicate) == (here.doc_id, version == here.version)
            here.version = version
        elif kind == "replace" and here is not None and version == here.parsed == here.version:
            assert library.receive(name, version_bytes(slot, version), doc_id=here.doc_id).duplicate
        elif kind == "delete":
            assert library.delete(here.doc_id if here is not None else content_id(version_bytes(slot, 0))) == (
                here is not None
            )
            self.present.pop(slot, None)

    def updated(self) -> None:
        """An update parsed every version sent."""
        for here in self.present.values():
            here.parsed = here.version

    def build_fresh(self, paths: DataPaths, embedder: SentenceEmbedder) -> None:
        """A new data directory holding only the surviving documents, under the same ids."""
        library = Library(paths, CFG.chunk)
        try:
            for slot, here in sorted(self.present.items()):
                library.receive(SLOTS[slot]["file"], version_bytes(slot, here.version), doc_id=here.doc_id)
        finally:
            library.close()
        ensure_index(paths, None, CFG, embedder)


def shown(answer: Answer) -> tuple[Any, ...]:
    """What a user sees of an answer besides its confidence: text, abstention, every quote with its place, in order."""
    quotes = [tuple((c.doc_id, c.start, c.end, c.quote) for c in cs) for cs in (answer.citations, answer.related)]
    return (answer.text, answer.abstained, *quotes)


def chunk_spans(index_root: Path) -> list[tuple[str, int, int, str]]:
    """The chunks of the current generation, without their FAISS ids."""
    return sorted((c.doc_id, c.start, c.end, c.text) for c in read_index(index_root).chunks)


# (kind, slot, version): adds and replacements twice as likely as deletions, index updates and merges.
_op = st.tuples(
    st.sampled_from(["add", "add", "replace", "replace", "delete", "index", "merge"]),
    st.integers(0, len(SLOTS) - 1),
    st.integers(0, len(VERSIONS) - 1),
)


@pytest.mark.model
@settings(max_examples=15, deadline=None, derandomize=True, database=None, phases=[Phase.generate])
@given(
    first=st.sets(st.integers(0, len(SLOTS) - 1), min_size=3),
    ops=st.lists(_op, min_size=10, max_size=30),
)
def test_any_sequence_of_adds_replacements_and_deletions_answers_like_a_fresh_build(
    first: set[int], ops: list[tuple[str, int, int]], real_embedder: SentenceEmbedder
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        incremental, fresh = DataPaths(Path(tmp) / "incremental"), DataPaths(Path(tmp) / "fresh")
        model = Model()
        for op in [*(("add", slot, 0) for slot in sorted(first)), ("index", 0, 0), *ops]:
            if op[0] == "index":
                ensure_index(incremental, None, CFG, real_embedder)
                model.updated()
                continue
            if op[0] == "merge":
                while compact_index(incremental, real_embedder):
                    pass
                continue
            library = Library(incremental, CFG.chunk)
            try:
                model.apply(library, op)
            finally:
                library.close()
        ensure_index(incremental, None, CFG, real_embedder)
        model.build_fresh(fresh, real_embedder)

        index = read_index(incremental.index)
        assert {d.doc_id: d.sha256 for d in index.docs.values()} == {
            h.doc_id: hashlib.sha256(version_bytes(s, h.version)).hexdigest() for s, h in model.present.items()
        }
        assert index.docs == read_index(fresh.index).docs
        assert chunk_spans(incremental.index) == chunk_spans(fresh.index)
        assert_same_answers(incremental, fresh, real_embedder)
        compact_index(incremental, real_embedder, everything=True)
        merged, direct = read_index(incremental.index), read_index(fresh.index)
        assert len(merged.segments) == len(direct.segments) == 1 and not merged.manifest.tombstones
        assert not compact_index(incremental, real_embedder, everything=True)  # nothing left to merge
        assert_same_segment(merged.segments[0], direct.segments[0])
        assert_same_answers(incremental, fresh, real_embedder)

        cached = embedding_rows(incremental)
        shutil.rmtree(incremental.index)
        ensure_index(incremental, None, CFG, real_embedder)
        assert embedding_rows(incremental) == cached  # a full rebuild takes every vector from the cache


def assert_same_answers(one: DataPaths, other: DataPaths, embedder: SentenceEmbedder) -> None:
    """Every question gets the same answer, quotes and confidence from both data directories."""
    a_side, b_side = (Retriever.open(d.index, embedder) for d in (one, other))
    for question in ASKED:
        a, b = a_side.ask(question), b_side.ask(question)
        assert shown(a) == shown(b), question
        assert a.confidence == pytest.approx(b.confidence, abs=1e-6), question


def assert_same_segment(a: Segment, b: Segment) -> None:
    """Equal documents, chunk rows, vectors and term frequencies (database ids aside: each directory has its own;
    vectors up to float rounding, as each directory embedded its chunks in batches of its own)."""
    assert a.docs == b.docs and a.headings == b.headings
    assert np.array_equal(a.table, b.table)
    np.testing.assert_allclose(a.vectors, b.vectors, atol=1e-5)
    assert a.postings.vocab.keys() == b.postings.vocab.keys()
    for token in a.postings.vocab:
        for x, y in zip(a.postings.lookup(token), b.postings.lookup(token), strict=True):
            assert np.array_equal(x, y), token
    assert np.array_equal(a.postings.doclen, b.postings.doclen)


@pytest.mark.model
def test_reindexing_unchanged_chunks_embeds_nothing_new(tmp_path: Path, real_embedder: SentenceEmbedder) -> None:
    paths = DataPaths(tmp_path)
    library = Library(paths, CFG.chunk)
    ids = [library.receive(SLOTS[s]["file"], version_bytes(s, 0)).status.doc_id for s in range(3)]
    library.close()
    first = ensure_index(paths, None, CFG, real_embedder)
    cached = embedding_rows(paths)
    assert cached >= first.n_chunks > 0

    library = Library(paths, CFG.chunk)
    assert library.delete(ids[0])
    library.close()
    ensure_index(paths, None, CFG, real_embedder)
    library = Library(paths, CFG.chunk)
    assert library.receive(SLOTS[0]["file"], version_bytes(0, 0)).status.doc_id == ids[0]
    library.close()
    again = ensure_index(paths, None, CFG, real_embedder)
    assert again.generation == first.generation + 2 and again.n_chunks == first.n_chunks
    assert embedding_rows(paths) == cached  # deleted and re-added: every chunk came from the cache

    library = Library(paths, CFG.chunk)
    library.receive(SLOTS[1]["file"], version_bytes(1, 1), doc_id=ids[1])
    library.close()
    ensure_index(paths, None, CFG, real_embedder)
    with_changed = embedding_rows(paths)
    assert with_changed > cached  # the changed version has new chunks
    library = Library(paths, CFG.chunk)
    library.receive(SLOTS[1]["file"], version_bytes(1, 0), doc_id=ids[1])
    library.close()
    back = ensure_index(paths, None, CFG, real_embedder)
    assert embedding_rows(paths) == with_changed  # replaced back: the first version's vectors were cached
    assert back.n_chunks == first.n_chunks

    shutil.rmtree(paths.index)
    rebuilt = ensure_index(paths, None, CFG, real_embedder)
    assert rebuilt.n_chunks == first.n_chunks and embedding_rows(paths) == with_changed


@pytest.mark.model
def test_adding_a_file_equal_to_an_earlier_version_of_a_replaced_document_keeps_that_document(
    tmp_path: Path, real_embedder: SentenceEmbedder
) -> None:
    paths = DataPaths(tmp_path)
    name, first, second = SLOTS[0]["file"], version_bytes(0, 0), version_bytes(0, 1)
    library = Library(paths, CFG.chunk)
    try:
        replaced = library.receive(name, first).status.doc_id
        ensure_index(paths, None, CFG, real_embedder)
        library.receive(name, second, doc_id=replaced)
        ensure_index(paths, None, CFG, real_embedder)
        added = library.receive(f"old-{name}", first)
        ensure_index(paths, None, CFG, real_embedder)
    finally:
        library.close()
    texts = {d.doc_id: d.text for d in read_index(paths.index).docs.values()}
    assert not added.duplicate
    assert added.status.doc_id != replaced
    assert SLOTS[0]["changed_fact"] in texts[replaced]  # the replaced document keeps its current version
    assert SLOTS[0]["fact"] in texts[added.status.doc_id]


@pytest.mark.model
def test_replacing_a_document_and_back_before_an_update_keeps_the_last_version_sent(
    tmp_path: Path, real_embedder: SentenceEmbedder
) -> None:
    paths = DataPaths(tmp_path)
    name, first, second = SLOTS[0]["file"], version_bytes(0, 0), version_bytes(0, 1)
    library = Library(paths, CFG.chunk)
    try:
        doc_id = library.receive(name, first).status.doc_id
        ensure_index(paths, None, CFG, real_embedder)
        library.receive(name, second, doc_id=doc_id)
        library.receive(name, first, doc_id=doc_id)  # changed their mind before the next update
        ensure_index(paths, None, CFG, real_embedder)
    finally:
        library.close()
    text = read_index(paths.index).docs[doc_id].text
    assert SLOTS[0]["fact"] in text and SLOTS[0]["changed_fact"] not in text


@pytest.mark.model
def test_a_new_version_sent_before_the_first_was_parsed_is_the_one_indexed(
    tmp_path: Path, real_embedder: SentenceEmbedder
) -> None:
    paths = DataPaths(tmp_path)
    name = SLOTS[0]["file"]
    library = Library(paths, CFG.chunk)
    try:
        doc_id = library.receive(name, version_bytes(0, 0)).status.doc_id
        got = library.receive(name, version_bytes(0, 1), doc_id=doc_id)  # before any update parsed the first
    finally:
        library.close()
    assert (got.status.doc_id, got.duplicate) == (doc_id, False)
    ensure_index(paths, None, CFG, real_embedder)
    text = read_index(paths.index).docs[doc_id].text
    assert SLOTS[0]["changed_fact"] in text and SLOTS[0]["fact"] not in text
