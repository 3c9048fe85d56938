"""``zhengce serve --workers 2``: two processes answer side by side over one data directory.

A real server started from the command line with the real model. Every request below opens a new
connection, so the kernel hands requests to either worker; what one worker wrote (an upload, a
delete) must be what every answer shows once the writes settle, whichever worker answers. Waiting is
bounded by polling; nothing asserts timing.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from helpers import cli_env

from evals.bench import free_port

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 300.0
SETTLE_TIMEOUT_S = 60.0
IN_A_ROW = 20  # answers in a row on fresh connections that must all agree


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory, repo_seeds: Path) -> Iterator[tuple[str, Any]]:
    port = free_port()
    env = cli_env(ZHENGCE_DATA=str(tmp_path_factory.mktemp("workers")), ZHENGCE_SEEDS=str(repo_seeds))
    cmd = [sys.executable, "-m", "server.cli", "serve", "--workers", "2", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while not _ready(url, 2, proc):
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start both workers"
            time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _ready(url: str, workers: int, proc: Any) -> bool:
    """Both workers answer: /healthz replies and the server has started its worker processes."""
    try:
        httpx.get(f"{url}/healthz", timeout=5).raise_for_status()
    except httpx.HTTPError:
        return False
    return len(psutil.Process(proc.pid).children()) >= workers


def _cited(url: str, question: str) -> set[str]:
    answer = httpx.post(f"{url}/api/ask", json={"question": question}, timeout=60).raise_for_status().json()
    return {c["doc_id"] for c in answer["citations"] + answer["related"]}


def _settles(url: str, question: str, doc_id: str, cited: bool) -> bool:
    """Whether, within the bound, ``IN_A_ROW`` answers in a row (each on a new connection) agree that
    ``doc_id`` is cited (or not)."""
    deadline, streak = time.monotonic() + SETTLE_TIMEOUT_S, 0
    while time.monotonic() < deadline and streak < IN_A_ROW:
        streak = streak + 1 if (doc_id in _cited(url, question)) == cited else 0
    return streak >= IN_A_ROW


def test_two_worker_processes_answer_concurrent_questions_without_errors(two_workers: tuple[str, Any]) -> None:
    url, proc = two_workers
    assert len(psutil.Process(proc.pid).children()) >= 2
    questions = [
        "脱贫人口收入是多少",
        "六项重点任务有哪些",
        "全市建成的产业帮扶基地有几个",
        "农产品加工总产值目标是多少",
    ] * 25
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda q: httpx.post(f"{url}/api/ask", json={"question": q}, timeout=60), questions))
    assert {r.status_code for r in replies} == {200}
    assert all("16118元" in r.json()["answer"] for r in replies[::4])


def test_an_upload_and_a_delete_through_either_worker_are_what_every_worker_answers(
    two_workers: tuple[str, Any],
) -> None:
    url, _ = two_workers
    notice = "关于第8848号专项补贴的通知\n各区县：\n第8848号专项补贴标准为每人每月765元。\n特此通知。\n"
    reply = httpx.post(f"{url}/api/documents", files=[("files", ("n8848.txt", notice.encode(), "text/plain"))])
    doc_id = reply.raise_for_status().json()[0]["doc_id"]
    question = "第8848号专项补贴标准是多少"
    assert _settles(url, question, doc_id, cited=True)
    assert httpx.delete(f"{url}/api/documents/{doc_id}").status_code == 200
    assert _settles(url, question, doc_id, cited=False)
    listed = httpx.get(f"{url}/api/documents", params={"doc_id": doc_id}).json()
    assert listed == []
