"""Crash loop: the server SIGKILLed again and again while uploads, replacements and deletes are in flight.

Each round starts ``zhengce serve`` on the same data directory, sends writes one after another,
and kills the server at a random moment (often mid-request, mid-parse or mid-build); the next round
starts it again. What the server acknowledged must survive: at the end every acknowledged upload
is there exactly once and indexed with its last acknowledged text, every acknowledged delete stays
deleted, and the counts agree between the list, ``/healthz`` and the served index.
``ZHENGCE_CHAOS_KILLS`` sets the number of kills (30 in CI; ``make chaos`` runs 200).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from evals.bench import free_port

REPO = Path(__file__).resolve().parents[2]
logger = logging.getLogger(__name__)
KILLS = int(os.environ.get("ZHENGCE_CHAOS_KILLS", "30"))
SEED = 20261203
START_TIMEOUT_S = 300.0  # a safety net for a hung start, never an expectation about speed
SETTLE_TIMEOUT_S = 600.0


def _fact(n: int) -> str:
    return f"编号fact-{n}。"


def _notice(n: int) -> bytes:
    """A small notice whose title and fact are its own: ``_fact(n)`` is findable in its text."""
    lines = (
        f"关于第{n}号事项的通知",
        "各有关单位：",
        f"第{n}号事项的办理期限为{n % 28 + 1}日，{_fact(n)}",
        "特此通知。",
    )
    return "\n".join(lines).encode()


@dataclass
class Ledger:
    """What the server acknowledged, and what it may or may not have done (a reply lost to the kill)."""

    texts: dict[str, str] = field(default_factory=dict)  # doc_id → the fact of its last acknowledged version
    maybe: dict[str, set[str]] = field(default_factory=dict)  # doc_id → facts of unacknowledged replacements
    deleted: set[str] = field(default_factory=set)
    maybe_deleted: set[str] = field(default_factory=set)
    kills: int = 0
    acknowledged_writes: int = 0


class Round:
    """One life of the server: started, written to, killed."""

    def __init__(self, data: Path, seeds: Path) -> None:
        self.port = free_port()
        env = {**os.environ, "ZHENGCE_DATA": str(data), "ZHENGCE_SEEDS": str(seeds), "HF_HUB_OFFLINE": "1"}
        cmd = [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "the server exited on its own during start"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not answer /healthz within {START_TIMEOUT_S:.0f}s")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)


def _write(api: httpx.Client, rng: random.Random, ledger: Ledger, n: int) -> None:
    """One write: mostly uploads, some replacements and deletes of acknowledged documents."""
    live = sorted(set(ledger.texts) - ledger.deleted - ledger.maybe_deleted)
    roll = rng.random()
    if live and roll < 0.15:
        doc_id = rng.choice(live)
        ledger.maybe_deleted.add(doc_id)
        if api.delete(f"/api/documents/{doc_id}").status_code == 200:
            ledger.deleted.add(doc_id)
            ledger.acknowledged_writes += 1
        return
    if live and roll < 0.35:
        doc_id = rng.choice(live)
        ledger.maybe.setdefault(doc_id, set()).add(_fact(n))
        reply = api.put(f"/api/documents/{doc_id}", files=[("files", (f"v{n}.txt", _notice(n), "text/plain"))])
        if reply.status_code == 202:
            ledger.maybe[doc_id].discard(_fact(n))
            ledger.texts[doc_id] = _fact(n)
            ledger.acknowledged_writes += 1
        return
    reply = api.post("/api/documents", files=[("files", (f"n{n}.txt", _notice(n), "text/plain"))])
    if reply.status_code == 202:
        [result] = reply.json()
        assert result["status"] == "received" and not result["duplicate"], result
        ledger.texts[result["doc_id"]] = _fact(n)
        ledger.acknowledged_writes += 1


def _all_documents(url: str) -> list[dict[str, object]]:
    """Every document of the list, page after page."""
    docs: list[dict[str, object]] = []
    while True:
        page = httpx.get(f"{url}/api/documents", params={"offset": len(docs), "limit": 500}, timeout=30)
        docs += page.json()
        if len(docs) >= int(page.headers["X-Total-Count"]):
            return docs


def _settle(url: str) -> list[dict[str, object]]:
    """The document list once nothing is waiting to be indexed."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        docs = _all_documents(url)
        if all(d["status"] in ("indexed", "failed") for d in docs):
            return docs
        time.sleep(0.5)
    raise AssertionError("documents still waiting to be indexed")


@pytest.mark.model
def test_every_acknowledged_write_survives_repeated_sigkills_of_the_server(tmp_path: Path, repo_seeds: Path) -> None:
    rng, ledger, n = random.Random(SEED), Ledger(), 0
    data = tmp_path / "data"
    for _ in range(KILLS):
        server = Round(data, repo_seeds)
        server.wait_ready()
        killer = threading.Timer(rng.uniform(0.2, 2.5), server.kill)
        killer.start()
        with httpx.Client(base_url=server.url, timeout=30) as api:
            while server.proc.poll() is None:
                n += 1
                try:
                    _write(api, rng, ledger, n)
                except httpx.TransportError:
                    break  # killed mid-request: the ledger says what may or may not have landed
        killer.join()
        server.kill()
        ledger.kills += 1

    final = Round(data, repo_seeds)
    try:
        final.wait_ready()
        docs = {str(d["doc_id"]): d for d in _settle(final.url)}
        with httpx.Client(base_url=final.url, timeout=30) as api:
            for doc_id, fact in ledger.texts.items():
                if doc_id in ledger.deleted:
                    assert doc_id not in docs and api.get(f"/api/documents/{doc_id}").status_code == 404
                    continue
                if doc_id in ledger.maybe_deleted and doc_id not in docs:
                    continue  # a delete whose reply the kill lost may have landed
                assert docs[doc_id]["status"] == "indexed", docs[doc_id]
                text = api.get(f"/api/documents/{doc_id}").json()["text"]
                assert fact in text or any(f in text for f in ledger.maybe.get(doc_id, ())), (doc_id, fact)
            health = api.get("/healthz").json()
        titles = [d["title"] for d in docs.values()]
        assert len(titles) == len(set(titles)), "a document is stored twice"
        indexed = [d for d in docs.values() if d["status"] == "indexed"]
        assert health["documents"] == len(indexed)
        assert ledger.kills == KILLS and ledger.acknowledged_writes >= KILLS  # the loop did write under fire
        logger.info(
            "crash loop: %d kills, %d acknowledged writes (%d documents, %d deleted), %d indexed at the end, 0 lost",
            ledger.kills, ledger.acknowledged_writes, len(ledger.texts), len(ledger.deleted), len(indexed),
        )  # fmt: skip
    finally:
        final.kill()
