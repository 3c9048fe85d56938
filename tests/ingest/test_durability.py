"""Durability: what ``zhengce add`` acknowledged survives SIGKILL at any point, and a corrupt index
generation is rebuilt from SQLite, never served half or empty.

The kill test runs the real command line (``python -m server.cli add``) on real documents: twelve
excerpts of national 政府工作报告 (``tests/fixtures/durability``), each with a fact found in no other
excerpt and a question it answers. A seeded plan runs it nine times on the same data directory,
each time on files never sent before and some sent before, and SIGKILLs it: after some acknowledged
lines, after a short delay, once stderr shows it loading the model, embedding or building the
generation, or once its temporary generation directory appears. Then ``zhengce ingest`` recovers,
and every acknowledged document must be stored once, indexed, counted the same in SQLite and in every
part of the live segments (chunk table, vectors, postings), and cited for its own question. The phase
of each kill is logged (INFO). A merge of segments killed half-way loses nothing either.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from helpers import cli_env

from ingest.build import compact_index, ensure_index
from ingest.config import BuildConfig, DataPaths
from ingest.embed import SentenceEmbedder
from ingest.index_store import IndexData, current_dir, read_index, segment_dirs
from ingest.library import Library
from ingest.store import Store
from ingest.types import DocStatus
from retriever.pipeline import Retriever
from server.runtime import open_retriever
from server.settings import Settings

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
FIXTURES = REPO / "tests" / "fixtures" / "durability"
QUESTIONS = {q["file"]: q for q in json.loads((FIXTURES / "questions.json").read_text(encoding="utf-8"))}
FILES = sorted(QUESTIONS)
SEED_DOC, SEED_QUESTION, SEED_FACT = "cq-2023-08-25-xianjie", "脱贫人口收入是多少", "16118元"
CFG = BuildConfig()  # what the command line builds with when no ZHENGCE_* setting says otherwise
RUN_TIMEOUT_S = 300.0  # a safety net for a hung subprocess, never an expectation about speed
KILL_SEED = 20240305


@dataclass(frozen=True, slots=True)
class Trigger:
    """When to kill: after ``acks`` acknowledged lines, ``seconds`` after start or after the last
    acknowledgment, ``seconds`` after stderr shows ``log``, or once a temporary generation appears."""

    kind: str  # "ack" | "delay" | "after_acks" | "log" | "temporary"
    acks: int = 0
    seconds: float = 0.0
    log: str = ""


@dataclass(frozen=True, slots=True)
class Kill:
    """One killed ``zhengce add`` run: what it was given and what it said before it died."""

    trigger: Trigger
    sent: tuple[str, ...]
    acked: tuple[tuple[str, str], ...]  # (file name, doc_id) of every acknowledgment line
    stderr: str
    returncode: int
    temporary: tuple[str, ...]  # temporary directories this run left under the index

    @property
    def phase(self) -> str:
        """Where the process was when it died, from what it had written."""
        if self.returncode != -9:
            return "finished before the kill" if self.returncode == 0 else f"exited with {self.returncode}"
        if len(self.acked) < len(self.sent):
            return f"starting or receiving ({len(self.acked)} of {len(self.sent)} acknowledged)"
        steps = [
            ("loaded embedding model", "loading the model"),
            ("embedding:", "syncing seeds and parsing"),
            ("embedded ", "embedding"),
            ("published gen-", "building the generation" + (", leaving a temporary directory" * bool(self.temporary))),
            ("built index", "after publishing, before marking indexed"),
        ]
        for marker, phase in steps:
            if marker not in self.stderr:
                return phase
        return "after the build"


def acknowledgments(lines: list[str]) -> list[tuple[str, str]]:
    """(file name, doc_id) of every complete acknowledgment line on stdout."""
    found = []
    for line in lines:
        try:
            row = json.loads(line) if line.endswith("\n") else None
        except json.JSONDecodeError:
            continue  # a line of the closing summary, printed over several lines
        if isinstance(row, dict) and "doc_id" in row and row.get("status") != "failed":
            found.append((Path(row["path"]).name, str(row["doc_id"])))
    return found


def _pump(stream: IO[str], tag: str, events: queue.Queue[tuple[str, str | None]]) -> None:
    for line in stream:
        events.put((tag, line))
    events.put((tag, None))


def temporary_generations(data: Path) -> tuple[str, ...]:
    """The temporary directories under the index: generations and segments being written, or left by a kill."""
    found = [*(data / "index").glob(".tmp-*"), *(data / "index" / "segments").glob(".tmp-*")]
    return tuple(sorted(p.name for p in found))


class AddRun:
    """A running ``zhengce add`` (or another command: ``command``) whose output is read line by line,
    SIGKILLed when its trigger fires."""

    def __init__(self, data: Path, files: list[str], trigger: Trigger, command: tuple[str, ...] = ("add",)) -> None:
        self.data, self.files, self.trigger = data, files, trigger
        docs = [str(FIXTURES / "docs" / f) for f in files]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", *command, "--data", str(data), *docs],
            cwd=REPO,
            env=cli_env(ZHENGCE_SEEDS=str(SEEDS)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.events: queue.Queue[tuple[str, str | None]] = queue.Queue()
        for stream, tag in ((self.proc.stdout, "out"), (self.proc.stderr, "err")):
            assert stream is not None
            threading.Thread(target=_pump, args=(stream, tag, self.events), daemon=True).start()
        self.lines: dict[str, list[str]] = {"out": [], "err": []}
        self.earlier = set(temporary_generations(data))
        self.give_up = time.monotonic() + RUN_TIMEOUT_S
        self.kill_at = time.monotonic() + trigger.seconds if trigger.kind == "delay" else None
        self.killed = self.watching = False

    def _countdown_starts(self, tag: str, line: str) -> bool:
        kind, acked = self.trigger.kind, len(acknowledgments(self.lines["out"]))
        if kind == "ack":
            return acked >= self.trigger.acks
        if kind == "after_acks":
            return tag == "out" and acked == len(self.files)
        if kind == "temporary":
            # The temporary generation appears once the embeddings are done (a merge embeds nothing, and
            # starts once the model is loaded): watch the disk from then on.
            self.watching = self.watching or (tag == "err" and ("embedded " in line or "loaded embedding" in line))
            return False
        return kind == "log" and tag == "err" and self.trigger.log in line

    def _timeout(self) -> float:
        """How long to wait for the next line, killing the process first when its time has come."""
        if not self.killed and self.watching and set(temporary_generations(self.data)) - self.earlier:
            self.kill_at = time.monotonic()
        if not self.killed and self.kill_at is not None and time.monotonic() >= self.kill_at:
            self.proc.kill()
            self.killed = True
        if time.monotonic() >= self.give_up:
            self.proc.kill()
            pytest.fail(f"zhengce add did not end in {RUN_TIMEOUT_S:.0f}s:\n{''.join(self.lines['err'])[-3000:]}")
        until = self.give_up if self.killed or self.kill_at is None else self.kill_at
        return max(0.0, min(until - time.monotonic(), 0.001 if self.watching and not self.killed else RUN_TIMEOUT_S))

    def finish(self) -> Kill:
        """Read every line until the process is gone, killing it on the way."""
        open_streams = 2
        while open_streams:
            try:
                tag, line = self.events.get(timeout=self._timeout())
            except queue.Empty:
                continue
            if line is None:
                open_streams -= 1
                continue
            self.lines[tag].append(line)
            if self.kill_at is None and self._countdown_starts(tag, line):
                self.kill_at = time.monotonic() + self.trigger.seconds
        self.proc.wait(timeout=RUN_TIMEOUT_S)
        acked, stderr = tuple(acknowledgments(self.lines["out"])), "".join(self.lines["err"])
        left = tuple(t for t in temporary_generations(self.data) if t not in self.earlier)
        return Kill(self.trigger, tuple(self.files), acked, stderr, self.proc.returncode, left)


def kill_plan(rng: random.Random) -> list[tuple[list[str], Trigger]]:
    """Nine runs, each bringing files never sent before (so each has something to index) and
    some sent before (acknowledged again as duplicates), in random order, with one trigger each."""
    triggers = [
        Trigger("ack"),
        Trigger("ack"),
        Trigger("delay", seconds=rng.uniform(0.2, 1.5)),
        Trigger("log", log="loaded embedding model"),
        Trigger("log", log="embedding:"),
        Trigger("log", log="embedded "),
        Trigger("temporary"),
        Trigger("log", log="published gen-"),  # before the documents are recorded as indexed
        Trigger("after_acks", seconds=rng.uniform(4.0, 9.0)),
    ]
    rng.shuffle(triggers)
    order = rng.sample(FILES, len(FILES))
    new = [order[0:2], order[2:4], order[4:6], *([f] for f in order[6:])]
    plan = []
    for i, trigger in enumerate(triggers):
        before = [f for group in new[:i] for f in group]
        files = new[i] + rng.sample(before, min(len(before), rng.randint(1, 4)))
        rng.shuffle(files)
        if trigger.kind == "ack":
            trigger = Trigger("ack", acks=rng.randint(1, len(files)))
        plan.append((files, trigger))
    return plan


@dataclass(frozen=True, slots=True)
class Killed:
    """A data directory after nine killed ``add`` runs and one ``zhengce ingest``."""

    paths: DataPaths
    kills: list[Kill]
    leftovers: list[str]  # temporary directories under index/ after the recovery

    @property
    def acked(self) -> dict[str, str]:
        """doc_id -> file name of every acknowledged document."""
        return {doc_id: name for k in self.kills for name, doc_id in k.acked}


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> Killed:
    """Read-only by contract: a test that writes copies the data directory first."""
    data = tmp_path_factory.mktemp("killed") / "data"
    kills = [AddRun(data, files, trigger).finish() for files, trigger in kill_plan(random.Random(KILL_SEED))]
    args = [sys.executable, "-m", "server.cli", "ingest", "--data", str(data)]
    recovery = subprocess.run(
        args,
        cwd=REPO,
        env=cli_env(ZHENGCE_SEEDS=str(SEEDS)),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert recovery.returncode == 0, recovery.stderr
    return Killed(DataPaths(data), kills, list(temporary_generations(data)))


def rows(paths: DataPaths, sql: str) -> list[tuple[Any, ...]]:
    """The rows of a query on the data directory's database."""
    with sqlite3.connect(paths.db) as db:
        return db.execute(sql).fetchall()


def searchable_chunks(paths: DataPaths) -> list[str]:
    """The chunk ids SQLite holds for documents that should be searchable."""
    sql = (
        'SELECT c.doc_id, c.start, c."end" FROM chunks c JOIN documents d ON d.doc_id = c.doc_id '
        "WHERE d.status IN ('parsed', 'indexed')"
    )
    return sorted(f"{d}:{s}-{e}" for d, s, e in rows(paths, sql))


def assert_counts_agree(index: IndexData, paths: DataPaths) -> None:
    """Every part of every segment has one row per chunk, and the live rows are SQLite's searchable chunks."""
    for segment in index.segments:
        parts = {len(segment.table), len(segment.vectors), segment.postings.n_rows, len(segment.ids)}
        assert parts == {segment.n_rows}, parts
    counts = {
        "manifest": index.manifest.n_chunks,
        "live rows": sum(int(m.sum()) for m in index.live),
        "chunks": len(index.chunks),
        "sqlite": len(searchable_chunks(paths)),
    }
    assert len(set(counts.values())) == 1, counts


def file_sha256(name: str) -> str:
    """The sha256 of a fixture file."""
    return hashlib.sha256((FIXTURES / "docs" / name).read_bytes()).hexdigest()


@pytest.mark.model
def test_the_kills_landed_between_acknowledgment_and_publication(killed: Killed) -> None:
    phases = [k.phase for k in killed.kills]
    for i, k in enumerate(killed.kills, 1):
        logger.info("kill %d (%s): %s; %d of %d files acknowledged", i, k.trigger, k.phase, len(k.acked), len(k.sent))
    logger.info("temporary directories left under the index after the recovery: %s", killed.leftovers)
    assert len(killed.kills) == 9 and all(k.returncode in (0, -9) for k in killed.kills), phases
    unpublished = ("loading the model", "syncing seeds and parsing", "embedding", "building the generation")
    assert any(p.startswith(unpublished) for p in phases), phases  # acknowledged, then killed before publishing


@pytest.mark.model
def test_every_acknowledged_document_is_stored_once_with_its_bytes_and_indexed(killed: Killed) -> None:
    stored = {d: (status, sha) for d, status, sha in rows(killed.paths, "SELECT doc_id, status, sha256 FROM documents")}
    for doc_id, name in killed.acked.items():
        assert stored.get(doc_id) == ("indexed", file_sha256(name)), (doc_id, name)
    assert {status for status, _ in stored.values()} == {"indexed"}  # nothing is left received or parsed


@pytest.mark.model
def test_no_document_is_stored_twice_after_the_kills(killed: Killed) -> None:
    uploads = rows(killed.paths, "SELECT sha256 FROM documents WHERE origin = 'upload'")
    assert [sha for sha, n in Counter(sha for (sha,) in uploads).items() if n > 1] == []
    assert {sha for (sha,) in uploads} <= {file_sha256(f) for f in FILES}
    index = read_index(killed.paths.index)
    assert [c for c, n in Counter(c.chunk_id for c in index.chunks).items() if n > 1] == []


@pytest.mark.model
def test_the_recovered_generation_opens_verified_with_one_vector_per_chunk(
    killed: Killed, real_embedder: SentenceEmbedder
) -> None:
    index = read_index(killed.paths.index, real_embedder.info)  # checksums, format and counts
    assert_counts_agree(index, killed.paths)
    assert sorted(c.chunk_id for c in index.chunks) == searchable_chunks(killed.paths)
    stored = sorted(d for (d,) in rows(killed.paths, "SELECT doc_id FROM documents"))
    assert index.manifest.n_docs == len(index.docs) and sorted(index.docs) == stored
    assert set(killed.acked) | {SEED_DOC} <= set(stored)  # a document can be stored and die unacknowledged


@pytest.mark.model
def test_every_acknowledged_document_answers_its_own_question_after_the_kills(
    killed: Killed, real_embedder: SentenceEmbedder
) -> None:
    retriever = Retriever.open(killed.paths.index, real_embedder)
    for doc_id, name in killed.acked.items():
        answer = retriever.ask(QUESTIONS[name]["question"])
        assert not answer.abstained and answer.citations[0].doc_id == doc_id, (name, answer.text)
        assert QUESTIONS[name]["fact"] in answer.text
        for c in answer.citations:
            assert retriever.docs[c.doc_id].text[c.start : c.end] == c.quote


@pytest.mark.model
def test_the_served_generation_is_never_a_temporary_directory(killed: Killed) -> None:
    pointer = (killed.paths.index / "CURRENT").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"gen-\d{6}", pointer)
    assert current_dir(killed.paths.index) == killed.paths.index / pointer
    assert (killed.paths.index / pointer / "manifest.json").is_file()


@pytest.mark.model
def test_leftover_temporary_generations_do_not_stop_a_later_update(
    killed: Killed, tmp_path: Path, real_embedder: SentenceEmbedder
) -> None:
    paths = DataPaths(tmp_path / "data")
    shutil.copytree(killed.paths.root, paths.root)
    before = read_index(paths.index).manifest.generation
    stale = paths.index / f".tmp-gen-{before + 1:06d}-{os.getpid() + 1}"  # as a kill mid-write leaves it
    (stale / "lexical").mkdir(parents=True, exist_ok=True)
    (stale / "chunks.jsonl").write_text('{"id": 1, "doc', encoding="utf-8")
    doc_id, name = next(iter(killed.acked.items()))
    library = Library(paths, CFG.chunk)
    try:
        assert all(library.receive(f, (FIXTURES / "docs" / f).read_bytes()).duplicate for f in killed.acked.values())
        library.receive(name, (FIXTURES / "changed" / name).read_bytes(), doc_id=doc_id)
    finally:
        library.close()
    after = ensure_index(paths, SEEDS, CFG, real_embedder)
    assert after.generation == before + 1
    assert current_dir(paths.index).name == f"gen-{after.generation:06d}"
    answer = Retriever.open(paths.index, real_embedder).ask(QUESTIONS[name]["question"])
    assert answer.citations[0].doc_id == doc_id and QUESTIONS[name]["changed_fact"] in answer.text


@pytest.mark.model
def test_a_crash_between_publishing_and_marking_indexed_is_completed_by_the_next_update(
    tmp_path: Path, real_embedder: SentenceEmbedder
) -> None:
    paths = DataPaths(tmp_path)
    library = Library(paths, CFG.chunk)
    try:
        ids = [library.receive(f, (FIXTURES / "docs" / f).read_bytes()).status.doc_id for f in FILES[:2]]
    finally:
        library.close()
    ensure_index(paths, None, CFG, real_embedder)
    # What SIGKILL right after write_generation() leaves: the generation is published, the rows still say parsed.
    with sqlite3.connect(paths.db) as db:
        db.execute("UPDATE documents SET status = 'parsed'")
    ensure_index(paths, None, CFG, real_embedder)
    store = Store(paths.db)
    try:
        assert [s.status for s in store.statuses()] == ["indexed"] * len(ids)
    finally:
        store.close()


# ---------------------------------------------------------------------------------------------
# A corrupt current generation: ensure_index and the server's open_retriever rebuild it from SQLite.

CORRUPT_DOCS = ("report-2012.txt", "report-2016.txt", "report-2019.txt")
LATE_DOC = "report-2022.txt"  # added after the first generation, so the previous one lacks it


@pytest.fixture(scope="module")
def two_generations(tmp_path_factory: pytest.TempPathFactory, real_embedder: SentenceEmbedder) -> DataPaths:
    """Seeds and three documents in gen-000001, and a fourth in gen-000002 (current). Read-only: copy it."""
    paths = DataPaths(tmp_path_factory.mktemp("corrupt") / "data")
    for names in (CORRUPT_DOCS, (LATE_DOC,)):
        library = Library(paths, CFG.chunk)
        try:
            for name in names:
                library.receive(name, (FIXTURES / "docs" / name).read_bytes())
        finally:
            library.close()
        ensure_index(paths, SEEDS, CFG, real_embedder)
    assert current_dir(paths.index).name == "gen-000002"
    assert len(segment_dirs(paths.index)) == 2  # the late document is a segment of its own
    return paths


def _cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def _in_current(rel: str, damage: Callable[[Path], None]) -> Callable[[Path], None]:
    return lambda index: damage(current_dir(index) / rel)


def _in_segment(rel: str, damage: Callable[[Path], None], which: int = -1) -> Callable[[Path], None]:
    """Damage a file of one of the current generation's segments (by default the newest)."""
    return lambda index: damage(segment_dirs(index)[which] / rel)


def _edit_manifest(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    """Rewrite the current manifest as valid JSON (no checksum covers the manifest itself)."""

    def damage(index: Path) -> None:
        path = current_dir(index) / "manifest.json"
        raw = json.loads(path.read_text(encoding="utf-8"))
        edit(raw)
        path.write_text(json.dumps(raw), encoding="utf-8")

    return damage


def _swap_segment_checksums(raw: dict[str, Any]) -> None:
    names = list(raw["segments"])
    raw["segments"] = dict(zip(names, reversed(list(raw["segments"].values())), strict=True))


def _point_current(text: str) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        (index / "CURRENT").write_text(text, encoding="utf-8")

    return damage


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "vectors.npy cut in half": _in_segment("vectors.npy", _cut),
    "the first segment's vectors.npy with one bit flipped": _in_segment("vectors.npy", _flip, 0),
    "table.npy cut in half": _in_segment("table.npy", _cut),
    "docs.jsonl with one bit flipped": _in_segment("docs.jsonl", _flip, 0),
    "postings/tf.npy cut in half": _in_segment("postings/tf.npy", _cut),
    "postings/rows.npy with one bit flipped": _in_segment("postings/rows.npy", _flip, 0),
    "postings/indptr.npy deleted": _in_segment("postings/indptr.npy", Path.unlink),
    "postings/vocab.json cut in half": _in_segment("postings/vocab.json", _cut),
    "segment.json with one bit flipped": _in_segment("segment.json", _flip),
    "a segment's directory deleted": lambda index: shutil.rmtree(segment_dirs(index)[0]),
    "manifest.json cut in half": _in_current("manifest.json", _cut),
    "manifest.json with one bit flipped": _in_current("manifest.json", _flip),
    "manifest.json deleted": _in_current("manifest.json", Path.unlink),
    "manifest.json naming another segment's checksum": _edit_manifest(_swap_segment_checksums),
    "manifest.json counting one chunk too many": _edit_manifest(lambda raw: raw.update(n_chunks=raw["n_chunks"] + 1)),
    "manifest.json tombstoning in a segment it does not name": _edit_manifest(
        lambda raw: raw["tombstones"].update({"seg-000099": ["x"]})
    ),
    "CURRENT naming a generation that does not exist": _point_current("gen-000042\n"),
    "CURRENT emptied": _point_current(""),
    "CURRENT deleted": lambda index: (index / "CURRENT").unlink(),
    "CURRENT naming the previous, stale generation": _point_current("gen-000001\n"),
    "the current generation's directory deleted": lambda i: shutil.rmtree(current_dir(i)),
}


def corrupted_copy(template: DataPaths, root: Path, damage: Callable[[Path], None]) -> DataPaths:
    """A writable copy of the template data directory with its index damaged."""
    paths = DataPaths(root / "data")
    shutil.copytree(template.root, paths.root)
    damage(paths.index)
    return paths


def generation_numbers(paths: DataPaths) -> list[int]:
    """The numbers of the generation directories under the index."""
    return sorted(int(p.name.removeprefix("gen-")) for p in paths.index.glob("gen-*"))


def assert_answers_from_every_document(retriever: Retriever, paths: DataPaths) -> None:
    """The index holds exactly what SQLite holds, and each document is cited for its own question."""
    index = retriever.data
    assert sorted(c.chunk_id for c in index.chunks) == searchable_chunks(paths)
    assert_counts_agree(index, paths)
    by_name = {s.filename: s.doc_id for s in _statuses(paths)}
    cases = [(QUESTIONS[n]["question"], QUESTIONS[n]["fact"], by_name[n]) for n in (*CORRUPT_DOCS, LATE_DOC)]
    for question, fact, doc_id in [*cases, (SEED_QUESTION, SEED_FACT, SEED_DOC)]:
        answer = retriever.ask(question)
        assert answer.citations and answer.citations[0].doc_id == doc_id, (question, answer.text)
        assert fact in answer.text


def _statuses(paths: DataPaths) -> list[DocStatus]:
    store = Store(paths.db)
    try:
        return list(store.statuses())
    finally:
        store.close()


@pytest.mark.model
def test_an_intact_copy_is_reused_without_a_rebuild(
    two_generations: DataPaths, tmp_path: Path, real_embedder: SentenceEmbedder
) -> None:
    paths = corrupted_copy(two_generations, tmp_path, lambda index: None)
    assert ensure_index(paths, SEEDS, CFG, real_embedder).generation == 2
    assert generation_numbers(paths) == [1, 2]


@pytest.mark.model
@pytest.mark.parametrize("damage", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_ensure_index_rebuilds_a_damaged_generation_from_sqlite_and_warns(
    damage: Callable[[Path], None],
    two_generations: DataPaths,
    tmp_path: Path,
    real_embedder: SentenceEmbedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    paths = corrupted_copy(two_generations, tmp_path, damage)
    left = generation_numbers(paths)
    with caplog.at_level(logging.WARNING, logger="ingest.build"):
        rebuilt = ensure_index(paths, SEEDS, CFG, real_embedder)
    assert rebuilt.generation == max(left) + 1  # a new generation, never the damaged one patched up
    if damage is CORRUPTIONS["CURRENT naming the previous, stale generation"]:
        assert rebuilt.reason == "the documents changed"  # an intact, older generation: stale, not damaged
    else:
        assert rebuilt.reason.startswith("damaged generation rebuilt: ")
        assert any(r.levelno == logging.WARNING and "damaged" in r.getMessage() for r in caplog.records)
    assert read_index(paths.index, real_embedder.info).manifest == rebuilt
    assert_answers_from_every_document(Retriever.open(paths.index, real_embedder), paths)


SERVER_CORRUPTIONS = (
    "postings/tf.npy cut in half",
    "postings/indptr.npy deleted",
    "manifest.json cut in half",
    "manifest.json counting one chunk too many",
    "CURRENT naming a generation that does not exist",
)


@pytest.mark.model
@pytest.mark.parametrize("name", SERVER_CORRUPTIONS)
def test_the_server_opens_a_rebuilt_generation_after_damage(
    name: str, two_generations: DataPaths, tmp_path: Path
) -> None:
    paths = corrupted_copy(two_generations, tmp_path, CORRUPTIONS[name])
    retriever = open_retriever(Settings(data=paths.root, seeds=SEEDS))
    assert retriever.manifest.generation == max(generation_numbers(paths))
    assert retriever.manifest.generation > 2
    assert_answers_from_every_document(retriever, paths)


MERGE_KILLS = {
    "while the merged segment is written": Trigger("temporary"),
    "once it is written, before a generation names it": Trigger("log", log="wrote seg-"),
    "once the merged generation is published": Trigger("log", log="published gen-"),
}


@pytest.mark.model
@pytest.mark.parametrize("trigger", MERGE_KILLS.values(), ids=MERGE_KILLS.keys())
def test_a_merge_killed_half_way_loses_nothing(
    trigger: Trigger, two_generations: DataPaths, tmp_path: Path, real_embedder: SentenceEmbedder
) -> None:
    paths = corrupted_copy(two_generations, tmp_path, lambda index: None)  # two segments, nothing damaged
    before = read_index(paths.index, real_embedder.info)
    kill = AddRun(paths.root, [], trigger, command=("compact", "--all")).finish()
    logger.info("merge killed (%s): %s", kill.returncode, kill.stderr.splitlines()[-1:])
    survived = read_index(paths.index, real_embedder.info)  # the old generation or the merged one, whole
    assert survived.docs == before.docs and sorted(c.chunk_id for c in survived.chunks) == searchable_chunks(paths)
    after = ensure_index(paths, SEEDS, CFG, real_embedder)
    assert after.n_chunks == before.manifest.n_chunks
    assert compact_index(paths, real_embedder, everything=True) == (len(survived.segments) > 1)
    merged = read_index(paths.index, real_embedder.info)
    assert len(merged.segments) == 1 and merged.docs == before.docs
    assert {p.name for p in (paths.index / "segments").glob("seg-*")} <= {
        n for g in paths.index.glob("gen-*") for n in json.loads((g / "manifest.json").read_text())["segments"]
    }  # a segment the killed merge wrote and no generation names is gone
    assert_answers_from_every_document(Retriever.open(paths.index, real_embedder), paths)
