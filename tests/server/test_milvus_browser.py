"""The page on the Milvus search engine, in a real browser: a document uploaded on the page is indexed, asked
about and cited; its new version, sent with the row's 替换, is answered; deleted on the page, it is never
cited again; and while the engine is down the page says so instead of answering.

A real server (``create_app`` over uvicorn, the real model) with ``ZHENGCE_INDEX=milvus`` on milvus-lite 2.5.1
serving TCP on loopback (``helpers.MilvusServer``), and the system Chromium driven by Playwright, as in
``test_browser.py`` (whose small helpers are copied here). The new version is sent with the library row's
替换 (a file chooser, then ``PUT /api/documents/{doc_id}``). Documents are the report excerpts of
``tests/fixtures/durability``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import MilvusServer
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect, sync_playwright

from server.settings import Settings
from tests.server.test_documents import poll

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
FIXTURES = REPO / "tests" / "fixtures" / "durability"
NAME = "report-2008.txt"
CASE = next(c for c in json.loads((FIXTURES / "questions.json").read_text(encoding="utf-8")) if c["file"] == NAME)
CHROMIUM = Path("/usr/bin/chromium")
# Never let Playwright fetch a browser: the system Chromium, headless, with nothing phoning home.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
DESKTOP: ViewportSize = {"width": 1280, "height": 860}
# A bound on waiting, never an expectation.
INDEX_WAIT_MS = 180_000

pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}; CI installs the `chromium` package"),
]

expect.set_options(timeout=30_000)


# --- fixtures


@pytest.fixture()
def engine(tmp_path: Path) -> Iterator[MilvusServer]:
    """milvus-lite serving TCP on loopback."""
    with MilvusServer(tmp_path / "engine.db") as server:
        yield server


@pytest.fixture()
def server(tmp_path: Path, servers: Any, engine: MilvusServer) -> Iterator[Any]:
    """A server on that engine over a fresh data directory; stopped before the engine is."""
    live = servers.start(Settings(data=tmp_path / "data", seeds=SEEDS, index="milvus", milvus_uri=engine.uri))
    yield live
    live.stop()


@pytest.fixture()
def page(tmp_path: Path) -> Iterator[Page]:
    """A desktop-sized page of the system Chromium; no uncaught script error or CSP violation may happen in it."""
    errors: list[str] = []
    with sync_playwright() as p:
        browser: Browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
        opened = context.new_page()
        opened.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
        opened.on("console", lambda m: errors.append(f"CSP: {m.text}") if "Content Security Policy" in m.text else None)
        yield opened
        context.close()
        browser.close()
    assert errors == [], "the page reported errors"


# --- helpers (as in test_browser.py)


def ask(page: Page, question: str) -> dict[str, Any]:
    """Ask through the page's text box, in a new conversation; wait for the answer shown as a new turn and
    return the JSON ``/api/ask`` sent the page."""
    if page.locator(".turn").count():
        page.click("#clear-chat")
        expect(page.locator(".turn")).to_have_count(0)
    page.fill("#question", question)
    with page.expect_response(lambda r: r.url.endswith("/api/ask") and r.request.method == "POST") as reply:
        page.press("#question", "Enter")
    expect(page.locator(".turn")).to_have_count(1)
    expect(last_turn(page).locator(".answer:not(.pending)")).to_be_visible()
    body: dict[str, Any] = reply.value.json()
    return body


def last_turn(page: Page) -> Locator:
    """The newest question and its answer."""
    return page.locator(".turn").last


def library_item(page: Page, doc_id: str) -> Locator:
    """A document's item in the library (shown, so the list is fetched again)."""
    page.click("#tab-library")
    return page.locator(f'li.doc[data-doc-id="{doc_id}"]')


def cited_doc_ids(answer: dict[str, Any]) -> set[str]:
    """Every doc_id an answer cites or offers as related."""
    return {c["doc_id"] for c in answer["citations"] + answer["related"]}


def assert_answered_on_page(page: Page, doc_id: str, fact: str) -> dict[str, Any]:
    """The page answers the case's question with ``fact``, citing ``doc_id`` first and showing its quote."""
    answer = ask(page, CASE["question"])
    assert not answer["abstained"] and answer["citations"][0]["doc_id"] == doc_id, answer["answer"]
    assert fact in answer["answer"]
    turn = last_turn(page)
    expect(turn.locator(".answer-text")).to_contain_text(fact)
    first = answer["citations"][0]
    expect(turn.locator(".citation").first.locator("mark")).to_have_text(first["quote"])
    turn.locator(".marker").first.click()
    expect(page.locator("#viewer-body mark")).to_have_text(first["quote"])
    page.keyboard.press("Escape")
    return answer


# --- the test


def test_a_document_is_uploaded_answered_replaced_and_deleted_on_the_page_with_milvus(
    page: Page, server: Any, engine: MilvusServer
) -> None:
    url = str(server.url)
    assert httpx.get(f"{url}/healthz").json()["search_engine"] == "milvus"
    page.goto(url)
    page.set_input_files("#file-input", str(FIXTURES / "docs" / NAME))
    row = page.locator(f'.upload[data-name="{NAME}"]')
    expect(row.locator(".upload-status")).to_have_text("已索引", timeout=INDEX_WAIT_MS)
    doc_id = row.get_attribute("data-doc-id")
    assert doc_id
    item = library_item(page, doc_id)
    expect(item.locator(".badge")).to_have_text("已索引")
    title = httpx.get(f"{url}/api/documents/{doc_id}").json()["title"]
    expect(item.locator(".doc-title")).to_have_text(title)
    assert_answered_on_page(page, doc_id, CASE["fact"])

    # 替换 on the library row: the new version is picked in the file chooser and sent as PUT.
    with page.expect_file_chooser() as chooser:
        library_item(page, doc_id).get_by_role("button", name=re.compile("^替换")).click()
    chooser.value.set_files(str(FIXTURES / "changed" / NAME))
    expect(page.locator("#library-status")).to_contain_text("已收到")
    with httpx.Client(base_url=url, timeout=60) as api:
        new, _ = poll(api, doc_id)
    assert new["status"] == "indexed" and CASE["changed_fact"] in new["text"]
    item = library_item(page, doc_id)
    expect(item.locator(".badge")).to_have_text("已索引")
    expect(item.locator(".meta")).to_contain_text(f"{new['n_chunks']} 个片段")
    answer = assert_answered_on_page(page, doc_id, CASE["changed_fact"])
    assert CASE["fact"] not in answer["answer"]
    expect(last_turn(page).locator(".answer-text")).not_to_contain_text(CASE["fact"])

    item = library_item(page, doc_id)
    item.get_by_role("button", name=re.compile("^删除")).click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.click("#confirm-dialog button[value=ok]")
    expect(item).to_have_count(0)
    expect(page.locator("#library-status")).to_contain_text("已删除")
    expect(row.locator(".upload-status")).to_have_text("已删除")
    answer = ask(page, CASE["question"])
    assert doc_id not in cited_doc_ids(answer)
    assert CASE["changed_fact"] not in answer["answer"] and CASE["fact"] not in answer["answer"]
    expect(last_turn(page)).not_to_contain_text(title)

    # The engine dies: the page says the server cannot answer now, in its words and the server's reason.
    engine.kill()
    ask(page, CASE["question"])
    failed = last_turn(page).locator(".answer.failed")
    expect(failed).to_contain_text("服务器正忙，请稍后再试。")
    expect(failed).to_contain_text("Milvus search engine is unreachable")
    expect(last_turn(page).locator(".citation")).to_have_count(0)
