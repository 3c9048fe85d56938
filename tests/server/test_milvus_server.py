"""The server on the Milvus search engine, over HTTP: documents uploaded, replaced and deleted through the API
are answered from Milvus; an engine that cannot be reached is a 503, never a wrong answer; an engine killed
while the indexer works loses nothing that was acknowledged.

Real servers (``create_app`` over uvicorn, the real model) with ``ZHENGCE_INDEX=milvus``; the engine is
milvus-lite 2.5.1 serving TCP on loopback (``helpers.MilvusServer``, the production code path: a URI), and
for the first test also milvus-lite opened in process (a file). Engine crashes are real SIGKILLs of the
engine process. Documents are the real report excerpts of ``tests/fixtures/durability``, each with a
question whose answer (its ``fact``) is in no other excerpt. Waiting is bounded and nothing asserts timing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import MilvusServer, chunk_ids

from ingest.config import DataPaths
from ingest.store import Store
from server.settings import Settings
from tests.server.test_documents import ask, get_doc, poll, quoted, settle, upload

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
FIXTURES = REPO / "tests" / "fixtures" / "durability"
CASES = {c["file"]: c for c in json.loads((FIXTURES / "questions.json").read_text(encoding="utf-8"))}
# Bounds on waiting, never expectations.
RECOVERY_WAIT_S = 120.0
POLL_S = 0.2
# What the indexer logs when an update gave up on an unreachable engine (it then retries every poll).
ENGINE_WAIT_LOG = "index update waits for the search engine"


def original(name: str) -> tuple[str, bytes]:
    """A durability excerpt's file name and first version."""
    return name, (FIXTURES / "docs" / name).read_bytes()


def changed(name: str) -> tuple[str, bytes]:
    """A durability excerpt's file name and second version (its ``changed_fact`` instead of its ``fact``)."""
    return name, (FIXTURES / "changed" / name).read_bytes()


def assert_cites(api: httpx.Client, doc_id: str, question: str, fact: str) -> dict[str, Any]:
    """``question`` is answered with ``fact``, first citing ``doc_id``, every quote its document's text at its
    offsets; returns the answer."""
    answer = ask(api, question)
    assert not answer["abstained"] and answer["citations"][0]["doc_id"] == doc_id, (question, answer["answer"])
    assert fact in answer["answer"], (question, answer["answer"])
    texts: dict[str, str] = {}
    for c in quoted(answer):
        text = texts.setdefault(c["doc_id"], get_doc(api, c["doc_id"])["text"])
        assert text[c["start"] : c["end"]] == c["quote"], c
    return answer


def collection_ids(server: Any) -> set[int]:
    """The chunk ids the served Milvus collection holds."""
    ids: set[int] = server.app.state.service.retriever.index.engine.ids()
    return ids


def database_ids(server: Any) -> set[int]:
    """The ids of the searchable chunks of the server's database."""
    return chunk_ids(DataPaths(server.app.state.settings.data).db)


def statuses(server: Any) -> dict[str, str]:
    """``doc_id -> status`` as the server's database records them."""
    store = Store(DataPaths(server.app.state.settings.data).db)
    try:
        return {r.doc_id: r.status for r in store.statuses()}
    finally:
        store.close()


def wait_for(what: str, check: Callable[[], bool]) -> None:
    """Poll ``check`` (bounded) until it holds."""
    for _ in range(int(RECOVERY_WAIT_S / POLL_S)):
        if check():
            return
        threading.Event().wait(POLL_S)
    raise AssertionError(f"{what}: not after {RECOVERY_WAIT_S:.0f}s")


def healthy(api: httpx.Client) -> bool:
    """Whether ``/healthz`` answers 200 now."""
    return api.get("/healthz").status_code == 200


# --- fixtures


@pytest.fixture()
def start(tmp_path: Path, servers: Any) -> Iterator[Callable[[str], Any]]:
    """Start a server on the Milvus engine at a URI, over a data directory of its own; stopped after the test
    (before the engine fixture, set up earlier, is torn down)."""
    started: list[Any] = []

    def run(uri: str) -> Any:
        data = tmp_path / f"data-{len(started)}"
        server = servers.start(Settings(data=data, seeds=SEEDS, index="milvus", milvus_uri=uri))
        started.append(server)
        return server

    yield run
    for server in started:
        server.stop()


@pytest.fixture(params=["in-process", "server"])
def engine_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A Milvus engine's URI: a milvus-lite file opened in the server's process, or milvus-lite serving TCP."""
    if request.param == "in-process":
        yield str(tmp_path / "engine.db")
        return
    with MilvusServer(tmp_path / "engine.db") as engine:
        yield engine.uri


@pytest.fixture()
def engine(tmp_path: Path) -> Iterator[MilvusServer]:
    """milvus-lite serving TCP on loopback, killed and restarted by the test."""
    with MilvusServer(tmp_path / "engine.db") as server:
        yield server


# --- tests


def test_uploads_replacements_and_deletes_through_the_api_are_answered_from_milvus(
    engine_uri: str, start: Callable[[str], Any]
) -> None:
    server = start(engine_uri)
    names = ["report-2008.txt", "report-2010.txt", "report-2012.txt"]
    with server.client() as api:
        health = api.get("/healthz").json()
        assert (health["status"], health["search_engine"], health["search_engine_error"]) == ("ok", "milvus", None)
        response = upload(api, *(original(n) for n in names))
        assert response.status_code == 202, response.text
        ids = {n: r["doc_id"] for n, r in zip(names, response.json(), strict=True)}
        for doc_id in ids.values():
            assert poll(api, doc_id)[0]["status"] == "indexed"
        for name, doc_id in ids.items():
            assert_cites(api, doc_id, CASES[name]["question"], CASES[name]["fact"])

        replaced, deleted = ids["report-2008.txt"], ids["report-2010.txt"]
        reply = api.put(f"/api/documents/{replaced}", files=[("files", (*changed("report-2008.txt"), "text/plain"))])
        assert reply.status_code == 202, reply.text
        assert api.delete(f"/api/documents/{deleted}").json() == {"doc_id": deleted, "deleted": True}
        settle(server)

        assert get_doc(api, replaced)["status"] == "indexed"
        case = CASES["report-2008.txt"]
        answer = assert_cites(api, replaced, case["question"], case["changed_fact"])
        assert case["fact"] not in answer["answer"]
        assert all(case["fact"] not in c["quote"] for c in quoted(answer))
        gone = CASES["report-2010.txt"]
        for question in (gone["question"], "国家助学制度", "政府工作报告"):
            answer = ask(api, question)
            assert deleted not in {c["doc_id"] for c in quoted(answer)}, question
            assert gone["fact"] not in answer["answer"]
        kept = CASES["report-2012.txt"]
        assert_cites(api, ids["report-2012.txt"], kept["question"], kept["fact"])

        health = api.get("/healthz").json()
        assert (health["status"], health["search_engine"]) == ("ok", "milvus")
        assert health["documents"] == 3  # the seed, the replaced report and the one kept
    # The engine holds exactly the database's chunks: the replaced version's and the deleted document's are gone.
    assert collection_ids(server) == database_ids(server)


def test_while_the_engine_is_down_health_and_questions_are_503_and_both_recover_without_a_restart(
    engine: MilvusServer, start: Callable[[str], Any]
) -> None:
    server = start(engine.uri)
    case = CASES["report-2014.txt"]
    with server.client() as api:
        [result] = upload(api, original("report-2014.txt")).json()
        assert poll(api, result["doc_id"])[0]["status"] == "indexed"
        settle(server)
        assert_cites(api, result["doc_id"], case["question"], case["fact"])

        engine.kill()
        health = api.get("/healthz")
        assert health.status_code == 503
        body = health.json()
        assert (body["status"], body["search_engine"]) == ("search engine unavailable", "milvus")
        assert "Milvus search engine is unreachable" in body["search_engine_error"], body
        for question in (case["question"], "政府工作报告的主要内容"):
            reply = api.post("/api/ask", json={"question": question})
            assert reply.status_code == 503, reply.text
            refused = reply.json()
            assert "Milvus search engine is unreachable" in refused["detail"], refused
            assert "answer" not in refused and "citations" not in refused
        # The library is still listed: only searching needs the engine.
        assert get_doc(api, result["doc_id"])["status"] == "indexed"

        engine.start()
        wait_for("/healthz answers 200 again", lambda: healthy(api))
        body = api.get("/healthz").json()
        assert (body["status"], body["search_engine"], body["search_engine_error"]) == ("ok", "milvus", None)
        assert_cites(api, result["doc_id"], case["question"], case["fact"])


def test_every_acknowledged_upload_is_answered_after_the_engine_is_killed_mid_ingest(
    engine: MilvusServer, start: Callable[[str], Any], caplog: pytest.LogCaptureFixture
) -> None:
    server = start(engine.uri)
    names = sorted(CASES)
    acknowledged: dict[str, str] = {}  # doc_id -> file name
    with server.client() as api:

        def send(batch: list[str]) -> None:
            reply = upload(api, *(original(n) for n in batch))
            if reply.is_success:
                acknowledged.update((r["doc_id"], n) for r, n in zip(reply.json(), batch, strict=True))

        # A first batch is in the collection when the engine dies; the second is being parsed and embedded.
        # Sent in one request to an idle indexer, it is one update: when that update gives up on the engine,
        # no other is pending, and only the indexer's retry of an unreachable engine can index it.
        send(names[:4])
        for doc_id in list(acknowledged):
            assert poll(api, doc_id)[0]["status"] == "indexed"
        settle(server)
        send(names[4:])
        engine.kill()
        at_kill = statuses(server)  # read after the kill: a document not indexed now was not indexed at the kill
        assert len(acknowledged) == len(names)
        waiting = {d for d in acknowledged if at_kill[d] != "indexed"}
        assert waiting, "the kill came after everything was indexed: it did not land mid-ingest"
        logging.getLogger(__name__).info("engine killed with %d of %d uploads not indexed", len(waiting), len(names))

        wait_for("the indexer gives up on the engine", lambda: ENGINE_WAIT_LOG in caplog.text)
        assert api.get("/healthz").status_code == 503
        # Nothing is reported indexed that the engine does not hold.
        assert all(get_doc(api, d)["status"] != "indexed" for d in waiting)
        engine.start()

        wait_for("/healthz answers 200 again", lambda: healthy(api))
        wait_for(
            "every acknowledged upload is indexed",
            lambda: all(statuses(server).get(d) == "indexed" for d in acknowledged),
        )
        settle(server)
        for doc_id, name in acknowledged.items():
            assert_cites(api, doc_id, CASES[name]["question"], CASES[name]["fact"])
        assert api.get("/healthz").json()["documents"] == len(names) + 1  # and the seed
    assert collection_ids(server) == database_ids(server)


def test_an_engine_restarted_without_its_data_is_refilled_from_the_database_while_serving(
    engine: MilvusServer, start: Callable[[str], Any]
) -> None:
    server = start(engine.uri)
    first, second = CASES["report-2008.txt"], CASES["report-2010.txt"]
    with server.client() as api:
        [result] = upload(api, original("report-2008.txt")).json()
        assert poll(api, result["doc_id"])[0]["status"] == "indexed"
        settle(server)
        engine.kill()
        engine.db_file.rename(engine.db_file.with_name("lost.db"))  # as a Milvus without persistent storage
        engine.start()

        # Until the collection is whole again, a question is refused (503) or answered right, never answered
        # from part of the library; health says why. No upload is needed: the indexer notices and refills.
        def refilled() -> bool:
            health = api.get("/healthz")
            if health.status_code == 503:
                error = health.json()["search_engine_error"]
                assert "is missing" in error or "being refilled" in error or "unreachable" in error, error
            reply = api.post("/api/ask", json={"question": first["question"]})
            assert reply.status_code in (200, 503), reply.text
            if reply.status_code == 200:
                assert first["fact"] in reply.json()["answer"], reply.json()
            return health.status_code == 200 and collection_ids(server) == database_ids(server)

        wait_for("the collection is refilled", refilled)
        assert_cites(api, result["doc_id"], first["question"], first["fact"])
        [added] = upload(api, original("report-2010.txt")).json()
        assert poll(api, added["doc_id"])[0]["status"] == "indexed"
        settle(server)
        assert_cites(api, added["doc_id"], second["question"], second["fact"])
        assert collection_ids(server) == database_ids(server)
