"""Scans uploaded to a real server: read by OCR, answered with a citation marked as OCR, hostile scans refused.

One uvicorn server over a fresh data directory built from the repository's seeds, with the real model,
Tesseract and HTTP. The scans are made in the test from known text (``fixtures.ocr.scans``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.ocr.scans import image_pdf, needs_ocr, png, png_bomb, text_image

from server.settings import Settings

pytestmark = [pytest.mark.model, needs_ocr]

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
INDEX_WAIT_S = 180.0  # a bound on waiting, never an expectation
POLL_S = 0.2
NOTICE = [
    "关于规范共享电动自行车充电管理的通知",
    "各区人民政府，市政府各部门：",
    "一、充电柜应当设置在室外开阔地带，与建筑物外墙保持不少于六米的距离。",
    "二、运营企业应当每季度对充电柜进行一次安全检测，并留存检测记录。",
    "三、本通知自2025年3月1日起施行。",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, servers: Any) -> Iterator[Any]:
    live = servers.start(Settings(data=tmp_path_factory.mktemp("ocr-data"), seeds=SEEDS))
    yield live
    live.stop()


def _upload(api: httpx.Client, name: str, data: bytes) -> str:
    response = api.post("/api/documents", files=[("files", (name, data, "application/octet-stream"))])
    assert response.status_code == 202, response.text
    doc_id: str = response.json()[0]["doc_id"]
    return doc_id


def _settled(api: httpx.Client, doc_id: str) -> dict[str, Any]:
    """The document once it is indexed or failed (bounded polling)."""
    for _ in range(int(INDEX_WAIT_S / POLL_S)):
        doc: dict[str, Any] = api.get(f"/api/documents/{doc_id}").json()
        if doc["status"] in ("indexed", "failed"):
            return doc
        threading.Event().wait(POLL_S)
    raise AssertionError(f"{doc_id} not indexed or failed after {INDEX_WAIT_S}s")


def test_a_question_on_a_scanned_pdf_is_answered_with_a_citation_marked_ocr(api: httpx.Client) -> None:
    doc_id = _upload(api, "充电管理通知-扫描件.pdf", image_pdf([text_image(NOTICE)]))
    doc = _settled(api, doc_id)
    assert doc["status"] == "indexed", doc["error"]
    assert doc["ocr_pages"] == [1]
    answer = api.post("/api/ask", json={"question": "运营企业多久对充电柜进行一次安全检测"}).json()
    assert not answer["abstained"], answer
    citation = answer["citations"][0]
    assert citation["doc_id"] == doc_id
    assert (citation["page"], citation["ocr"]) == (1, True)
    assert "每季度" in answer["answer"]
    assert doc["text"][citation["start"] : citation["end"]] == citation["quote"]


def test_an_uploaded_png_is_read_and_a_text_file_citation_is_not_marked_ocr(api: httpx.Client) -> None:
    doc_id = _upload(api, "充电柜距离.png", png(text_image(NOTICE[:1] + NOTICE[2:3])))
    doc = _settled(api, doc_id)
    assert (doc["status"], doc["ocr_pages"]) == ("indexed", [1]), doc["error"]
    assert "不少于六米" in doc["text"]
    seed_answer = api.post("/api/ask", json={"question": "重庆脱贫人口收入是多少"}).json()
    assert all(c["ocr"] is False for c in seed_answer["citations"])


def test_a_decompression_bomb_image_fails_with_a_reason_and_the_server_keeps_answering(api: httpx.Client) -> None:
    doc_id = _upload(api, "bomb.png", png_bomb(100_000, 100_000))
    doc = _settled(api, doc_id)
    assert doc["status"] == "failed"
    assert "图片像素过多" in doc["error"] and "the image has too many pixels" in doc["error"], doc["error"]
    assert api.get("/healthz").status_code == 200
    assert api.post("/api/ask", json={"question": "充电柜应当设置在哪里"}).status_code == 200
