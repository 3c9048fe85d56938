"""Readers during writes (a benchmark, not a test): ``make bench-writes``.

A real server on a fresh data directory built from ``seeds/``. First 8 readers ask the seed eval
questions for ``--seconds`` with nobody writing (idle), then the same 8 readers ask while one writer
uploads small notices and deletes every fifth one for as long again. Reported: requests, errors
and p50/p95/p99 of ``POST /api/ask`` in both phases, and the writes done; written to
``evals/reports/readers_during_writes.json`` and printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from evals.bench import REPO, ask_until, latency_stats, run_for, seed_questions, served

READERS = 8


def _write(url: str, stop: threading.Event, done: dict[str, int], errors: list[str]) -> None:
    import httpx

    with httpx.Client(base_url=url, timeout=120) as client:
        n, ids = 0, []
        while not stop.is_set():
            n += 1
            text = f"关于第{n}号事项的通知\n各有关单位：\n第{n}号事项的办理期限为{n % 28 + 1}日。\n特此通知。\n"
            reply = client.post("/api/documents", files=[("files", (f"n{n}.txt", text.encode(), "text/plain"))])
            if reply.status_code != 202:
                errors.append(f"upload {reply.status_code}")
                continue
            ids.append(reply.json()[0]["doc_id"])
            done["uploads"] += 1
            if n % 5 == 0:
                if client.delete(f"/api/documents/{ids.pop(0)}").status_code == 200:
                    done["deletes"] += 1
                else:
                    errors.append("delete")


def _phase(url: str, questions: list[str], seconds: float, writing: bool) -> dict[str, Any]:
    latencies: list[list[float]] = [[] for _ in range(READERS)]
    errors: list[str] = []
    done = {"uploads": 0, "deletes": 0}
    jobs: list[Callable[[threading.Event], None]] = [
        partial(ask_until, url, questions, out, errors) for out in latencies
    ]
    if writing:
        jobs.append(lambda stop: _write(url, stop, done, errors))
    run_for(seconds, jobs)
    samples = [x for per_reader in latencies for x in per_reader]
    stats = {k: round(v, 1) for k, v in latency_stats(samples).items() if k != "n"}
    return {"requests": len(samples), "errors": len(errors), "first_errors": errors[:3], **stats} | (
        {"writes": done} if writing else {}
    )


def run(seconds: float) -> dict[str, Any]:
    """Both phases on one server; the ratio of p99 while writing to idle."""
    questions = seed_questions()
    with tempfile.TemporaryDirectory(prefix="zhengce-rw-") as tmp:
        env = {"ZHENGCE_DATA": tmp, "ZHENGCE_SEEDS": str(REPO / "seeds"), "HF_HUB_OFFLINE": "1"}
        with served(env) as (_, url, _start):
            idle = _phase(url, questions, seconds, writing=False)
            writing = _phase(url, questions, seconds, writing=True)
    ratio = round(writing["p99_ms"] / idle["p99_ms"], 2) if idle["p99_ms"] else None
    return {"readers": READERS, "seconds": seconds, "idle": idle, "writing": writing, "p99_ratio": ratio}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, write its report and print it."""
    p = argparse.ArgumentParser(prog="python -m evals.bench_writes", description=__doc__)
    p.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    p.add_argument("--out", type=Path, default=REPO / "evals" / "reports" / "readers_during_writes.json")
    args = p.parse_args(argv)
    result = run(args.seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
