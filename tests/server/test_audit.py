"""The audit trail and named API keys against a real server: every write route records who did what.

One uvicorn server per setting, each over a fresh data directory built from the repository's seeds:
two named keys (``ZHENGCE_API_KEYS``), the single key of earlier releases (``ZHENGCE_API_KEY``), and
none. Each test uploads its own bytes and reads the records of its own documents (``?doc_id=``), so
tests sharing a server say nothing about each other's. The CLI export reads the same database, as
a separate process, while the server runs. Malformed key settings are refused by ``zhengce serve``
before anything loads.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import SEEDS, cli_env

from server.settings import Settings

pytestmark = pytest.mark.model

ZHANG, LI = "k-zhang-8f3a", "k-li-2b7c"
OLD_KEY = "k-single-5d1e"
SEED_DOC = "cq-2023-08-25-xianjie"
INDEX_WAIT_S = 120.0  # a bound on waiting, never an expectation: indexing a notice takes seconds
POLL_S = 0.2
RECORD_KEYS = {"id", "time", "action", "doc_id", "filename", "sha256", "key_name", "detail"}


def notice(*facts: str) -> bytes:
    """A small notice of this test's own: bytes no other test sends."""
    lines = ("关于做好农田水利建设工作的通知", "各有关单位：", *facts, f"编号{uuid.uuid4().hex}。", "特此通知。")
    return "\n".join(lines).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(api: httpx.Client, key: str | None, *files: tuple[str, bytes]) -> httpx.Response:
    return api.post("/api/documents", files=[("files", f) for f in files], headers=headers(key))


def headers(key: str | None) -> dict[str, str]:
    return {} if key is None else {"X-API-Key": key}


def records(api: httpx.Client, key: str | None, **params: Any) -> list[dict[str, Any]]:
    """``GET /api/audit`` (one page), which must be a 200."""
    response = api.get("/api/audit", params=params, headers=headers(key))
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return list(page["records"])


def added(api: httpx.Client, key: str | None, name: str = "通知.txt") -> tuple[str, bytes]:
    """Upload a fresh notice and wait until it is indexed; its doc_id and bytes."""
    data = notice("本通知自发布之日起施行。")
    response = upload(api, key, (name, data))
    assert response.status_code == 202, response.text
    doc_id: str = response.json()[0]["doc_id"]
    for _ in range(int(INDEX_WAIT_S / POLL_S)):
        if api.get(f"/api/documents/{doc_id}").json()["status"] in ("indexed", "failed"):
            return doc_id, data
        threading.Event().wait(POLL_S)
    raise AssertionError(f"{doc_id} not indexed after {INDEX_WAIT_S}s")


def total(api: httpx.Client, key: str) -> int:
    """How many records the whole trail holds."""
    return len(records(api, key, limit=1000))


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory, servers: Any) -> Iterator[Any]:
    """A server with two named keys."""
    settings = Settings(data=tmp_path_factory.mktemp("audit-named"), seeds=SEEDS, api_keys=f"zhang:{ZHANG},li:{LI}")
    live = servers.start(settings)
    yield live
    live.stop()


@pytest.fixture()
def api(named: Any) -> Iterator[httpx.Client]:
    with named.client() as c:
        yield c


# --- each write route writes exactly one record


def test_an_upload_writes_one_record_with_its_file_and_key_name(api: httpx.Client) -> None:
    doc_id, data = added(api, ZHANG, "农田水利.txt")
    (record,) = records(api, ZHANG, doc_id=doc_id)
    assert set(record) == RECORD_KEYS
    assert (record["action"], record["doc_id"], record["filename"]) == ("upload", doc_id, "农田水利.txt")
    assert (record["sha256"], record["key_name"], record["detail"]) == (sha256(data), "zhang", None)
    when = datetime.fromisoformat(record["time"])
    assert record["time"].endswith("Z") and abs((datetime.now(UTC) - when).total_seconds()) < INDEX_WAIT_S


def test_a_replacement_writes_one_record_with_the_new_file_and_the_previous_sha256(api: httpx.Client) -> None:
    doc_id, old = added(api, ZHANG)
    new = notice("新版本：本通知自2027年1月1日起施行。")
    response = api.put(f"/api/documents/{doc_id}", files=[("files", ("新版.txt", new))], headers=headers(LI))
    assert response.status_code == 202, response.text
    replaced, uploaded = records(api, ZHANG, doc_id=doc_id)
    assert (replaced["action"], replaced["filename"], replaced["sha256"]) == ("replace", "新版.txt", sha256(new))
    assert (replaced["key_name"], replaced["detail"]) == ("li", {"previous_sha256": sha256(old)})
    assert uploaded["action"] == "upload" and replaced["id"] > uploaded["id"]


def test_a_metadata_correction_writes_one_record_with_the_changed_fields(api: httpx.Client) -> None:
    doc_id, _ = added(api, ZHANG)
    before = api.get(f"/api/documents/{doc_id}").json()
    body = {"title": "关于农田水利建设的更正通知", "doc_number": "农水〔2026〕7号", "issuer": before["issuer"]}
    response = api.patch(f"/api/documents/{doc_id}", json=body, headers=headers(LI))
    assert response.status_code == 200, response.text
    record = records(api, LI, doc_id=doc_id)[0]
    assert (record["action"], record["key_name"], record["sha256"]) == ("update", "li", None)
    assert record["detail"] == {
        "title": {"old": before["title"], "new": body["title"]},
        "doc_number": {"old": before["doc_number"], "new": body["doc_number"]},
    }  # the issuer sent unchanged is not a change


def test_a_deletion_writes_one_record_with_the_sha256_of_what_was_deleted(api: httpx.Client) -> None:
    doc_id, data = added(api, LI)
    title = api.get(f"/api/documents/{doc_id}").json()["title"]
    assert api.delete(f"/api/documents/{doc_id}", headers=headers(ZHANG)).status_code == 200
    deleted, uploaded = records(api, ZHANG, doc_id=doc_id)
    assert (deleted["action"], deleted["sha256"], deleted["key_name"]) == ("delete", sha256(data), "zhang")
    assert deleted["detail"] == {"title": title}
    assert (uploaded["action"], uploaded["key_name"]) == ("upload", "li")


def test_two_named_keys_are_each_recorded_under_their_own_name(api: httpx.Client) -> None:
    first = upload(api, ZHANG, ("a.txt", notice("张。"))).json()[0]["doc_id"]
    second = upload(api, LI, ("b.txt", notice("李。"))).json()[0]["doc_id"]
    assert [r["key_name"] for r in records(api, LI, doc_id=first)] == ["zhang"]
    assert [r["key_name"] for r in records(api, ZHANG, doc_id=second)] == ["li"]


def test_one_request_with_two_files_writes_one_record_per_file(api: httpx.Client) -> None:
    response = upload(api, ZHANG, ("one.txt", notice("其一。")), ("two.txt", notice("其二。")))
    for result in response.json():
        assert [r["action"] for r in records(api, ZHANG, doc_id=result["doc_id"])] == ["upload"]


# --- a refused write has no record


@pytest.mark.parametrize("key", [None, "k-wrong", ZHANG + "x", ZHANG[:-1], ""])
def test_a_missing_or_wrong_key_is_401_and_writes_no_record(api: httpx.Client, key: str | None) -> None:
    doc_id, _ = added(api, ZHANG)
    count = total(api, ZHANG)
    assert upload(api, key, ("x.txt", notice("不应保存。"))).status_code == 401
    doc = f"/api/documents/{doc_id}"
    assert api.put(doc, files=[("files", ("x.txt", notice("x")))], headers=headers(key)).status_code == 401
    assert api.patch(doc, json={"title": "不应保存"}, headers=headers(key)).status_code == 401
    assert api.delete(doc, headers=headers(key)).status_code == 401
    assert total(api, ZHANG) == count
    assert api.get(doc).json()["title"] != "不应保存"


def test_refused_and_duplicate_writes_write_no_record(api: httpx.Client) -> None:
    doc_id, data = added(api, ZHANG)
    count = total(api, ZHANG)
    assert upload(api, LI, ("again.txt", data)).json()[0]["duplicate"] is True
    assert upload(api, LI, ("empty.txt", b"")).status_code == 422
    assert api.delete(f"/api/documents/{SEED_DOC}", headers=headers(LI)).status_code == 409
    assert api.patch(f"/api/documents/{doc_id}", json={"region": ["火星"]}, headers=headers(LI)).status_code == 422
    assert api.delete("/api/documents/doc-none", headers=headers(LI)).status_code == 404
    assert total(api, ZHANG) == count


# --- reading the trail


@pytest.mark.parametrize("key", [None, "k-wrong"])
def test_reading_the_trail_needs_a_key(api: httpx.Client, key: str | None) -> None:
    response = api.get("/api/audit", headers=headers(key))
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_the_trail_pages_newest_first_with_before(api: httpx.Client) -> None:
    doc_id, _ = added(api, ZHANG)
    for n in range(4):
        response = api.patch(f"/api/documents/{doc_id}", json={"title": f"更正标题{n}"}, headers=headers(LI))
        assert response.status_code == 200, response.text
    everything = records(api, ZHANG, doc_id=doc_id)
    assert [r["action"] for r in everything] == ["update"] * 4 + ["upload"]
    assert [r["id"] for r in everything] == sorted((r["id"] for r in everything), reverse=True)
    seen, before = [], None
    while True:
        params = {"doc_id": doc_id, "limit": 2, **({"before": before} if before is not None else {})}
        page = api.get("/api/audit", params=params, headers=headers(ZHANG)).json()
        seen += page["records"]
        before = page["next_before"]
        if before is None:
            break
        assert before == page["records"][-1]["id"]
    assert seen == everything
    updates = records(api, ZHANG, doc_id=doc_id, action="update", limit=1)
    assert [r["detail"]["title"]["new"] for r in updates] == ["更正标题3"]


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 1001}, {"action": "rename"}, {"before": 0}, {"before": "x"}]
)
def test_a_bad_audit_query_is_422_naming_the_parameter(api: httpx.Client, params: dict[str, Any]) -> None:
    response = api.get("/api/audit", params=params, headers=headers(ZHANG))
    assert response.status_code == 422
    assert next(iter(params)) in response.json()["detail"]


def test_the_audit_route_is_declared_in_openapi_with_its_key_and_errors(api: httpx.Client) -> None:
    operation = api.get("/openapi.json").json()["paths"]["/api/audit"]["get"]
    assert {"200", "401", "422", "500"} <= set(operation["responses"])
    assert operation["security"] == [{"APIKeyHeader": []}]
    assert {p["name"] for p in operation["parameters"]} == {"doc_id", "action", "limit", "before"}


# --- the command line


def export(data: Path, *args: str) -> str:
    cmd = [sys.executable, "-m", "server.cli", "audit", "export", *args]
    done = subprocess.run(cmd, env=cli_env(ZHENGCE_DATA=str(data)), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_zhengce_audit_export_prints_jsonl_and_csv_oldest_first(named: Any, api: httpx.Client) -> None:
    doc_id, _ = added(api, ZHANG, "导出.txt")
    assert api.patch(f"/api/documents/{doc_id}", json={"title": "导出测试"}, headers=headers(LI)).status_code == 200
    assert api.delete(f"/api/documents/{doc_id}", headers=headers(LI)).status_code == 200
    newest_first = records(api, ZHANG, doc_id=doc_id)
    data = named.app.state.settings.data
    lines = [json.loads(line) for line in export(data, "--doc-id", doc_id).splitlines()]
    assert lines == newest_first[::-1]
    assert [r["action"] for r in lines] == ["upload", "update", "delete"]
    assert "导出测试" in export(data, "--doc-id", doc_id)  # not escaped: ensure_ascii=False
    rows = list(csv.DictReader(io.StringIO(export(data, "--doc-id", doc_id, "--format", "csv"))))
    assert [r["id"] for r in rows] == [str(r["id"]) for r in lines]
    assert rows[1]["key_name"] == "li" and json.loads(rows[1]["detail"]) == lines[1]["detail"]
    assert rows[0]["detail"] == "" and rows[0]["sha256"] == lines[0]["sha256"]
    everything = [json.loads(line) for line in export(data).splitlines()]
    assert [r["id"] for r in everything] == sorted(r["id"] for r in everything) and len(everything) >= 3


def test_zhengce_audit_export_without_a_database_is_a_usage_error(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "server.cli", "audit", "export"]
    done = subprocess.run(cmd, env=cli_env(ZHENGCE_DATA=str(tmp_path)), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no database" in done.stderr and done.stdout == ""


# --- the single key of earlier releases, and no key


def test_the_single_zhengce_api_key_still_guards_writes_and_is_recorded_as_default(
    tmp_path: Path, servers: Any
) -> None:
    live = servers.start(Settings(data=tmp_path / "data", seeds=SEEDS, api_key=OLD_KEY))
    try:
        with live.client() as api:
            assert upload(api, None, ("x.txt", notice("无密钥。"))).status_code == 401
            assert upload(api, ZHANG, ("x.txt", notice("别的密钥。"))).status_code == 401
            doc_id = upload(api, OLD_KEY, ("a.txt", notice("旧密钥。"))).json()[0]["doc_id"]
            assert [(r["action"], r["key_name"]) for r in records(api, OLD_KEY)] == [("upload", "default")]
            assert records(api, OLD_KEY, doc_id=doc_id)[0]["doc_id"] == doc_id
            assert api.get("/api/audit").status_code == 401
    finally:
        live.stop()


def test_without_a_key_writes_are_recorded_with_a_null_key_name(tmp_path: Path, servers: Any) -> None:
    live = servers.start(Settings(data=tmp_path / "data", seeds=SEEDS))
    try:
        with live.client() as api:
            doc_id = upload(api, None, ("a.txt", notice("开放。"))).json()[0]["doc_id"]
            assert [(r["action"], r["key_name"]) for r in records(api, None, doc_id=doc_id)] == [("upload", None)]
    finally:
        live.stop()


# --- malformed key settings fail at startup


@pytest.mark.parametrize(
    ("keys", "says"),
    [
        ("zhang:k-1,:k-2", "the name is empty"),
        ("zhang:k-1,zhang:k-2", "'zhang' is given twice"),
        ("zhang:k-1,lik-2", "pair 2 has no colon"),
        ("zhang:k-1,li:", "key is blank"),
        ("zhang:k-1,li:   ", "key is blank"),
        ("zhang:k-1,,li:k-2", "pair 2 is empty"),
        ("zhang:k-1,li:k-1", "are the same key"),
        ("zhang:k-1,k-2/+=:li", "the name is empty or unusable"),  # written key:name: the key is not shown
    ],
)
def test_zhengce_serve_refuses_malformed_api_keys_saying_why_and_never_showing_a_key(
    tmp_path: Path, keys: str, says: str
) -> None:
    cmd = [sys.executable, "-m", "server", "--port", "0"]
    env = cli_env(ZHENGCE_DATA=str(tmp_path), ZHENGCE_API_KEYS=keys)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "ZHENGCE_API_KEYS" in done.stderr or "same key" in done.stderr
    assert says in done.stderr, done.stderr
    assert "k-1" not in done.stderr and "k-2" not in done.stderr
    assert not (tmp_path / "zhengce.db").exists()  # refused before anything was opened


def test_zhengce_serve_refuses_a_default_name_that_clashes_with_zhengce_api_key(tmp_path: Path) -> None:
    env = cli_env(ZHENGCE_DATA=str(tmp_path), ZHENGCE_API_KEYS="default:k-1", ZHENGCE_API_KEY="k-2")
    done = subprocess.run([sys.executable, "-m", "server"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "'default'" in done.stderr and "k-1" not in done.stderr, done.stderr


def test_a_csv_cell_a_spreadsheet_would_run_as_a_formula_is_exported_as_text() -> None:
    from server.cli import _inert

    assert [_inert(v) for v in ("=HYPERLINK(1)", "+1", "-1", "@A1", "通知.txt", 3, None)] == [
        "'=HYPERLINK(1)", "'+1", "'-1", "'@A1", "通知.txt", 3, None,
    ]  # fmt: skip
