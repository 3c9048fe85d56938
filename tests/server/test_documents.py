"""The document API against a real server: upload, status, ask, replace, correct, delete, bad input, limits.

One uvicorn server per module, over a fresh data directory built from the repository's seeds, with
the real model, real FAISS and real HTTP. The tests share that server, so each one uploads its own
documents (its own bytes: identical bytes would be duplicates) and says nothing about the others'.
Waiting is bounded, by polling ``GET /api/documents/{id}`` or the server's own indexer (``wait_idle``);
nothing asserts timing. Races are set up by real means, never by sleeping: another writer holding
the real writer lock, a real 300-page PDF whose worker process is seen running (psutil), or the swap
to a new generation held back. A second server with a small ``ZHENGCE_MAX_UPLOAD_BYTES`` serves the 413 tests.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import re
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
from helpers import cli_env

from ingest.config import DataPaths
from ingest.lock import writer_lock
from ingest.readers import SUPPORTED
from ingest.store import Store
from server.schemas import ERRORS
from server.settings import Settings

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
PDF = SHARED / "pdf_sample" / "397.pdf"
PROVINCES = SHARED / "provincial_reports_2025_docx"
CHONGQING = PROVINCES / "2025年重庆市政府工作报告.docx"
READERS = REPO / "tests" / "fixtures" / "readers"
UPLOADS = REPO / "tests" / "fixtures" / "uploads"
SEED_DOC = "cq-2023-08-25-xianjie"
PDF_DOC_NUMBER = "发改办财金规〔2019〕860号"
# Bounds on waiting, never expectations: indexing these files takes seconds.
INDEX_WAIT_S = 120.0
POLL_S = 0.2
SMALL_LIMIT = 64 * 1024
DATA_DIR_NAMES = {
    "files", "index", "writer.lock", "zhengce.db", "zhengce.db-wal", "zhengce.db-shm",
    "feedback.db", "feedback.db-wal", "feedback.db-shm",
}  # fmt: skip
# Files no reader can turn into text: (client name, bytes, Chinese reason, English reason).
UNREADABLE = [
    ("photo.txt", (UPLOADS / "photo.png").read_bytes(), "不是文本文件", "not a text file"),
    ("scanned.pdf", (READERS / "scanned.pdf").read_bytes(), "没有文字层", "no text layer"),
    ("malformed.pdf", (READERS / "malformed.pdf").read_bytes(), "无法解析", "could not be parsed"),
    ("bomb.docx", (UPLOADS / "zip_bomb_256mib.docx").read_bytes(), "压缩炸弹", "zip bomb"),
    ("bomb-lying.docx", (UPLOADS / "zip_bomb_256mib_lying.docx").read_bytes(), "压缩炸弹", "zip bomb"),
    ("fullwidth-blanks.txt", "\u3000\u3000\n\u3000\n".encode(), "没有可检索的正文", "no text left"),
]


# --- helpers


def text_file(title: str, *facts: str) -> bytes:
    """A small policy notice of our own, UTF-8: a title line, then one line per fact."""
    return "\n".join((title, "各有关单位：", *facts, "特此通知。")).encode("utf-8")


def upload(api: httpx.Client, *files: tuple[str, bytes]) -> httpx.Response:
    """POST the files under the form field ``files``."""
    return api.post(
        "/api/documents", files=[("files", (name, data, "application/octet-stream")) for name, data in files]
    )


def multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart body written by hand (file names exactly as given) and its content type."""
    boundary = f"zhengce-test-{uuid.uuid4().hex}"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
        for name, data in files
    )
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def ask(api: httpx.Client, question: str) -> dict[str, Any]:
    """The answer to ``question``, which must be a 200."""
    response = api.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def quoted(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Everything an answer shows from a document: its citations and its related passages."""
    return list(answer["citations"]) + list(answer["related"])


def get_doc(api: httpx.Client, doc_id: str) -> dict[str, Any]:
    """``GET /api/documents/{doc_id}``, which must be a 200."""
    response = api.get(f"/api/documents/{doc_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def generation(api: httpx.Client) -> int:
    """The index generation being served."""
    value: int = api.get("/healthz").json()["index_generation"]
    return value


def settle(server: Any) -> None:
    """Wait (bounded) until the server's indexer has nothing pending or running."""
    assert server.app.state.documents.indexer.wait_idle(INDEX_WAIT_S), f"indexer still busy after {INDEX_WAIT_S}s"


def poll(api: httpx.Client, doc_id: str) -> tuple[dict[str, Any], list[str]]:
    """Poll ``GET /api/documents/{doc_id}`` (bounded) until it is indexed or failed.

    Returns:
        The last reply, and the statuses seen, in order, each once.
    """
    seen: list[str] = []
    for _ in range(int(INDEX_WAIT_S / POLL_S)):
        doc = get_doc(api, doc_id)
        if not seen or seen[-1] != doc["status"]:
            seen.append(doc["status"])
        if doc["status"] in ("indexed", "failed"):
            return doc, seen
        threading.Event().wait(POLL_S)
    raise AssertionError(f"{doc_id} still {seen[-1]!r} after {INDEX_WAIT_S}s")


def is_idle(server: Any) -> bool:
    """Whether the server's indexer has nothing pending or running, right now."""
    idle: bool = server.app.state.documents.indexer.wait_idle(0)
    return idle


def data_dir(server: Any) -> Path:
    """The server's data directory."""
    root: Path = server.app.state.documents.settings.data
    return root


def rows(server: Any) -> dict[str, tuple[str, str | None]]:
    """``doc_id -> (status, error)`` as the server's database records them."""
    store = Store(DataPaths(data_dir(server)).db)
    try:
        return {r.doc_id: (r.status, r.error) for r in store.statuses()}
    finally:
        store.close()


def raw_files(server: Any) -> set[str]:
    """The names under ``<data>/files``."""
    folder = data_dir(server) / "files"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_bilingual(error: str | None, zh: str, en: str) -> None:
    """The reason names the problem in Chinese and in English."""
    assert error is not None
    assert zh in error, error
    assert en in error, error
    assert re.search(r"[\u4e00-\u9fff]", error.split("/")[0]), error


# --- fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, servers: Any) -> Iterator[Any]:
    """This module's server over a fresh data dir built from the repository's seeds."""
    live = servers.start(Settings(data=tmp_path_factory.mktemp("documents-data"), seeds=SEEDS))
    yield live
    live.stop()


@dataclass(frozen=True)
class Corpus:
    """The real PDF and the real 重庆 report, uploaded together in one request and indexed."""

    status_code: int
    results: list[dict[str, Any]]
    pdf_id: str
    chongqing_id: str


@pytest.fixture(scope="module")
def corpus(server: Any) -> Corpus:
    with server.client() as api:
        response = upload(api, (PDF.name, PDF.read_bytes()), (CHONGQING.name, CHONGQING.read_bytes()))
        results = response.json()
        for result in results:
            doc, _ = poll(api, result["doc_id"])
            assert doc["status"] == "indexed", doc["error"]
    settle(server)
    return Corpus(response.status_code, results, results[0]["doc_id"], results[1]["doc_id"])


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory, servers: Any) -> Iterator[Any]:
    """A server whose request bodies may be at most 64 KiB, set as ZHENGCE_MAX_UPLOAD_BYTES."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ZHENGCE_MAX_UPLOAD_BYTES", str(SMALL_LIMIT))
        settings = Settings(data=tmp_path_factory.mktemp("small-limit-data"), seeds=SEEDS)
    assert settings.max_upload_bytes == SMALL_LIMIT
    live = servers.start(settings)
    yield live
    live.stop()


# --- upload → indexed → cited


def test_one_request_with_two_files_acknowledges_each_as_received(corpus: Corpus) -> None:
    assert corpus.status_code == 202
    expected = [(PDF.name, PDF.read_bytes()), (CHONGQING.name, CHONGQING.read_bytes())]
    assert len(corpus.results) == len(expected)
    for result, (name, data) in zip(corpus.results, expected, strict=True):
        assert {"doc_id", "title", "status", "n_chunks", "error"} <= set(result)
        assert result["doc_id"] == f"doc-{sha256(data)[:16]}"
        assert (result["title"], result["status"], result["n_chunks"], result["error"]) == (name, "received", 0, None)
        assert result["duplicate"] is False


def test_both_uploaded_documents_end_up_indexed_with_chunks(api: httpx.Client, corpus: Corpus) -> None:
    for doc_id in (corpus.pdf_id, corpus.chongqing_id):
        doc = get_doc(api, doc_id)
        assert (doc["doc_id"], doc["status"], doc["error"]) == (doc_id, "indexed", None)
        assert doc["n_chunks"] > 0
        assert doc["text"]


def test_the_pdf_has_the_title_doc_number_issuer_and_date_it_states(api: httpx.Client, corpus: Corpus) -> None:
    doc = get_doc(api, corpus.pdf_id)
    assert doc["title"] == "关于加强个人所得税纳税信用建设的通知"
    assert doc["doc_number"] == PDF_DOC_NUMBER
    assert "国家发展改革委办公厅" in doc["issuer"]
    assert "税务总局办公厅" in doc["issuer"]
    assert doc["published"] == "2019-08-20"
    assert doc["filename"] == PDF.name
    assert [page for _, _, page in doc["pages"]] == [1, 2, 3, 4, 5]


def test_the_chongqing_report_has_its_title_and_date(api: httpx.Client, corpus: Corpus) -> None:
    doc = get_doc(api, corpus.chongqing_id)
    assert (doc["title"], doc["published"], doc["filename"]) == (
        "2025年重庆市政府工作报告",
        "2025-01-19",
        CHONGQING.name,
    )
    assert "32193.15亿元" in doc["text"]


@pytest.mark.parametrize("question", ["个人所得税纳税信用信息如何采集", "个人所得税纳税信用建设的总体要求是什么"])
def test_a_question_only_the_pdf_answers_cites_it_with_its_page_and_exact_quote(
    api: httpx.Client, corpus: Corpus, question: str
) -> None:
    answer = ask(api, question)
    assert not answer["abstained"]
    first = answer["citations"][0]
    assert first["doc_id"] == corpus.pdf_id
    doc = get_doc(api, corpus.pdf_id)
    for citation in [c for c in quoted(answer) if c["doc_id"] == corpus.pdf_id]:
        assert doc["text"][citation["start"] : citation["end"]] == citation["quote"]
        page = next(p for start, end, p in doc["pages"] if start <= citation["start"] < end)
        assert citation["page"] == page
        assert (citation["title"], citation["doc_number"]) == (doc["title"], PDF_DOC_NUMBER)
        assert citation["published"] == "2019-08-20"
    assert "纳税信用" in first["quote"]


def test_a_question_about_the_2025_chongqing_report_cites_it(api: httpx.Client, corpus: Corpus) -> None:
    answer = ask(api, "重庆2024年地区生产总值是多少")
    assert not answer["abstained"]
    assert "32193.15亿元" in answer["answer"]
    first = answer["citations"][0]
    assert first["doc_id"] == corpus.chongqing_id
    assert first["page"] is None  # not a PDF
    text = get_doc(api, corpus.chongqing_id)["text"]
    assert text[first["start"] : first["end"]] == first["quote"]
    assert "32193.15" in first["quote"]


def test_re_uploading_identical_bytes_reports_the_existing_doc_id_and_builds_nothing(
    server: Any, api: httpx.Client, corpus: Corpus
) -> None:
    settle(server)
    before, files = generation(api), raw_files(server)
    response = upload(api, ("a-copy-of-397.pdf", PDF.read_bytes()))
    assert response.status_code == 202
    [result] = response.json()
    assert (result["doc_id"], result["duplicate"], result["status"]) == (corpus.pdf_id, True, "indexed")
    assert result["n_chunks"] == get_doc(api, corpus.pdf_id)["n_chunks"]
    assert is_idle(server)  # no update was even asked for
    assert generation(api) == before
    assert raw_files(server) == files


def test_a_document_shows_received_then_indexed_while_it_is_polled(server: Any, api: httpx.Client) -> None:
    data = (UPLOADS / "heating_notice_big5.txt").read_bytes()
    with writer_lock(data_dir(server)):  # another writer is busy: the upload has to wait in "received"
        [result] = upload(api, ("heating_notice_big5.txt", data)).json()
        held = get_doc(api, result["doc_id"])
        assert (held["status"], held["n_chunks"], held["error"]) == ("received", 0, None)
    doc, seen = poll(api, result["doc_id"])
    path = ["received"] + [status for status in seen if status != "received"]  # "received" was seen above
    assert path in (["received", "indexed"], ["received", "parsed", "indexed"])
    assert doc["title"] == "關於做好今冬明春城鎮集中供暖工作的通知"
    assert doc["n_chunks"] > 0


def test_a_document_reported_indexed_is_already_cited(server: Any, api: httpx.Client) -> None:
    # The swap to the new generation is held back here, as a slow Retriever.open of a large index
    # holds it back in production (measured: ~40 ms with 24 provincial reports); nothing else changes.
    data = text_file(
        "关于开展高层建筑消防安全专项检查的通知",
        "一、检查对象为建筑高度超过50米的住宅和公共建筑。",
        "二、物业服务企业每月至少组织一次消防设施联动测试。",
    )
    question = "物业服务企业多久组织一次消防设施联动测试"
    service = server.app.state.service
    swap = service.swap
    reached, go_on = threading.Event(), threading.Event()

    def held_back_swap(retriever: Any) -> None:
        reached.set()
        go_on.wait(INDEX_WAIT_S)
        swap(retriever)

    settle(server)
    service.swap = held_back_swap
    try:
        [result] = upload(api, ("fire-safety.txt", data)).json()
        assert reached.wait(INDEX_WAIT_S), "the indexer never got to serving the new generation"
        status = get_doc(api, result["doc_id"])["status"]
        cited = result["doc_id"] in {c["doc_id"] for c in ask(api, question)["citations"]}
        assert status != "indexed" or cited, "GET says indexed, but /api/ask does not know the document"
    finally:
        go_on.set()
        del service.swap
        settle(server)
    assert poll(api, result["doc_id"])[0]["status"] == "indexed"
    assert ask(api, question)["citations"][0]["doc_id"] == result["doc_id"]


def test_an_upload_waits_for_another_writer_and_is_indexed_once_it_is_done(server: Any, api: httpx.Client) -> None:
    settle(server)
    data = (UPLOADS / "library_hours.html").read_bytes()
    question = "市图书馆每周哪天闭馆"
    before = generation(api)
    with writer_lock(data_dir(server)):  # a real flock, as `zhengce add` would hold it
        [result] = upload(api, ("library_hours.html", data)).json()
        assert (result["status"], result["duplicate"]) == ("received", False)
        assert not is_idle(server)
        assert rows(server)[result["doc_id"]] == ("received", None)
        assert generation(api) == before
        assert result["doc_id"] not in {c["doc_id"] for c in quoted(ask(api, question))}
    settle(server)
    doc = get_doc(api, result["doc_id"])
    assert (doc["status"], doc["title"], doc["filename"]) == (
        "indexed",
        "关于调整市图书馆开放时间的公告",
        "library_hours.html",
    )
    answer = ask(api, question)
    assert answer["citations"][0]["doc_id"] == result["doc_id"]
    assert "每周一闭馆" in answer["answer"]


def test_a_document_zhengce_add_adds_from_another_process_is_served_without_a_restart(
    server: Any, api: httpx.Client, tmp_path: Path
) -> None:
    notice = tmp_path / "street-lights.txt"
    notice.write_bytes(
        text_file(
            "关于调整城市道路照明开关灯时间的通知",
            "一、夏季道路照明开灯时间为19时30分，关灯时间为次日5时。",
            "二、冬季道路照明开灯时间为17时30分，关灯时间为次日6时30分。",
        )
    )
    settle(server)
    before = generation(api)
    env = cli_env(ZHENGCE_SEEDS=str(SEEDS))
    added = subprocess.run(
        [sys.executable, "-m", "server.cli", "add", "--data", str(data_dir(server)), str(notice)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    doc_id = json.loads(added.stdout.splitlines()[0])["doc_id"]
    for _ in range(int(INDEX_WAIT_S / POLL_S)):
        if generation(api) > before:
            break
        threading.Event().wait(POLL_S)
    assert generation(api) > before, "the server never served the generation `zhengce add` published"
    assert get_doc(api, doc_id)["status"] == "indexed"
    answer = ask(api, "冬季道路照明几点开灯")
    assert answer["citations"][0]["doc_id"] == doc_id
    assert "17时30分" in answer["answer"]


# --- replace, correct, delete


def test_a_new_version_replaces_the_old_text_in_every_answer(server: Any, api: httpx.Client) -> None:
    old, new = (UPLOADS / "parking_fees.txt").read_bytes(), (UPLOADS / "parking_fees_revised_gbk.txt").read_bytes()
    [first] = upload(api, ("parking_fees.txt", old)).json()
    doc_id = first["doc_id"]
    settle(server)
    before = ask(api, "新能源汽车在道路临时泊位停车怎么收费")
    assert any(c["doc_id"] == doc_id and "首小时免费" in c["quote"] for c in before["citations"])

    response = api.put(
        f"/api/documents/{doc_id}", files=[("files", ("parking_fees_revised_gbk.txt", new, "text/plain"))]
    )
    assert response.status_code == 202, response.text
    replaced = response.json()
    assert (replaced["doc_id"], replaced["status"], replaced["duplicate"]) == (doc_id, "received", False)
    settle(server)

    doc = get_doc(api, doc_id)
    assert (doc["status"], doc["filename"]) == ("indexed", "parking_fees_revised_gbk.txt")
    assert doc["title"] == "关于调整中心城区道路临时停车收费标准的通知（修订）"
    assert "每半小时收费3元" in doc["text"]
    questions = [
        "新能源汽车在道路临时泊位停车怎么收费",
        "中心城区白天道路临时停车每小时收费多少",
        "夜间停车收费吗",
        "残疾人驾驶的机动车停车收费吗",
    ]
    for question in questions:
        answer = ask(api, question)
        assert "首小时免费" not in answer["answer"]
        assert "每小时收费8元" not in answer["answer"]
        for c in quoted(answer):
            if c["doc_id"] == doc_id:
                assert doc["text"][c["start"] : c["end"]] == c["quote"]
                assert "首小时免费" not in c["quote"]
    answer = ask(api, "残疾人驾驶的机动车在道路临时泊位停车收费吗")
    assert any(c["doc_id"] == doc_id and "残疾人" in c["quote"] for c in answer["citations"])


def test_a_refused_replacement_keeps_the_current_version(server: Any, api: httpx.Client) -> None:
    data = text_file(
        "关于开展城市园林绿化养护质量考核的通知",
        "一、考核每季度开展一次，考核结果分为优秀、合格、不合格三个等次。",
        "二、连续两次考核不合格的养护单位，取消其下一年度园林养护项目投标资格。",
    )
    [result] = upload(api, ("greening.txt", data)).json()
    doc_id = result["doc_id"]
    settle(server)
    before = get_doc(api, doc_id)

    def put(*files: tuple[str, bytes]) -> httpx.Response:
        return api.put(f"/api/documents/{doc_id}", files=[("files", (n, d, "text/plain")) for n, d in files])

    empty = put(("greening-v2.txt", b""))
    assert empty.status_code == 422
    assert "文件为空 / the file is empty" in empty.json()["detail"]
    unsupported = put(("greening-v2.exe", b"MZ\x90\x00"))
    assert unsupported.status_code == 415
    assert "unsupported file type '.exe'" in unsupported.json()["detail"]
    two = put(("a.txt", b"first"), ("b.txt", b"second"))
    assert two.status_code == 422
    assert "exactly one file" in two.json()["detail"]
    settle(server)
    assert get_doc(api, doc_id) == before
    answer = ask(api, "园林养护单位连续两次考核不合格会怎样")
    assert answer["citations"][0]["doc_id"] == doc_id


def test_a_replacement_that_cannot_be_parsed_keeps_the_previous_version_answering(
    server: Any, api: httpx.Client
) -> None:
    data = text_file(
        "关于规范共享单车停放管理的通知",
        "一、共享单车应当停放在施划的停放区域内，禁止在盲道和消防通道停放。",
        "二、运营企业应当在接到通知后2小时内清理违规停放车辆。",
    )
    [result] = upload(api, ("bikes.txt", data)).json()
    doc_id = result["doc_id"]
    settle(server)
    photo = (UPLOADS / "photo.png").read_bytes()
    response = api.put(f"/api/documents/{doc_id}", files=[("files", ("bikes-v2.txt", photo, "text/plain"))])
    assert response.status_code == 202
    settle(server)
    answer = ask(api, "运营企业应当在多长时间内清理违规停放的共享单车")
    assert not answer["abstained"], "the previous version no longer answers"
    assert answer["citations"][0]["doc_id"] == doc_id
    doc = get_doc(api, doc_id)
    assert (doc["status"], doc["filename"]) == ("indexed", "bikes.txt")
    assert "2小时内清理违规停放车辆" in doc["text"]
    assert_bilingual(doc["error"], "新版本未采用", "the new version was not used")
    assert "不是文本文件" in doc["error"]


def test_corrected_metadata_shows_at_once_and_in_citations_after_reindexing(server: Any, api: httpx.Client) -> None:
    [result] = upload(api, ("farm_machinery_subsidy.txt", (UPLOADS / "farm_machinery_subsidy.txt").read_bytes())).json()
    doc_id = result["doc_id"]
    settle(server)
    question = "单台农机补贴额最高多少"
    assert ask(api, question)["citations"][0]["doc_id"] == doc_id
    correction = {
        "title": "关于做好2024年度农机购置与应用补贴工作的通知（更正）",
        "doc_number": "农机发〔2024〕7号",
        "issuer": "某市农业农村局",
        "published": "2024-03-15",
    }
    response = api.patch(f"/api/documents/{doc_id}", json=correction)
    assert response.status_code == 200, response.text
    assert {k: response.json()[k] for k in correction} == correction
    assert {k: get_doc(api, doc_id)[k] for k in correction} == correction
    settle(server)
    answer = ask(api, question)
    ours = [c for c in answer["citations"] if c["doc_id"] == doc_id]
    assert ours
    for c in ours:
        assert (c["doc_number"], c["title"], c["published"]) == (
            correction["doc_number"],
            correction["title"],
            correction["published"],
        )


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""}, {"doc_number": "x" * 101}, {"published": "2024-13-45"}, {"author": "someone"}, {"title": 5},
        {"region": ["九江"]}, {"region": ["湖南省", "九江市"]}, {"region": "江西省"},
    ],
)  # fmt: skip
def test_a_bad_metadata_correction_is_422_and_changes_nothing(
    server: Any, api: httpx.Client, corpus: Corpus, body: dict[str, Any]
) -> None:
    settle(server)
    before = get_doc(api, corpus.pdf_id)
    response = api.patch(f"/api/documents/{corpus.pdf_id}", json=body)
    assert response.status_code == 422
    assert response.json()["detail"]
    assert is_idle(server)
    assert get_doc(api, corpus.pdf_id) == before


# A scraped notice as it arrives: one line, headline glued to the lead, a disclaimer at the end, a hash as name.
RUN_ON_NOTICE = (
    "九江市出台十条措施支持外贸企业稳订单拓市场 本报讯（记者 李华）　　3月18日，九江市商务局印发《关于支持外贸企业"
    "稳订单拓市场的十条措施》，对参加境外展会的外贸企业按展位费的70%给予补贴，单个企业最高不超过20万元。"
    '（凡本网注明"来源：XXX"的作品，均转载自其它媒体，转载目的在于传递更多信息，并不代表本网赞同其观点和对其真实性负责。）'
)


def test_a_run_on_notice_under_a_hash_name_is_listed_with_its_title_issuer_and_region(
    server: Any, api: httpx.Client
) -> None:
    name = hashlib.md5(RUN_ON_NOTICE.encode()).hexdigest() + ".txt"
    [result] = upload(api, (name, RUN_ON_NOTICE.encode("utf-8"))).json()
    doc, _ = poll(api, result["doc_id"])
    expected = {
        "title": "九江市出台十条措施支持外贸企业稳订单拓市场",
        "issuer": "九江市商务局",
        "region": ["江西省", "九江市"],
    }
    assert doc["status"] == "indexed", doc["error"]
    assert {k: doc[k] for k in expected} == expected
    [listed] = [d for d in api.get("/api/documents").json() if d["doc_id"] == result["doc_id"]]
    assert {k: listed[k] for k in expected} == expected
    assert "凡本网注明" not in doc["text"] and "展位费的70%给予补贴" in doc["text"]


def test_every_listed_document_has_a_region_list_and_the_seed_is_in_chongqing(api: httpx.Client) -> None:
    listed = {d["doc_id"]: d for d in api.get("/api/documents").json()}
    assert all(isinstance(d["region"], list) for d in listed.values())
    assert listed[SEED_DOC]["region"] == ["重庆市"]


def test_the_list_is_paged_with_the_total_in_a_header_and_pages_that_add_up(server: Any, api: httpx.Client) -> None:
    for i in range(3):
        assert (
            upload(api, (f"page-{i}.txt", text_file(f"关于分页测试第{i}号的通知", f"第{i}号事项。"))).status_code == 202
        )
    settle(server)
    everything = api.get("/api/documents", params={"limit": 500})
    total = int(everything.headers["X-Total-Count"])
    assert total == len(everything.json()) >= 4
    pages = [api.get("/api/documents", params={"offset": o, "limit": 2}) for o in range(0, total, 2)]
    assert all(int(p.headers["X-Total-Count"]) == total for p in pages)
    assert [d["doc_id"] for p in pages for d in p.json()] == [d["doc_id"] for d in everything.json()]
    assert [d["doc_id"] for d in everything.json()] == sorted(d["doc_id"] for d in everything.json())


def test_the_list_filters_by_text_status_region_and_doc_id(server: Any, api: httpx.Client) -> None:
    [result] = upload(api, ("filter.txt", text_file("关于筛选测试_50%事项的通知", "筛选测试事项。"))).json()
    settle(server)
    found = api.get("/api/documents", params={"q": "筛选测试_50%"})
    assert [d["doc_id"] for d in found.json()] == [result["doc_id"]] and found.headers["X-Total-Count"] == "1"
    assert api.get("/api/documents", params={"q": "筛选测试_5"}).json()  # a prefix of the title
    assert api.get("/api/documents", params={"q": "筛选测试%50"}).json() == []  # % and _ are taken literally
    indexed = api.get("/api/documents", params={"status": "indexed", "limit": 500}).json()
    assert indexed and {d["status"] for d in indexed} == {"indexed"}
    assert api.get("/api/documents", params={"status": ["failed", "received"], "q": "筛选测试"}).json() == []
    chongqing = api.get("/api/documents", params={"region": "重庆市", "limit": 500}).json()
    assert SEED_DOC in {d["doc_id"] for d in chongqing} and all("重庆市" in d["region"] for d in chongqing)
    two = api.get("/api/documents", params={"doc_id": [SEED_DOC, result["doc_id"], "no-such-doc"]}).json()
    assert sorted(d["doc_id"] for d in two) == sorted([SEED_DOC, result["doc_id"]])


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"status": "deleted"}, {"q": "x" * 201}, {"limit": "many"}],
)
def test_a_bad_page_or_filter_is_422_naming_the_parameter(api: httpx.Client, params: dict[str, Any]) -> None:
    reply = api.get("/api/documents", params=params)
    assert reply.status_code == 422
    assert next(iter(params)) in reply.json()["detail"]


def test_a_corrected_region_shows_at_once(server: Any, api: httpx.Client) -> None:
    data = text_file("关于做好2024年夏季防汛工作的通知", "各单位要做好汛期值班值守工作，确保信息畅通。")
    [result] = upload(api, ("flood-region.txt", data)).json()
    doc_id = result["doc_id"]
    settle(server)
    response = api.patch(f"/api/documents/{doc_id}", json={"region": ["江西省", "九江市"]})
    assert response.status_code == 200, response.text
    assert response.json()["region"] == get_doc(api, doc_id)["region"] == ["江西省", "九江市"]
    bad = api.patch(f"/api/documents/{doc_id}", json={"region": ["九江"]})
    assert bad.status_code == 422
    assert "九江市" in json.dumps(bad.json(), ensure_ascii=False)  # the message names the full name
    assert get_doc(api, doc_id)["region"] == ["江西省", "九江市"]


def test_patch_refuses_a_null_title_and_lone_surrogates_and_a_null_issuer_clears_it(
    server: Any, api: httpx.Client
) -> None:
    data = text_file("关于做好2024年冬季供暖工作的通知", "供暖期为11月15日至次年3月15日。")
    [result] = upload(api, ("heating-patch.txt", data)).json()
    doc_id = result["doc_id"]
    settle(server)
    assert api.patch(f"/api/documents/{doc_id}", json={"issuer": "市住建委"}).status_code == 200
    refused = api.patch(f"/api/documents/{doc_id}", json={"title": None})
    assert refused.status_code == 422 and "title cannot be null" in refused.text
    for field in ("title", "issuer", "doc_number", "published"):
        bad = api.patch(
            f"/api/documents/{doc_id}",
            content=b'{"%s": "\\u901a\\ud800"}' % field.encode(),
            headers={"Content-Type": "application/json"},
        )
        assert bad.status_code == 422 and "not valid Unicode" in bad.text, (field, bad.text)
    assert get_doc(api, doc_id)["title"] == "关于做好2024年冬季供暖工作的通知"
    cleared = api.patch(f"/api/documents/{doc_id}", json={"issuer": None})
    assert cleared.status_code == 200, cleared.text
    assert get_doc(api, doc_id)["issuer"] == ""


DELETE_QUESTIONS = [
    "城南片区什么时候停水",
    "停水期间到哪里取水",
    "恢复供水初期水质浑浊怎么办",
    "滨江路以南的居民小区哪天停止供水",
]


def test_a_deleted_document_is_gone_from_every_answer_and_every_endpoint(server: Any, api: httpx.Client) -> None:
    data = (UPLOADS / "water_outage.md").read_bytes()
    [result] = upload(api, ("water_outage.md", data)).json()
    doc_id = result["doc_id"]
    settle(server)
    assert ask(api, DELETE_QUESTIONS[0])["citations"][0]["doc_id"] == doc_id
    documents_before = api.get("/healthz").json()["documents"]

    response = api.delete(f"/api/documents/{doc_id}")
    assert response.status_code == 200
    assert response.json() == {"doc_id": doc_id, "deleted": True}
    settle(server)

    for question in DELETE_QUESTIONS:
        answer = ask(api, question)
        assert doc_id not in {c["doc_id"] for c in quoted(answer)}, question
        assert "城南广场临时供水点" not in answer["answer"]
    assert api.get("/healthz").json()["documents"] == documents_before - 1
    for method in ("GET", "DELETE", "PATCH", "PUT"):
        kwargs: dict[str, Any] = {"json": {"title": "x"}} if method == "PATCH" else {}
        if method == "PUT":
            kwargs = {"files": [("files", ("water_outage.md", data, "text/markdown"))]}
        assert api.request(method, f"/api/documents/{doc_id}", **kwargs).status_code == 404, method
    assert sha256(data) not in raw_files(server)
    assert doc_id not in rows(server)


def test_a_document_deleted_while_another_writer_works_is_not_cited_meanwhile(server: Any, api: httpx.Client) -> None:
    data = text_file(
        "关于调整城市公交夜班线路的通知",
        "一、夜班公交线路运营时间调整为每日22时30分至次日5时30分。",
        "二、夜班线路统一票价为3元，可使用公交卡和手机扫码支付。",
    )
    [result] = upload(api, ("night-bus.txt", data)).json()
    doc_id = result["doc_id"]
    settle(server)
    question = "夜班公交线路的运营时间是什么"
    assert ask(api, question)["citations"][0]["doc_id"] == doc_id
    with writer_lock(data_dir(server)):
        assert api.delete(f"/api/documents/{doc_id}").status_code == 200
        assert api.get(f"/api/documents/{doc_id}").status_code == 404
        assert doc_id not in {c["doc_id"] for c in quoted(ask(api, question))}


@functools.cache
def long_pdf() -> bytes:
    """The real 5-page PDF repeated 60 times: a 300-page PDF whose parsing takes a few seconds."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for _ in range(60):
        writer.append(PdfReader(io.BytesIO(PDF.read_bytes())))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_worker_running() -> psutil.Process:
    """The PDF worker the server's indexer started (bounded wait): once it runs, the bytes were read."""
    for _ in range(int(INDEX_WAIT_S / 0.01)):
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if "ingest.pdf_worker" in child.cmdline():
                    return child
        threading.Event().wait(0.01)
    raise AssertionError("the indexer never started parsing the PDF")


def still_running(process: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    return False


def test_a_document_deleted_while_it_is_being_parsed_stays_deleted(server: Any, api: httpx.Client) -> None:
    data = long_pdf() + b"\n% deleted while parsed\n"
    settle(server)
    [result] = upload(api, ("tax-credit-300-pages.pdf", data)).json()
    doc_id = result["doc_id"]
    try:
        worker = pdf_worker_running()
        assert api.delete(f"/api/documents/{doc_id}").status_code == 200
        assert still_running(worker), "the delete came too late to test what it should"
        settle(server)
        assert doc_id not in rows(server)
        assert api.get(f"/api/documents/{doc_id}").status_code == 404
    finally:
        api.delete(f"/api/documents/{doc_id}")  # a copy that came back must not answer in other tests
        settle(server)


def test_deleting_one_file_of_a_batch_being_parsed_does_not_fail_the_update(
    server: Any, api: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    other = text_file("关于测试批量上传中删除文件的通知", "一、这份文件在同一批的长文件解析期间被删除。")
    slow, n = long_pdf(), 0
    while sha256(slow + b"\n%% %d\n" % n) > sha256(other):  # the long PDF is parsed first (doc_id order)
        n += 1
    settle(server)
    response = upload(api, ("tax-credit-300-pages-b.pdf", slow + b"\n%% %d\n" % n), ("deleted.txt", other))
    first, second = (r["doc_id"] for r in response.json())
    try:
        with caplog.at_level(logging.ERROR):
            worker = pdf_worker_running()
            assert api.delete(f"/api/documents/{second}").status_code == 200
            assert still_running(worker), "the delete came too late to test what it should"
            settle(server)
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
        assert get_doc(api, first)["status"] == "indexed"
    finally:
        api.delete(f"/api/documents/{first}")
        settle(server)


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_an_unknown_doc_id_is_404_naming_it_for_every_method(api: httpx.Client, method: str) -> None:
    kwargs: dict[str, Any] = {}
    if method == "PUT":
        kwargs = {"files": [("files", ("x.txt", text_file("关于某事项的通知", "内容。"), "text/plain"))]}
    elif method == "PATCH":
        kwargs = {"json": {"title": "新标题"}}
    response = api.request(method, "/api/documents/doc-does-not-exist", **kwargs)
    assert response.status_code == 404
    assert "doc-does-not-exist" in response.json()["detail"]


def test_seed_documents_cannot_be_deleted_replaced_or_patched_through_the_api(server: Any, api: httpx.Client) -> None:
    deleted = api.delete(f"/api/documents/{SEED_DOC}")
    assert deleted.status_code == 409
    assert "seed document" in deleted.json()["detail"] and deleted.json()["code"] == "conflict"
    patched = api.patch(f"/api/documents/{SEED_DOC}", json={"title": "改过的标题"})
    assert patched.status_code == 409
    assert get_doc(api, SEED_DOC)["title"] != "改过的标题"
    replaced = api.put(
        f"/api/documents/{SEED_DOC}", files=[("files", ("seed.txt", text_file("替换", "内容。"), "text/plain"))]
    )
    assert replaced.status_code == 409
    settle(server)
    assert get_doc(api, SEED_DOC)["status"] == "indexed"
    answer = ask(api, "脱贫人口收入是多少")
    assert answer["citations"][0]["doc_id"] == SEED_DOC
    assert "16118元" in answer["answer"]


# --- bad input


def test_an_unsupported_type_alone_is_415_listing_the_supported_types(server: Any, api: httpx.Client) -> None:
    files = raw_files(server)
    for batch in (
        [("setup.exe", b"MZ\x90\x00\x03")],
        [("setup.exe", b"MZ\x90\x00\x03"), ("archive.zip", b"PK\x03\x04")],
    ):
        response = upload(api, *batch)
        assert response.status_code == 415
        detail = response.json()["detail"]
        assert "不支持的文件类型 / unsupported file type '.exe'" in detail
        assert all(ext in detail for ext in SUPPORTED)
    assert raw_files(server) == files


@pytest.mark.parametrize(
    ("bad", "reason"),
    [(("tool.exe", b"MZ\x90\x00\x03"), "unsupported file type '.exe'"), (("empty.txt", b""), "the file is empty")],
)
def test_a_mixed_batch_is_202_with_the_bad_file_failed_and_the_other_indexed(
    server: Any, api: httpx.Client, bad: tuple[str, bytes], reason: str
) -> None:
    good = text_file(
        f"关于做好防汛物资储备工作的通知（{bad[0]}）", "一、各区县应当储备编织袋不少于5万条、救生衣不少于2000件。"
    )
    response = upload(api, bad, ("flood.txt", good))
    assert response.status_code == 202
    failed, ok = response.json()
    assert (failed["doc_id"], failed["title"], failed["status"]) == (None, bad[0], "failed")
    assert reason in failed["error"]
    assert (ok["title"], ok["status"]) == ("flood.txt", "received")
    settle(server)
    assert get_doc(api, ok["doc_id"])["status"] == "indexed"


@pytest.mark.parametrize(("name", "data"), [("empty.txt", b""), ("blank.txt", b" \r\n\t \n  ")])
def test_an_empty_or_blank_file_alone_is_422_on_post_as_on_put_with_a_bilingual_reason(
    server: Any, api: httpx.Client, name: str, data: bytes
) -> None:
    settle(server)
    files, known = raw_files(server), rows(server)
    response = upload(api, (name, data))
    assert response.status_code == 422
    assert response.json()["code"] == ERRORS[422][0]
    assert_bilingual(response.json()["detail"], "文件为空", "the file is empty")
    assert is_idle(server)
    assert (raw_files(server), rows(server)) == (files, known)


def test_when_no_file_of_a_batch_is_taken_the_422_gives_each_files_reason(server: Any, api: httpx.Client) -> None:
    files = raw_files(server)
    response = upload(api, ("empty.txt", b""), ("tool.exe", b"MZ\x90\x00\x03"))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "'empty.txt': 文件为空 / the file is empty" in detail
    assert "'tool.exe': 不支持的文件类型 / unsupported file type '.exe'" in detail
    assert raw_files(server) == files


def test_a_file_name_too_long_for_a_multipart_header_is_400_saying_so_in_plain_words(
    server: Any, api: httpx.Client
) -> None:
    [existing] = upload(api, ("社区.txt", text_file("关于社区治理的通知", "一、社区每年评议一次。"))).json()
    settle(server)
    files, known = raw_files(server), rows(server)
    name = "关于" + "进一步加强城乡社区治理" * 200 + ".txt"  # 2,204 characters, 6.6 KB of UTF-8
    data = text_file("关于进一步加强城乡社区治理的通知", "一、社区工作者每万人不少于18名。")
    body, content_type = multipart([(name, data)])
    for path, method in (("/api/documents", "POST"), (f"/api/documents/{existing['doc_id']}", "PUT")):
        response = api.request(method, path, content=body, headers={"Content-Type": content_type})
        assert response.status_code == 400, response.text
        assert response.json()["code"] == ERRORS[400][0]
        assert_bilingual(response.json()["detail"], "文件名过长", "shorten the file name and send the file again")
    assert (raw_files(server), rows(server)) == (files, known)
    assert upload(api, ("社区治理.txt", data)).json()[0]["status"] == "received"


def test_unreadable_files_fail_with_a_bilingual_reason_and_everything_else_still_answers(
    server: Any, api: httpx.Client, corpus: Corpus
) -> None:
    settle(server)
    before = api.get("/healthz").json()["documents"]
    response = upload(api, *[(name, data) for name, data, _, _ in UNREADABLE])
    assert response.status_code == 202
    results = response.json()
    assert [r["status"] for r in results] == ["received"] * len(UNREADABLE)
    settle(server)
    recorded = rows(server)
    for result, (_, _, zh, en) in zip(results, UNREADABLE, strict=True):
        status, error = recorded[result["doc_id"]]
        assert status == "failed"
        assert_bilingual(error, zh, en)
    assert api.get("/healthz").json()["documents"] == before
    failed = {r["doc_id"] for r in results}
    for question, doc_id in [
        ("个人所得税纳税信用信息如何采集", corpus.pdf_id),
        ("重庆2024年地区生产总值是多少", corpus.chongqing_id),
        ("脱贫人口收入是多少", SEED_DOC),
    ]:
        answer = ask(api, question)
        assert answer["citations"][0]["doc_id"] == doc_id
        assert not failed & {c["doc_id"] for c in quoted(answer)}


def test_an_unreadable_file_shows_failed_with_its_bilingual_reason_through_the_api(
    server: Any, api: httpx.Client
) -> None:
    response = upload(api, *[(name, data) for name, data, _, _ in UNREADABLE])
    results = response.json()
    settle(server)
    for result, (_, _, zh, en) in zip(results, UNREADABLE, strict=True):
        doc = get_doc(api, result["doc_id"])
        assert (doc["status"], doc["n_chunks"]) == ("failed", 0)
        assert_bilingual(doc["error"], zh, en)
    listed = {d["doc_id"]: d for d in api.get("/api/documents").json()}
    assert all(listed[r["doc_id"]]["status"] == "failed" for r in results)


@pytest.mark.parametrize("client_name", ["../../evil.txt", "../../../../../../tmp/evil.txt", "..\\..\\evil.txt"])
def test_a_path_in_the_file_name_is_dropped_and_the_bytes_are_stored_under_their_sha256(
    server: Any, api: httpx.Client, client_name: str
) -> None:
    data = text_file(
        "关于加强地下管线施工安全管理的通知",
        f"一、施工单位开挖前必须查明地下管线位置（编号{sha256(client_name.encode())[:8]}）。",
    )
    body, content_type = multipart([(client_name, data)])
    response = api.post("/api/documents", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 202, response.text
    [result] = response.json()
    assert (result["title"], result["status"]) == ("evil.txt", "received")
    settle(server)
    assert get_doc(api, result["doc_id"])["filename"] == "evil.txt"

    root = data_dir(server)
    assert {p.name for p in root.iterdir()} <= DATA_DIR_NAMES
    assert all(re.fullmatch(r"[0-9a-f]{64}", name) for name in raw_files(server))
    assert (root / "files" / sha256(data)).read_bytes() == data
    assert not [p for p in root.rglob("*evil*")]
    for outside in (root.parent, root.parent.parent, Path.cwd().parent, Path.cwd().parent.parent, Path("/tmp")):
        assert not (outside / "evil.txt").exists(), outside


# --- 413


def test_a_body_declared_larger_than_the_limit_is_413_and_stores_nothing(small_server: Any) -> None:
    files = raw_files(small_server)
    with small_server.client() as api:
        response = upload(api, ("big.txt", text_file("关于大文件的通知", "大" * SMALL_LIMIT)))
        assert response.status_code == 413
        detail = response.json()["detail"]
        assert "请求过大" in detail
        assert f"larger than {SMALL_LIMIT} bytes" in detail
        assert "ZHENGCE_MAX_UPLOAD_BYTES" in detail
        assert raw_files(small_server) == files
        small = upload(api, ("small.txt", text_file("关于小文件的通知", "一、小文件可以上传。")))
        assert small.status_code == 202
        assert small.json()[0]["status"] == "received"


def test_a_declared_content_length_over_the_limit_is_refused_before_the_body_is_sent(small_server: Any) -> None:
    url = urlsplit(small_server.url)
    head = (
        "POST /api/documents HTTP/1.1\r\n"
        f"Host: {url.netloc}\r\n"
        "Content-Type: multipart/form-data; boundary=never-sent\r\n"
        f"Content-Length: {100 * SMALL_LIMIT}\r\n\r\n"
    )
    with closing(socket.create_connection((url.hostname, url.port), timeout=60)) as sock:
        sock.sendall(head.encode())  # and not one byte of the body
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(4096)
            assert chunk, "the server closed the connection without a reply"
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413 ")


def streamed(body: bytes) -> Iterator[bytes]:
    """The body in 8 KiB pieces: httpx sends an iterator chunked, with no Content-Length."""
    for i in range(0, len(body), 8192):
        yield body[i : i + 8192]


def test_a_streamed_body_over_the_limit_without_content_length_is_413(small_server: Any) -> None:
    body, content_type = multipart([("big.txt", text_file("关于大文件的通知", "大" * SMALL_LIMIT))])
    with small_server.client() as api:
        response = api.post("/api/documents", content=streamed(body), headers={"Content-Type": content_type})
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert "ZHENGCE_MAX_UPLOAD_BYTES" in response.json()["detail"]


def test_a_streamed_body_over_the_limit_is_refused_and_stores_nothing(small_server: Any) -> None:
    data = text_file("关于流式大文件的通知", "流" * SMALL_LIMIT)
    body, content_type = multipart([("streamed-big.txt", data)])
    with small_server.client() as api:
        response = api.post("/api/documents", content=streamed(body), headers={"Content-Type": content_type})
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert response.status_code >= 400
        assert sha256(data) not in raw_files(small_server)
        assert "16118元" in ask(api, "脱贫人口收入是多少")["answer"]


def test_a_streamed_body_under_the_limit_is_accepted(small_server: Any) -> None:
    data = text_file("关于流式上传的通知", "一、分块传输的上传同样可以受理。")
    body, content_type = multipart([("streamed-small.txt", data)])
    with small_server.client() as api:
        response = api.post("/api/documents", content=streamed(body), headers={"Content-Type": content_type})
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 202, response.text
    assert response.json()[0]["doc_id"] == f"doc-{sha256(data)[:16]}"


# --- while indexing


def test_questions_are_answered_from_the_previous_generation_while_a_large_upload_is_indexed(
    server: Any, api: httpx.Client
) -> None:
    settle(server)
    before = generation(api)
    batch = [p for p in sorted(PROVINCES.glob("*.docx")) if p != CHONGQING][:6]
    stop = threading.Event()
    answers: list[tuple[bool, int, str, int | None]] = []

    def keep_asking() -> None:
        with server.client() as c:
            while not stop.is_set():
                busy = not is_idle(server)
                r = c.post("/api/ask", json={"question": "脱贫人口收入是多少"})
                body = r.json() if r.status_code == 200 else {}
                answers.append((busy, r.status_code, body.get("answer", r.text), body.get("index_generation")))

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        response = upload(api, *[(p.name, p.read_bytes()) for p in batch])
        assert response.status_code == 202
        assert [r["status"] for r in response.json()] == ["received"] * len(batch)
        assert not is_idle(server)
        late = text_file("关于在索引重建期间上传文件的说明", "一、索引重建期间上传的文件同样会被受理并在随后编入索引。")
        [during] = upload(api, ("during-rebuild.txt", late)).json()
        assert during["status"] == "received"
        settle(server)
    finally:
        stop.set()
        asker.join(timeout=INDEX_WAIT_S)
    assert answers
    assert [a for a in answers if a[1] != 200 or "16118元" not in a[2]] == []
    assert any(busy and gen == before for busy, _, _, gen in answers)
    assert generation(api) > before
    assert get_doc(api, during["doc_id"])["status"] == "indexed"
    assert all(get_doc(api, r["doc_id"])["status"] == "indexed" for r in response.json())
