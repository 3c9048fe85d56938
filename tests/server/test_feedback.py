"""Feedback, the API key of write routes, and the page's config, against real servers.

Each server here has its own data directory (built from the real seeds, with the real model);
feedback is read back the way a reviewer would: ``zhengce feedback export``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.cli import main as cli_main
from server.feedback import Feedback, FeedbackStore, eval_case
from server.settings import Settings

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
KEY = "staff-key-123"
QUESTION = "脱贫人口收入是多少"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, servers: Any) -> Any:
    """A server whose write routes need ``KEY``."""
    return servers.start(Settings(data=tmp_path_factory.mktemp("keyed"), seeds=SEEDS, api_key=KEY))


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory, servers: Any) -> Any:
    """A server without a key (writes are open, as on 127.0.0.1 by default)."""
    return servers.start(Settings(data=tmp_path_factory.mktemp("open"), seeds=SEEDS))


def _ask(api: httpx.Client, question: str) -> dict[str, Any]:
    reply = api.post("/api/ask", json={"question": question})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def _export(data: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert cli_main(["feedback", "export", "--data", str(data)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_thumbs_down_is_stored_with_its_trace_and_exported_for_review(
    open_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_server.client() as api:
        answer = _ask(api, QUESTION)
        reply = api.post(
            "/api/feedback", json={"rating": "down", "reason": "数字错误", "comment": "应为16118元", "answer": answer}
        )
        assert reply.status_code == 201, reply.text
        stored_id = reply.json()["id"]

    lines = {line["id"]: line for line in _export(open_server.app.state.settings.data, capsys)}
    line = lines[f"feedback-{stored_id:06d}"]
    assert line["question"] == QUESTION
    assert line["answerable"] is True and line["needs_review"] is True and line["gold"] == []
    fb = line["feedback"]
    assert (fb["rating"], fb["reason"], fb["comment"]) == ("down", "数字错误", "应为16118元")
    assert fb["answer"] == answer["answer"] and fb["index_generation"] == answer["index_generation"]
    assert [c["quote"] for c in fb["citations"]] == [c["quote"] for c in answer["citations"]]


def test_a_thumbs_up_makes_the_answer_parts_the_gold_quotes(
    open_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_server.client() as api:
        answer = _ask(api, QUESTION)
        stored = api.post("/api/feedback", json={"rating": "up", "answer": answer}).json()["id"]
    line = {x["id"]: x for x in _export(open_server.app.state.settings.data, capsys)}[f"feedback-{stored:06d}"]
    parts = [c for c in answer["citations"] if c["answer_part"]]
    assert parts and line["gold"] == [{"doc_id": c["doc_id"], "quote": c["quote"]} for c in parts]
    assert line["answerable"] is True and line["needs_review"] is False


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"rating": "down"}, "needs a reason"),
        ({"rating": "down", "reason": "不喜欢"}, "reason"),
        ({"rating": "sideways"}, "rating"),
        ({"rating": "up", "comment": "x" * 2001}, "comment"),
        ({"rating": "up", "answer": {"index_generation": 2**70}}, "index_generation"),  # beyond SQLite's INTEGER
    ],
)
def test_malformed_feedback_is_a_422_that_says_why(open_server: Any, body: dict[str, Any], fragment: str) -> None:
    with open_server.client() as api:
        answer = _ask(api, QUESTION) | body.get("answer", {})
        reply = api.post("/api/feedback", json={**body, "answer": answer})
    assert reply.status_code == 422
    assert fragment in json.dumps(reply.json(), ensure_ascii=False)


def test_a_lone_surrogate_in_feedback_is_a_422_not_a_500(open_server: Any) -> None:
    with open_server.client() as api:
        answer = json.dumps(_ask(api, QUESTION), ensure_ascii=True)
        content = ('{"rating": "up", "comment": "\\ud800", "answer": ' + answer + "}").encode()
        reply = api.post("/api/feedback", content=content, headers={"Content-Type": "application/json"})
    assert reply.status_code == 422
    assert "body.comment is not valid Unicode" in reply.text


def test_without_a_key_configured_the_page_is_told_writes_are_open(open_server: Any) -> None:
    with open_server.client() as api:
        assert api.get("/api/config").json() == {"auth_required": False}


def test_with_a_key_writes_need_it_and_reads_stay_open(keyed: Any) -> None:
    upload = {"files": ("key-test.txt", "关于测试密钥保护的通知。本通知用于检验上传是否需要密钥。".encode())}
    with keyed.client() as api:
        assert api.get("/api/config").json() == {"auth_required": True}
        assert api.get("/api/documents").status_code == 200
        answer = _ask(api, QUESTION)
        missing = api.post("/api/documents", files=upload)
        wrong = api.post("/api/documents", files=upload, headers={"X-API-Key": "nope"})
        assert (missing.status_code, wrong.status_code) == (401, 401)
        assert "missing" in missing.json()["detail"] and "wrong" in wrong.json()["detail"]
        for method, path in [("DELETE", "/api/documents/any"), ("PATCH", "/api/documents/any")]:
            assert api.request(method, path, json={}).status_code == 401
        assert api.post("/api/feedback", json={"rating": "up", "answer": answer}).status_code == 401

        headers = {"X-API-Key": KEY}
        assert api.post("/api/documents", files=upload, headers=headers).status_code == 202
        assert api.post("/api/feedback", json={"rating": "up", "answer": answer}, headers=headers).status_code == 201


def test_serving_beyond_this_machine_without_a_key_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["serve", "--host", "0.0.0.0", "--port", "8999"]) == 2
    assert "ZHENGCE_API_KEY" in capsys.readouterr().err


def test_every_citation_shows_its_verbatim_sentence_around_the_quote(open_server: Any) -> None:
    with open_server.client() as api:
        for question in (QUESTION, "重庆出台了多少个衔接政策", "火星基地的建设预算是多少"):
            answer = _ask(api, question)
            for c in answer["citations"] + answer["related"]:
                text = api.get(f"/api/documents/{c['doc_id']}").json()["text"]
                assert text[c["context_start"] : c["context_start"] + len(c["context"])] == c["context"]
                assert text[c["start"] : c["end"]] == c["quote"] and c["quote"] in c["context"]
            assert all(not c["answer_part"] for c in answer["related"])
            assert answer["abstained"] or answer["citations"][0]["answer_part"]


def test_eval_case_of_an_abstention_judged_right_is_unanswerable(tmp_path: Path) -> None:
    trace = {"question": "火星基地预算", "answer": "未在已收录的文档中找到相关内容。", "abstained": True,
             "confidence": 0.1, "index_generation": 3, "citations": [], "related": []}  # fmt: skip
    store = FeedbackStore(tmp_path)
    try:
        store.add(Feedback("up", None, "", trace))
        store.add(Feedback("down", "应该拒答", "", {**trace, "abstained": False}))
        cases = [eval_case(f) for f in store.all()]
    finally:
        store.close()
    assert [(c["answerable"], c["kind"], c["gold"]) for c in cases] == [(False, "unanswerable", [])] * 2
