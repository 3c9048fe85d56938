"""The page in a real browser: asking, citations and the source viewer, the library (upload, delete, metadata
corrections, a document's history), feedback, the API key, filters, 在本文中提问 and follow-up questions.

Real servers (``create_app`` over uvicorn, the real model and index built from ``seeds/``) and the
system Chromium driven by Playwright; nothing is mocked and no answer is hard-coded: every check
compares what the page shows with what the API returned or with the source text. One read-only
server serves the asking tests, another (the seeds and the run-on notices of ``evals/notices``, from
several provinces) the filter and follow-up tests; each test that writes (upload, delete, feedback,
API key) starts its own over a fresh data directory and stops it afterwards.

Each main state is saved to ``tests/screenshots/`` (git-ignored) on every run;
``docs/screenshots/desktop-citation.png`` and ``phone.png`` are committed copies of two of them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docx
import httpx
import pytest
from fixtures.ocr.scans import image_pdf, needs_ocr, photographed, png, text_image, typeset
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from evals.library import notice_files
from retriever.pipeline import NO_DOCUMENTS_TEXT
from server.settings import Settings
from tests.server.test_documents import poll, settle
from tests.server.test_documents import upload as post_files

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
PROVINCES = SHARED / "provincial_reports_2025_docx"
# A short provincial report (~130 chunks) that states its GDP in 亿元; no seed mentions 陕西.
REPORT = PROVINCES / "2025年陕西省政府工作报告.docx"
SCREENSHOTS = REPO / "tests" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
# Never let Playwright fetch a browser: the system Chromium, headless, with nothing phoning home.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 740}
# Bounds on waiting, never expectations: a report is ~130 chunks to embed on a shared CPU.
INDEX_WAIT_MS = 180_000
CSP = "default-src 'self'"
# Buttons, inputs and text boxes without an accessible name (aria-label, a <label>, or their text).
UNNAMED_CONTROLS = """() => Array.from(document.querySelectorAll("button, input, textarea"))
    .filter((el) => !((el.getAttribute("aria-label") || (el.labels && el.labels[0] && el.labels[0].textContent)
                       || el.textContent || "").trim()))
    .map((el) => el.outerHTML)"""

pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}; CI installs the `chromium` package"),
]

expect.set_options(timeout=30_000)


# --- fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The system Chromium, once for the module."""
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory, servers: Any) -> str:
    """The URL of one server over the real seeds, shared by the tests that only ask."""
    return str(servers.start(Settings(data=tmp_path_factory.mktemp("browser-read"), seeds=SEEDS)).url)


@pytest.fixture()
def fresh_server(tmp_path: Path, servers: Any) -> Iterator[Callable[..., tuple[str, Path]]]:
    """Start a server of its own data directory (and extra settings); stopped after the test."""
    started: list[Any] = []

    def start(**settings: Any) -> tuple[str, Path]:
        data = tmp_path / f"data-{len(started)}"
        server = servers.start(Settings(data=data, seeds=SEEDS, **settings))
        started.append(server)
        return str(server.url), data

    yield start
    for server in started:
        server.stop()


class Watched:
    """A page and what went wrong in it: uncaught script errors and CSP violations."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.errors.append(f"CSP: {message.text}")


def _open(browser: Browser, viewport: dict[str, int], scale: float = 1) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport, device_scale_factor=scale, locale="zh-CN")
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    watched = Watched(context.new_page())
    yield watched.page
    context.close()
    assert watched.errors == [], "the page reported errors"


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    """A desktop-sized page in a fresh context (its own localStorage)."""
    yield from _open(browser, DESKTOP)


@pytest.fixture()
def phone(browser: Browser) -> Iterator[Page]:
    """A 360 px wide page, at twice the pixel density (as phones are)."""
    yield from _open(browser, PHONE, scale=2)


# --- helpers


def shot(page: Page, name: str, full_page: bool = False) -> None:
    """Save a screenshot of the page's current state to tests/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def asked(page: Page, action: Callable[[], None]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Do ``action`` (which asks a question) and wait for the answer shown as a new turn; return the body the
    page sent to ``/api/ask`` and the JSON it got back."""
    turns = page.locator(".turn")
    before = turns.count()
    with page.expect_response(lambda r: r.url.endswith("/api/ask") and r.request.method == "POST") as reply:
        action()
    expect(turns).to_have_count(before + 1)
    expect(turns.nth(before).locator(".answer:not(.pending)")).to_be_visible()
    sent = reply.value.request.post_data_json
    assert isinstance(sent, dict)
    return sent, reply.value.json()


def ask_sent(page: Page, question: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ask through the page's text box; return the body sent to ``/api/ask`` and the JSON it sent back."""
    page.fill("#question", question)
    return asked(page, lambda: page.press("#question", "Enter"))


def ask(page: Page, question: str) -> dict[str, Any]:
    """Ask through the page's text box; return the JSON that ``/api/ask`` sent the page."""
    return ask_sent(page, question)[1]


def last_turn(page: Page) -> Locator:
    """The newest question and its answer."""
    return page.locator(".turn").last


def viewer_mark(page: Page) -> Locator:
    """The highlighted span in the source viewer."""
    return page.locator("#viewer-body mark")


def assert_in_view(page: Page, target: Locator, container: str) -> None:
    """``target`` lies within the visible part of ``container`` and of the window."""
    box, frame = target.bounding_box(), page.locator(container).bounding_box()
    assert box is not None and frame is not None
    top, bottom = frame["y"] - 1, frame["y"] + frame["height"] + 1
    assert top <= box["y"] and box["y"] + min(box["height"], frame["height"]) <= bottom
    viewport = page.viewport_size
    assert viewport is not None and 0 <= box["y"] < viewport["height"]


def no_horizontal_scroll(page: Page) -> None:
    """The page is no wider than the window."""
    width, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"the page is {width}px wide in a {inner}px window"


def upload(page: Page, path: Path) -> Locator:
    """Choose ``path`` in the library's file input; return its upload row."""
    page.set_input_files("#file-input", str(path))
    return page.locator(f'.upload[data-name="{path.name}"]')


def drop(page: Page, name: str, text: str) -> Locator:
    """Drop a text file named ``name`` on the library's drop zone; return its upload row."""
    page.evaluate(
        """([name, text]) => {
            const files = new DataTransfer();
            files.items.add(new File([text], name, { type: "text/plain" }));
            const zone = document.getElementById("drop-zone");
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: files, bubbles: true, cancelable: true }));
        }""",
        [name, text],
    )
    return page.locator(f'.upload[data-name="{name}"]')


def wait_indexed(row: Locator) -> str:
    """Wait until the upload row says 已索引; return its doc_id."""
    expect(row.locator(".upload-status")).to_have_text("已索引", timeout=INDEX_WAIT_MS)
    doc_id = row.get_attribute("data-doc-id")
    assert doc_id
    return doc_id


def confirm_delete(page: Page, doc_id: str) -> Locator:
    """Press a document's 删除 in the library and confirm in the dialog; return its list item."""
    page.click("#tab-library")
    item = page.locator(f'li.doc[data-doc-id="{doc_id}"]')
    item.get_by_role("button", name=re.compile("^删除")).click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.click("#confirm-dialog button[value=ok]")
    return item


def delete_on_page(page: Page, doc_id: str) -> None:
    """Delete a document through the library and wait until it is gone from the list."""
    expect(confirm_delete(page, doc_id)).to_have_count(0)


def cited_doc_ids(answer: dict[str, Any]) -> set[str]:
    """Every doc_id an answer cites or offers as related."""
    return {c["doc_id"] for c in answer["citations"] + answer["related"]}


# --- asking and reading the sources


def test_a_cited_number_opens_its_exact_span_in_the_source_viewer(page: Page, reader: str) -> None:
    page.goto(reader)
    expect(page.locator("#empty")).to_be_visible()
    shot(page, "empty")
    answer = ask(page, "脱贫人口收入是多少")
    turn = last_turn(page)
    assert not answer["abstained"]
    expect(turn.locator(".answer-text")).to_contain_text("16118元")
    parts = [c for c in answer["citations"] if c["answer_part"]]
    expect(turn.locator(".answer-text .marker")).to_have_count(len(parts))
    expect(turn.locator(".citation")).to_have_count(len(answer["citations"]))

    turn.locator(".marker").first.click()
    first = answer["citations"][0]
    doc = httpx.get(f"{reader}/api/documents/{first['doc_id']}").json()
    expect(viewer_mark(page)).to_have_count(1)
    assert viewer_mark(page).text_content() == first["quote"] == doc["text"][first["start"] : first["end"]]
    # Highlighted at its offsets, in the document's whole clean text: exactly `start` characters precede it.
    assert page.locator("#viewer-body").text_content() == doc["text"]
    before = page.evaluate("() => document.querySelector('#viewer-body mark').previousSibling.textContent")
    assert before == doc["text"][: first["start"]]
    expect(viewer_mark(page)).to_be_in_viewport()
    assert_in_view(page, viewer_mark(page), "#viewer-body")
    expect(page.locator("#viewer-title")).to_contain_text(doc["title"])
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, "desktop-citation")

    if len(answer["citations"]) > 1:
        page.click("#viewer-next")
        second = answer["citations"][1]
        expect(viewer_mark(page)).to_have_text(second["quote"])
        expect(viewer_mark(page)).to_be_in_viewport()
        page.click("#viewer-prev")
        expect(viewer_mark(page)).to_have_text(first["quote"])

    # Keyboard: a focused marker opens the viewer with Enter; Escape closes it and gives focus back.
    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()
    marker = turn.locator(".marker").first
    marker.focus()
    page.keyboard.press("Enter")
    expect(viewer_mark(page)).to_have_text(first["quote"])
    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()
    expect(marker).to_be_focused()

    # 复制 puts the answer and its sources on the clipboard as plain text.
    turn.get_by_role("button", name="复制答案和出处").click()
    expect(turn.locator(".action-status")).to_have_text("已复制")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert answer["answer"] in copied and f"《{first['title']}》" in copied and first["quote"] in copied
    if first["published"]:
        assert first["published"] in copied


def test_an_out_of_scope_question_is_shown_as_an_abstention_with_related_passages(page: Page, reader: str) -> None:
    page.goto(reader)
    answer = ask(page, "火星基地的建设预算是多少")
    assert answer["abstained"], f"expected an abstention, got {answer['answer']!r}"
    turn = last_turn(page)
    expect(turn.locator(".answer.abstained")).to_be_visible()
    expect(turn.locator(".abstain-heading")).to_have_text("未在已收录的文档中找到相关内容")
    expect(turn.locator(".marker")).to_have_count(0)
    expect(turn.locator(".answer-text")).to_have_count(0)
    expect(turn.locator(".citation-num")).to_have_count(0)
    related = answer["related"]
    expect(turn.locator(".citations.related .citation")).to_have_count(len(related))
    if related:
        expect(turn.locator(".sources-heading")).to_have_text("可能相关")
        expect(turn.locator(".citation mark").first).to_have_text(related[0]["quote"])
        turn.locator(".citation").first.click()
        expect(viewer_mark(page)).to_have_text(related[0]["quote"])
    shot(page, "abstention")


def test_at_phone_width_the_answer_and_citations_fit_without_horizontal_scrolling(phone: Page, reader: str) -> None:
    phone.goto(reader)
    no_horizontal_scroll(phone)
    answer = ask(phone, "重庆出台了多少个衔接政策")
    turn = last_turn(phone)
    expect(turn.locator(".answer-text")).to_contain_text(answer["citations"][0]["quote"])
    expect(turn.locator(".citation").first).to_be_visible()
    no_horizontal_scroll(phone)
    phone.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, 0); }")
    shot(phone, "phone")

    # The viewer covers the screen on a phone, still without horizontal scrolling; Escape closes it.
    turn.locator(".marker").first.click()
    expect(viewer_mark(phone)).to_have_text(answer["citations"][0]["quote"])
    expect(viewer_mark(phone)).to_be_in_viewport()
    no_horizontal_scroll(phone)
    shot(phone, "phone-viewer")
    phone.keyboard.press("Escape")
    expect(phone.locator("#side")).to_be_hidden()

    phone.click("#library-toggle")
    expect(phone.locator("#documents li.doc").first).to_be_visible()
    no_horizontal_scroll(phone)
    shot(phone, "phone-library")


def test_enter_sends_shift_enter_breaks_the_line_and_the_conversation_survives_a_reload(
    page: Page, reader: str
) -> None:
    page.goto(reader)
    page.focus("#question")
    page.keyboard.type("脱贫人口")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("收入是多少")
    expect(page.locator("#question")).to_have_value("脱贫人口\n收入是多少")
    expect(page.locator(".turn")).to_have_count(0)
    with page.expect_response(lambda r: r.url.endswith("/api/ask")) as reply:
        page.keyboard.press("Enter")
    answer = reply.value.json()
    expect(page.locator(".turn .answer:not(.pending)")).to_have_count(1)
    expect(page.locator("#question")).to_have_value("")
    assert answer["question"].replace("\n", "") == "脱贫人口收入是多少"
    shown = page.locator(".turn .answer").inner_text()

    # Every control has a name, and the one reached with Tab shows where focus is.
    unnamed = page.evaluate(UNNAMED_CONTROLS)
    assert unnamed == [], unnamed
    page.focus("#question")
    page.keyboard.press("Tab")
    expect(page.locator("#ask-button")).to_be_focused()
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"

    page.reload()
    expect(page.locator(".turn")).to_have_count(1)
    expect(page.locator(".question-bubble")).to_contain_text("收入是多少")
    assert page.locator(".turn .answer").inner_text() == shown
    expect(page.locator("#empty")).to_be_hidden()

    page.click("#clear-chat")
    expect(page.locator(".turn")).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()
    page.reload()
    expect(page.locator(".turn")).to_have_count(0)

    # An example question on the empty state asks it.
    example = page.locator(".example").first
    with page.expect_response(lambda r: r.url.endswith("/api/ask")) as reply:
        example.click()
    assert reply.value.json()["question"] == example.text_content()
    expect(page.locator(".turn .answer:not(.pending)")).to_have_count(1)


# --- writing: upload, delete, feedback, API key


def test_an_uploaded_report_is_indexed_cited_and_after_deletion_never_cited(
    page: Page, fresh_server: Callable[..., tuple[str, Path]], tmp_path: Path
) -> None:
    if not REPORT.exists():
        pytest.skip(f"{REPORT} is missing (the shared data folder)")
    text = "\n".join(p.text for p in docx.Document(str(REPORT)).paragraphs)
    figure = re.search(r"地区生产总值(\d+(?:\.\d+)?亿元)", text)
    assert figure, "the report states its GDP in 亿元"
    url, _ = fresh_server()
    page.goto(url)
    row = upload(page, REPORT)
    expect(row.locator("progress")).to_have_attribute("value", "1")
    doc_id = wait_indexed(row)
    item = page.locator(f'li.doc[data-doc-id="{doc_id}"]')
    expect(item.locator(".badge")).to_have_text("已索引")
    listed = next(d for d in httpx.get(f"{url}/api/documents").json() if d["doc_id"] == doc_id)
    expect(item).to_contain_text(listed["title"])
    expect(item).to_contain_text(f"{listed['n_chunks']} 个片段")
    # A Word copy of a news page: its byline is shown as where the text came from, not kept in the text.
    assert listed["source"] == "陕西日报"
    expect(item.locator(".meta")).to_contain_text("来源：陕西日报")
    shot(page, "library-upload")

    # Refusals are shown in plain words: a file type no reader takes (415), a seed document (409).
    odd = tmp_path / "notes.xyz"
    odd.write_bytes("不是支持的格式".encode())
    expect(upload(page, odd).locator(".upload-status")).to_contain_text("不支持的文件类型")
    seed = next(d for d in httpx.get(f"{url}/api/documents").json() if d["doc_id"] != doc_id)
    with page.expect_response(lambda r: r.request.method == "DELETE") as refused:
        seed_item = confirm_delete(page, seed["doc_id"])
    assert refused.value.status == 409
    expect(page.locator("#library-status")).to_contain_text(refused.value.json()["detail"])
    expect(seed_item).to_have_count(1)

    question = "陕西地区生产总值是多少"
    answer = ask(page, question)
    assert not answer["abstained"] and answer["citations"][0]["doc_id"] == doc_id
    turn = last_turn(page)
    expect(turn.locator(".answer-text")).to_contain_text(figure.group(1))
    expect(turn.locator(".citation-title").first).to_have_text(f"《{listed['title']}》")
    turn.locator(".citation-title").first.click()
    expect(viewer_mark(page)).to_have_text(answer["citations"][0]["quote"])
    expect(page.locator("#viewer-meta")).to_contain_text("来源：陕西日报")

    delete_on_page(page, doc_id)
    expect(page.locator("#library-status")).to_contain_text("已删除")
    again = ask(page, question)
    assert doc_id not in cited_doc_ids(again)
    expect(last_turn(page)).not_to_contain_text(listed["title"])


def test_a_run_on_notice_under_a_hash_name_is_listed_with_its_title_and_region_and_answers_with_its_level(
    page: Page, fresh_server: Callable[..., tuple[str, Path]]
) -> None:
    notices = REPO / "evals" / "notices"
    expected = json.loads((notices / "expected.jsonl").read_text(encoding="utf-8").splitlines()[0])
    url, _ = fresh_server()
    page.goto(url)
    doc_id = wait_indexed(upload(page, notices / expected["file"]))
    item = page.locator(f'li.doc[data-doc-id="{doc_id}"]')
    expect(item.locator(".doc-title")).to_have_text(expected["title"])  # the headline, never the file's hash
    expect(item.locator(".meta")).to_contain_text("".join(expected["region"]) + " · " + expected["issuer"])
    answer = ask(page, "重庆2月份申报纳税期限延长到哪天")
    assert not answer["abstained"] and answer["citations"][0]["doc_id"] == doc_id
    note = last_turn(page).locator(".check-note")
    # The page says 请核对原文 exactly when the API says the answer is to be checked.
    expect(note).to_have_count(1 if answer["confidence_level"] == "check" else 0)
    shot(page, "run-on-notice")


# A scan of four run-on notices, one a page, and a phone photo of a fifth; each is asked the question the notices
# eval set asks of it (``evals/notices_set.jsonl``), whose answer is on page 3 of the scan and on the photo.
SCANNED = ("0b647ed5d9e429a8bbcce34c4bdb077f", "247cf92ee54d44b2377df219d72f4873", "7ab830100aad621f46bac6a8cc804a37",
           "43af88b430fd27c6cc4308e9a97048f9")  # fmt: skip
ON_SCAN, ON_PHOTO = "ntc-001", "ntc-002"
# Both the upload row and the library's badge say how far OCR is, from the same refresh.
OCR_SHOWN = """(docId) => {
    const row = document.querySelector(`.upload[data-doc-id="${docId}"] .upload-status`);
    const badge = document.querySelector(`li.doc[data-doc-id="${docId}"] .badge`);
    const texts = [row, badge].map((node) => (node ? node.textContent : ""));
    return texts.every((text) => text.includes("OCR")) ? texts : null;
}"""


def notice_case(case_id: str) -> dict[str, Any]:
    """A case of the notices eval set."""
    cases = (REPO / "evals" / "notices_set.jsonl").read_text(encoding="utf-8").splitlines()
    return next(c for c in map(json.loads, cases) if c["id"] == case_id)


def scanned_notices(folder: Path) -> tuple[Path, Path]:
    """The image-only PDF of the ``SCANNED`` notices and the PNG photo of ``ON_PHOTO``'s, written to ``folder``."""
    scan, photo = folder / "复工复产政策汇编-扫描件.pdf", folder / "宁波措施-手机拍照.png"
    pages = [text_image(typeset((NOTICES / f"{name}.txt").read_text(encoding="utf-8"))) for name in SCANNED]
    scan.write_bytes(image_pdf(pages))
    photographed_notice = (NOTICES / notice_case(ON_PHOTO)["gold"][0]["file"]).read_text(encoding="utf-8")
    photo.write_bytes(png(photographed(text_image(typeset(photographed_notice)))))
    return scan, photo


@needs_ocr
def test_a_scan_and_a_photo_uploaded_on_the_page_show_ocr_progress_and_answer_with_their_ocr_pages(
    page: Page, fresh_server: Callable[..., tuple[str, Path]], tmp_path: Path
) -> None:
    scan, photo = scanned_notices(tmp_path)
    url, _ = fresh_server()
    page.goto(url)
    page.click("#tab-library")
    scan_row = upload(page, scan)
    expect(scan_row).to_have_attribute("data-doc-id", re.compile(r"."))
    scan_id = scan_row.get_attribute("data-doc-id")
    photo_row = upload(page, photo)
    # OCR takes ~2 s a page here, the list refreshes every 1.5 s: the four pages are seen being read.
    shown = page.wait_for_function(OCR_SHOWN, arg=scan_id, timeout=INDEX_WAIT_MS).json_value()
    shot(page, "library-ocr-progress")
    for text in shown:
        assert re.search(r"^已接收 · OCR [0-4]/4 页$", text), shown

    scan_id, photo_id = wait_indexed(scan_row), wait_indexed(photo_row)
    for doc_id in (scan_id, photo_id):
        expect(page.locator(f'li.doc[data-doc-id="{doc_id}"] .badge')).to_have_text("已索引")  # the progress is gone
    listed = {d["doc_id"]: d for d in httpx.get(f"{url}/api/documents").json()}
    assert listed[scan_id]["progress"] is None and listed[photo_id]["progress"] is None

    for case_id, doc_id in ((ON_SCAN, scan_id), (ON_PHOTO, photo_id)):
        case = notice_case(case_id)
        answer = ask(page, case["question"])
        assert not answer["abstained"], answer
        first = answer["citations"][0]
        on_page = SCANNED.index(case["gold"][0]["file"].removesuffix(".txt")) + 1 if doc_id == scan_id else 1
        assert (first["doc_id"], first["page"], first["ocr"]) == (doc_id, on_page, True), first
        turn = last_turn(page)
        for must in case["must_contain"]:
            expect(turn.locator(".answer-text")).to_contain_text(must)
        expect(turn.locator(".citation-source .meta").first).to_contain_text(f"第{on_page}页 · OCR")
        if doc_id == scan_id:
            shot(page, "ocr-citation")
            turn.locator(".citation-title").first.click()
            expect(viewer_mark(page)).to_have_text(first["quote"])
            expect(page.locator("#viewer-meta")).to_contain_text(f"引文在第{on_page}页 · OCR")
            expect(viewer_mark(page)).to_be_in_viewport()
            shot(page, "ocr-viewer")
            page.keyboard.press("Escape")


def test_a_large_library_is_listed_fifty_at_a_time_with_a_total_more_and_a_filter(
    page: Page, fresh_server: Callable[..., tuple[str, Path]]
) -> None:
    url, _ = fresh_server()
    files = [
        (
            "files",
            (
                f"notice-{i:02d}.txt",
                f"关于第{i:02d}号分页事项的通知\n第{i:02d}号事项请按期办理。\n".encode(),
                "text/plain",
            ),
        )
        for i in range(55)
    ]
    assert httpx.post(f"{url}/api/documents", files=files, timeout=60).status_code == 202
    page.goto(url)
    page.click("#tab-library")
    expect(page.locator("#doc-count")).to_have_text("（56）", timeout=INDEX_WAIT_MS)  # the seed too
    expect(page.locator("#documents li.doc")).to_have_count(50)
    page.click("#doc-more")
    expect(page.locator("#documents li.doc")).to_have_count(56)
    expect(page.locator("#doc-more")).to_be_hidden()
    page.fill("#doc-filter", "第07号分页")
    expect(page.locator("#documents li.doc")).to_have_count(1)
    expect(page.locator("#documents li.doc .doc-title")).to_have_text("关于第07号分页事项的通知")
    expect(page.locator("#doc-count")).to_have_text("（1）")


def test_markup_in_a_document_is_shown_as_text_and_never_run(
    page: Page, fresh_server: Callable[..., tuple[str, Path]]
) -> None:
    script = "<script>window.__pwned=1</script>"
    image = '<img src=x onerror="window.__pwned=1">'
    # 𠮷 and 𩽾 lie outside the BMP: one code point (the server's offsets) but two UTF-16 units (JS strings).
    notice = f"关于火星基地建设的通知{script}\n各有关单位𠮷𩽾：\n火星基地建设预算为八千万元{image}。\n特此通知。\n"
    url, _ = fresh_server()
    response = page.goto(url)
    assert response is not None and response.headers.get("content-security-policy") == CSP
    doc_id = wait_indexed(drop(page, "markup-notice.txt", notice))

    page.locator(f'li.doc[data-doc-id="{doc_id}"] .doc-title').click()
    expect(page.locator("#viewer-body")).to_contain_text(script)
    expect(page.locator("#viewer-body")).to_contain_text(image)

    answer = ask(page, "火星基地建设预算是多少")
    shown = answer["related"] if answer["abstained"] else answer["citations"]
    ours = [i for i, c in enumerate(shown) if c["doc_id"] == doc_id]
    assert ours, "the notice is cited or offered as related"
    turn = last_turn(page)
    turn.locator(".citation").nth(ours[0]).click()
    cited = shown[ours[0]]
    expect(viewer_mark(page)).to_have_text(cited["quote"])
    text = httpx.get(f"{url}/api/documents/{doc_id}").json()["text"]
    assert "𠮷" in text[: cited["start"]], "the quote comes after the characters outside the BMP"
    before = page.evaluate("() => document.querySelector('#viewer-body mark').previousSibling.textContent")
    assert before == text[: cited["start"]]
    shot(page, "markup-as-text")

    assert page.evaluate("() => window.__pwned") is None
    expect(page.locator("img")).to_have_count(0)
    expect(page.locator("script")).to_have_count(1)  # app.js, nothing from the document
    assert "<img" in page.locator("#viewer-body").text_content()


def test_a_thumbs_down_with_a_reason_is_stored_and_exported_for_review(
    page: Page, fresh_server: Callable[..., tuple[str, Path]]
) -> None:
    url, data = fresh_server()
    page.goto(url)
    question = "脱贫人口收入是多少"
    answer = ask(page, question)
    turn = last_turn(page)
    turn.get_by_role("button", name="有问题").click()
    form = turn.locator(".feedback-form")
    expect(form).to_be_visible()
    form.get_by_label("数字错误").check()
    comment = "收入数字需要核对"
    form.get_by_label("补充说明（可选）").fill(comment)
    shot(page, "feedback")
    with page.expect_response(lambda r: r.url.endswith("/api/feedback")) as reply:
        form.get_by_role("button", name="提交").click()
    assert reply.value.status == 201
    sent = reply.value.request.post_data_json
    assert sent == {"rating": "down", "reason": "数字错误", "comment": comment, "answer": answer}
    expect(turn.locator(".action-status")).to_have_text("已记录，谢谢")
    expect(form).to_be_hidden()

    exported = subprocess.run(
        [sys.executable, "-m", "server.cli", "feedback", "export", "--data", str(data)],
        capture_output=True, text=True, check=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    lines = [json.loads(line) for line in exported.stdout.splitlines() if line.strip()]
    judged = [(c["question"], *(c["feedback"][k] for k in ("rating", "reason", "comment"))) for c in lines]
    assert (question, "down", "数字错误", comment) in judged, exported.stdout


def test_writes_ask_once_for_the_api_key_and_again_after_a_wrong_one(
    page: Page, fresh_server: Callable[..., tuple[str, Path]], tmp_path: Path
) -> None:
    url, _ = fresh_server(api_key="k-123")
    notice = tmp_path / "key-notice.txt"
    notice.write_text("关于密钥测试的通知\n各有关单位：\n测试文件的编号为甲乙丙丁。\n特此通知。\n", encoding="utf-8")
    assert httpx.post(f"{url}/api/documents", files={"files": (notice.name, b"x")}).status_code == 401
    page.goto(url)
    row = upload(page, notice)
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#key-input")).to_be_focused()
    page.fill("#key-input", "wrong-key")
    page.click("#key-dialog button[value=ok]")
    expect(page.locator("#key-message")).to_contain_text("API 密钥不正确")
    expect(dialog).to_be_visible()
    shot(page, "api-key-wrong")
    page.fill("#key-input", "k-123")
    page.click("#key-dialog button[value=ok]")
    expect(dialog).to_be_hidden()
    doc_id = wait_indexed(row)
    assert page.evaluate("() => localStorage.getItem('zhengce.apiKey')") == "k-123"

    # The key is kept: the next write does not ask again.
    delete_on_page(page, doc_id)
    expect(dialog).to_be_hidden()
    assert all(d["doc_id"] != doc_id for d in httpx.get(f"{url}/api/documents").json())


# --- correcting a document's metadata and reading its history


def post_notice(url: str, name: str, text: str, key: str | None = None) -> str:
    """Upload a text notice over HTTP (with ``key`` when the server needs one); return its doc_id."""
    headers = {"X-API-Key": key} if key else {}
    reply = httpx.post(f"{url}/api/documents", files={"files": (name, text.encode(), "text/plain")}, headers=headers)
    assert reply.status_code == 202, reply.text
    doc_id: str = reply.json()[0]["doc_id"]
    return doc_id


def listed_doc(page: Page, doc_id: str) -> Locator:
    """A document's item in the library, once it is indexed."""
    page.click("#tab-library")
    item = page.locator(f'li.doc[data-doc-id="{doc_id}"]')
    expect(item.locator(".badge")).to_have_text("已索引", timeout=INDEX_WAIT_MS)
    return item


def summary(url: str, doc_id: str) -> dict[str, Any]:
    """The document as ``GET /api/documents`` lists it."""
    listed: list[dict[str, Any]] = httpx.get(f"{url}/api/documents", params={"doc_id": doc_id}).json()
    return listed[0]


def test_the_metadata_form_corrects_a_title_and_the_list_shows_it(
    page: Page, fresh_server: Callable[..., tuple[str, Path]]
) -> None:
    url, _ = fresh_server()
    text = "关于元数据测试的通知\n各有关单位：\n测试事项请按期办理。\n特此通知。\n"
    doc_id = post_notice(url, "metadata-notice.txt", text)
    page.goto(url)
    item = listed_doc(page, doc_id)
    before = summary(url, doc_id)
    expect(item.locator(".doc-title")).to_have_text(before["title"])

    item.get_by_role("button", name=re.compile("^编辑")).click()
    dialog = page.locator("#edit-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#edit-title")).to_be_focused()
    expect(page.locator("#edit-title")).to_have_value(before["title"])  # the form opens on the current values
    expect(page.locator("#edit-issuer")).to_have_value(before["issuer"])
    title, number = "关于元数据更正测试的通知", "测试〔2025〕7号"
    page.fill("#edit-title", title)
    page.fill("#edit-doc-number", number)
    shot(page, "metadata-form")
    with page.expect_response(lambda r: r.request.method == "PATCH") as reply:
        page.click("#edit-save")
    assert reply.value.status == 200
    assert reply.value.request.post_data_json == {"title": title, "doc_number": number}  # only what changed
    expect(dialog).to_be_hidden()
    expect(item.locator(".doc-title")).to_have_text(title)
    expect(item.locator(".meta")).to_contain_text(number)
    expect(page.locator("#library-status")).to_contain_text(f"已保存《{title}》")
    assert (summary(url, doc_id)["title"], summary(url, doc_id)["doc_number"]) == (title, number)
    shot(page, "metadata-corrected")

    # Opened again, the form shows the correction; nothing changed is nothing sent.
    item.get_by_role("button", name=re.compile("^编辑")).click()
    expect(page.locator("#edit-title")).to_have_value(title)
    page.click("#edit-save")
    expect(page.locator("#edit-message")).to_have_text("没有改动，无需保存。")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_a_bad_date_in_the_metadata_form_shows_the_servers_message_and_a_good_one_is_saved(
    page: Page, fresh_server: Callable[..., tuple[str, Path]]
) -> None:
    url, _ = fresh_server(api_key="k-edit")
    text = "关于日期更正测试的通知\n各有关单位：\n测试事项请按期办理。\n特此通知。\n"
    doc_id = post_notice(url, "date-notice.txt", text, key="k-edit")
    page.goto(url)
    item = listed_doc(page, doc_id)
    item.get_by_role("button", name=re.compile("^编辑")).click()
    page.fill("#edit-published", "2025-02-30")
    page.click("#edit-save")
    expect(page.locator("#key-dialog")).to_be_visible()  # a correction is a write: it needs the key
    page.fill("#key-input", "k-edit")
    with page.expect_response(lambda r: r.request.method == "PATCH") as reply:
        page.click("#key-dialog button[value=ok]")
    assert reply.value.status == 422
    refused = reply.value.json()
    message = page.locator("#edit-message")
    expect(message).to_contain_text("发布日期")
    expect(message).to_contain_text(refused["errors"][0]["msg"])  # the server's own reason
    expect(message).to_have_class(re.compile(r"\berror\b"))
    expect(page.locator("#edit-published")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#edit-published")).to_be_focused()
    expect(page.locator("#edit-dialog")).to_be_visible()
    assert summary(url, doc_id)["published"] is None
    shot(page, "metadata-bad-date")

    page.fill("#edit-published", "2025-02-28")
    with page.expect_response(lambda r: r.request.method == "PATCH") as reply:
        page.click("#edit-save")
    assert reply.value.status == 200 and reply.value.request.post_data_json == {"published": "2025-02-28"}
    expect(page.locator("#edit-dialog")).to_be_hidden()
    expect(item.locator(".meta")).to_contain_text("2025-02-28")
    expect(page.locator("#key-dialog")).to_be_hidden()  # the key was kept


def test_a_documents_history_lists_its_upload_and_correction_in_chinese(
    page: Page, fresh_server: Callable[..., tuple[str, Path]]
) -> None:
    url, _ = fresh_server(api_key="k-audit")
    text = "关于历史记录测试的通知\n各有关单位：\n测试事项请按期办理。\n特此通知。\n"
    doc_id = post_notice(url, "history-notice.txt", text, key="k-audit")
    page.goto(url)
    page.evaluate("() => localStorage.setItem('zhengce.apiKey', 'k-audit')")
    item = listed_doc(page, doc_id)
    item.get_by_role("button", name=re.compile("^编辑")).click()
    page.fill("#edit-title", "关于历史记录测试的通知（更正）")
    with page.expect_response(lambda r: r.request.method == "PATCH") as reply:
        page.click("#edit-save")
    assert reply.value.status == 200
    expect(item.locator(".doc-title")).to_have_text("关于历史记录测试的通知（更正）")

    with page.expect_response(lambda r: "/api/audit" in r.url) as reply:
        item.get_by_role("button", name=re.compile("^查看《.*》的历史$")).click()
    records = reply.value.json()["records"]
    assert {"upload", "update"} <= {r["action"] for r in records}
    shown = page.locator("#history-records li.record")
    expect(shown).to_have_count(len(records))
    for i, record in enumerate(records):
        row = shown.nth(i)
        action = {"upload": "上传", "replace": "替换", "update": "修改", "delete": "删除"}[record["action"]]
        expect(row.locator(".record-action")).to_have_text(action)
        if record["sha256"]:
            expect(row).to_contain_text(record["sha256"][:12])
        if record["key_name"]:
            expect(row).to_contain_text(record["key_name"])
        if record["action"] == "update":
            expect(row.locator(".record-detail")).to_contain_text("标题")
    shot(page, "document-history")
    page.click("#history-close")
    expect(page.locator("#history-dialog")).to_be_hidden()


# --- filters, 在本文中提问 and follow-up questions, over a library of several provinces

NOTICES = REPO / "evals" / "notices"
JILIN_TAX = "国家税务总局吉林省税务局关于延长2022年4月纳税申报期限的通告"
JIANGXI_TAX = "江西3月份纳税申报期限延长至3月18日"
CHONGQING_TAX = '2月申报纳税期限延长至2月24日 重庆倡导"非接触式"办理税费业务'
MIANYANG_FUND = "绵阳出台住房公积金阶段性支持政策 受疫情影响企业可缓缴至6月底"


@pytest.fixture(scope="module")
def notices(tmp_path_factory: pytest.TempPathFactory, servers: Any) -> Iterator[str]:
    """The URL of a read-only server over the seeds and the run-on notices of ``evals/notices`` (several
    provinces), uploaded over HTTP as a user would, every one indexed and served."""
    live = servers.start(Settings(data=tmp_path_factory.mktemp("browser-notices"), seeds=SEEDS))
    with live.client() as api:
        for result in post_files(api, *((f.name, f.read_bytes()) for f in notice_files())).json():
            doc, _ = poll(api, result["doc_id"])
            assert doc["status"] == "indexed", doc["error"]
    settle(live)
    yield str(live.url)
    live.stop()


def titled(url: str) -> dict[str, dict[str, Any]]:
    """Every document the server lists, by title."""
    return {d["title"]: d for d in httpx.get(f"{url}/api/documents", params={"limit": 100}).json()}


def cited_titles(turn: Locator) -> list[str]:
    """The titles of the sources an answer shows (citations, or related passages of an abstention)."""
    return [t.strip("《》") for t in turn.locator(".citation-title").all_text_contents()]


def test_a_follow_up_is_read_against_the_previous_questions_and_can_be_asked_again_on_its_own(
    page: Page, notices: str
) -> None:
    page.goto(notices)
    first = "吉林4月份纳税申报期限延长到哪天"
    sent, answer = ask_sent(page, first)
    assert "history" not in sent and answer["resolved_question"] == first
    expect(last_turn(page).locator(".reading")).to_have_count(0)  # read as asked: nothing to show

    sent, answer = ask_sent(page, "那江西呢？")
    assert sent["history"] == [first]
    assert answer["resolved_question"] == "江西4月份纳税申报期限延长到哪天"
    second = page.locator(".turn").nth(1)
    expect(second.locator(".reading")).to_contain_text("理解为：江西4月份纳税申报期限延长到哪天")
    assert not answer["abstained"] and answer["citations"][0]["title"] == JIANGXI_TAX
    expect(second.locator(".citation-title").first).to_have_text(f"《{JIANGXI_TAX}》")

    sent, answer = ask_sent(page, "那重庆呢？")
    assert sent["history"] == [first, "那江西呢？"]  # the questions as asked, oldest first
    assert answer["resolved_question"] == "重庆4月份纳税申报期限延长到哪天"
    expect(last_turn(page).locator(".reading")).to_contain_text("理解为：重庆4月份纳税申报期限延长到哪天")
    assert answer["citations"] and answer["citations"][0]["title"] == CHONGQING_TAX
    last_turn(page).locator(".reading").scroll_into_view_if_needed()
    shot(page, "follow-up")

    # 理解为's text goes into the question box, to be corrected there.
    second.locator(".reading-text").click()
    expect(page.locator("#question")).to_have_value("江西4月份纳税申报期限延长到哪天")
    expect(page.locator("#question")).to_be_focused()
    page.fill("#question", "")

    # 不对，单独提问 asks the same question again without the previous ones.
    sent, answer = asked(page, second.get_by_role("button", name="不对，单独提问").click)
    assert sent == {"question": "那江西呢？"} and answer["resolved_question"] == "那江西呢？"
    alone = last_turn(page)
    expect(alone.locator(".question-bubble")).to_contain_text("那江西呢？")
    expect(alone.locator(".reading")).to_have_count(0)
    # A question asked on its own starts the conversation over: what came before it is not sent.
    sent, _ = ask_sent(page, "那吉林呢？")
    assert sent["history"] == ["那江西呢？"]

    # 清空对话 starts a new conversation: the next question goes without history.
    page.click("#clear-chat")
    expect(page.locator(".turn")).to_have_count(0)
    sent, answer = ask_sent(page, "那江西呢？")
    assert "history" not in sent and answer["resolved_question"] == "那江西呢？"


def test_a_region_chosen_in_the_filters_limits_every_citation_to_that_province(page: Page, notices: str) -> None:
    facets = httpx.get(f"{notices}/api/facets").json()
    count = next(f["count"] for f in facets["region"] if f["value"] == "吉林省")
    jilin = {title for title, d in titled(notices).items() if "吉林省" in d["region"]}
    page.goto(notices)
    expect(page.locator("#filter-panel")).to_be_hidden()  # collapsed until asked for
    page.click("#filter-toggle")
    expect(page.locator("#filter-panel")).to_be_visible()
    expect(page.locator("#filter-region option[value='吉林省']")).to_have_text(f"吉林省 ({count})")
    expect(page.locator("#filter-region option")).to_have_count(len(facets["region"]) + 1)  # and 全部地区
    page.select_option("#filter-region", "吉林省")
    expect(page.locator("#filter-toggle")).to_have_text("筛选（1）")

    sent, answer = ask_sent(page, "纳税申报期限延长到哪天")
    assert sent["filters"] == {"region": "吉林省"}
    assert not answer["abstained"] and {c["title"] for c in answer["citations"]} <= jilin
    turn = last_turn(page)
    expect(turn.locator(".filter-line")).to_have_text("筛选：吉林省")
    shown = cited_titles(turn)
    assert shown and set(shown) <= jilin, shown
    turn.locator(".marker").first.click()
    expect(page.locator("#viewer-title")).to_have_text(f"《{answer['citations'][0]['title']}》")
    shot(page, "filter-region")

    # 清除筛选: the next question is asked of the whole library again.
    page.click("#filter-clear")
    expect(page.locator("#filter-toggle")).to_have_text("筛选")
    sent, _ = ask_sent(page, "纳税申报期限延长到哪天")
    assert "filters" not in sent
    expect(last_turn(page).locator(".filter-line")).to_have_count(0)


def test_asking_in_a_document_scopes_the_next_questions_to_it_until_the_chip_is_removed(
    page: Page, notices: str
) -> None:
    doc_id = titled(notices)[MIANYANG_FUND]["doc_id"]
    page.goto(notices)
    page.locator(f'li.doc[data-doc-id="{doc_id}"] .doc-title').click()
    expect(page.locator("#viewer-title")).to_have_text(f"《{MIANYANG_FUND}》")
    page.click("#viewer-ask")
    chip = page.locator("#scope-chip")
    expect(chip).to_be_visible()
    expect(chip).to_contain_text(f"仅限：《{MIANYANG_FUND}》")
    expect(page.locator("#question")).to_be_focused()

    question = "租房提取额度是多少"
    sent, answer = ask_sent(page, question)
    assert sent["filters"] == {"doc_ids": [doc_id]}
    assert answer["citations"] or answer["related"]
    assert cited_doc_ids(answer) == {doc_id}
    turn = last_turn(page)
    assert set(cited_titles(turn)) == {MIANYANG_FUND}
    expect(turn.locator(".filter-line")).to_have_text(f"筛选：仅限《{MIANYANG_FUND}》")
    shot(page, "ask-in-document")

    page.click("#scope-remove")
    expect(chip).to_be_hidden()
    sent, answer = ask_sent(page, question)
    assert "filters" not in sent
    assert cited_doc_ids(answer) - {doc_id}, "the whole library answers again"
    assert set(cited_titles(last_turn(page))) - {MIANYANG_FUND}


def test_a_filter_no_document_passes_shows_the_servers_message_and_a_reversed_range_its_reason(
    page: Page, notices: str
) -> None:
    page.goto(notices)
    page.click("#filter-toggle")
    page.select_option("#filter-region", "吉林省")
    page.fill("#filter-to", "2000-01-01")
    expect(page.locator("#filter-toggle")).to_have_text("筛选（2）")
    sent, answer = ask_sent(page, "纳税申报期限延长到哪天")
    assert sent["filters"] == {"region": "吉林省", "published_to": "2000-01-01"}
    assert answer["abstained"] and answer["answer"] == NO_DOCUMENTS_TEXT
    turn = last_turn(page)
    expect(turn.locator(".abstain-note")).to_have_text(NO_DOCUMENTS_TEXT)
    expect(turn).to_contain_text("没有文档符合所选的筛选条件")
    expect(turn.locator(".citation")).to_have_count(0)
    expect(turn.locator(".filter-line")).to_have_text("筛选：吉林省 · 截至 2000-01-01")
    shot(page, "filter-matches-nothing")

    # From after to: the server refuses (422) and the page says why in its words.
    page.click("#filter-clear")
    page.fill("#filter-from", "2024-01-01")
    page.fill("#filter-to", "2020-01-01")
    _, refused = ask_sent(page, "纳税申报期限延长到哪天")
    assert refused["detail"] and "is after" in refused["detail"]
    expect(last_turn(page).locator(".answer.failed")).to_contain_text(refused["detail"])


def test_the_filter_choices_follow_the_library_as_documents_are_added_and_deleted(
    page: Page, fresh_server: Callable[..., tuple[str, Path]]
) -> None:
    url, _ = fresh_server()
    page.goto(url)
    page.click("#filter-toggle")
    expect(page.locator("#filter-region option[value='吉林省']")).to_have_count(0)
    expected = next(
        line for line in map(json.loads, (NOTICES / "expected.jsonl").read_text(encoding="utf-8").splitlines())
        if line["title"] == JILIN_TAX
    )  # fmt: skip
    doc_id = wait_indexed(upload(page, NOTICES / expected["file"]))
    expect(page.locator("#filter-region option[value='吉林省']")).to_have_text("吉林省 (1)")
    expect(page.locator("#filter-issuer option[value='国家税务总局吉林省税务局']")).to_have_text(
        "国家税务总局吉林省税务局 (1)"
    )
    delete_on_page(page, doc_id)
    expect(page.locator("#filter-region option[value='吉林省']")).to_have_count(0)
