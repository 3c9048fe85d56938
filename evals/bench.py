"""Benchmarks (not tests): ingest throughput, /api/ask latency in-process and over HTTP, start time, RSS.

``python -m evals.bench`` prints one JSON object with medians and p95s over repeated runs, on the
seed corpus and on DRCD's 1,000 paragraphs. Every figure is measured on this machine, now; the
README quotes a run of it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
logger = logging.getLogger("evals.bench")


def latency_stats(samples_ms: Sequence[float]) -> dict[str, float]:
    """Count, median, p95 and p99 of latencies in milliseconds."""
    ordered = sorted(samples_ms) or [0.0]
    return {
        "n": len(samples_ms),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 2),
    }


def disk_mb(path: Path) -> float:
    """The size of a file, or of every file below a directory, in MB."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


def seed_questions() -> list[str]:
    """The questions of the seed eval set, in order."""
    from evals import dataset

    return [json.loads(line)["question"] for line in dataset.EVAL_SET.read_text(encoding="utf-8").splitlines()]


def ask_until(
    url: str, questions: Sequence[str], out: list[float], errors: list[str], stop: threading.Event, first: int = 0
) -> None:
    """One client asking ``questions`` in turn from ``first`` on, until ``stop``: each latency in ``out`` (ms),
    each failure in ``errors``."""
    import httpx

    with httpx.Client(base_url=url, timeout=60) as client:
        i = first
        while not stop.is_set():
            started = time.perf_counter()
            try:
                reply = client.post("/api/ask", json={"question": questions[i % len(questions)]})
                if reply.status_code != 200:
                    errors.append(f"{reply.status_code}: {reply.text[:200]}")
            except Exception as e:  # a benchmark counts every failure, whatever it is
                errors.append(repr(e))
            out.append((time.perf_counter() - started) * 1000)
            i += 1


def run_for(seconds: float, jobs: Sequence[Callable[[threading.Event], None]]) -> None:
    """Run each job in a thread of its own for ``seconds``, then set the event they were given and wait for them."""
    stop = threading.Event()
    threads = [threading.Thread(target=job, args=(stop,)) for job in jobs]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def bench_ingest(build: Callable[[Path], Any], repeats: int) -> dict[str, float]:
    """Build an index from scratch ``repeats`` times in fresh directories (no embedding cache)."""
    seconds, chunks = [], 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            manifest = build(Path(tmp))
            seconds.append(time.perf_counter() - started)
            chunks = manifest.n_chunks
    median = statistics.median(seconds)
    return {"chunks": chunks, "runs": repeats, "median_s": round(median, 2), "chunks_per_s": round(chunks / median, 1)}


def bench_ask(ask: Callable[[str], Any], questions: Sequence[str], rounds: int) -> dict[str, float]:
    """Latency of ``ask`` over every question, ``rounds`` times (the first call is a warm-up)."""
    ask(questions[0])
    return latency_stats([_timed(partial(ask, q)) for _ in range(rounds) for q in questions])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], str, float]]:
    """``zhengce serve`` with ``env`` on a free port: its process, URL and start-up time, stopped after."""
    import httpx

    port = free_port()
    cmd = [sys.executable, "-m", "server.cli", "serve", "--port", str(port)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=REPO, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=30).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
            if time.perf_counter() - started > 300:
                raise RuntimeError("the server did not start within 300 s")
        yield proc, url, time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def bench_http(env: dict[str, str], questions: Sequence[str], rounds: int) -> dict[str, Any]:
    """Start ``zhengce serve`` on an index that already exists; time start-up, questions, and RSS."""
    import httpx
    import psutil

    with served(env) as (proc, url, start_s), httpx.Client(base_url=url, timeout=30) as client:

        def post(question: str) -> Any:
            return client.post("/api/ask", json={"question": question}).raise_for_status()

        latency = bench_ask(post, questions, rounds)
        rss = psutil.Process(proc.pid).memory_info().rss
    return {"start_s": round(start_s, 2), "ask": latency, "server_rss_mb": round(rss / 2**20, 1)}


def bench_add_library(data_dir: Path, sources: Sequence[Path], env: dict[str, str]) -> dict[str, Any]:
    """``zhengce add`` of every shared document into a fresh data directory, then again unchanged.

    Each run is its own process, so its peak RSS is measured alone (``RUSAGE_CHILDREN`` keeps the
    largest child's peak; the first run is the larger one).
    """
    cmd = [sys.executable, "-m", "server.cli", "add", "--data", str(data_dir), *map(str, sources)]
    runs = []
    for _ in range(2):
        started = time.perf_counter()
        done = subprocess.run(cmd, env={**os.environ, **env}, cwd=REPO, capture_output=True, text=True, check=False)
        runs.append(time.perf_counter() - started)
        if done.returncode not in (0, 1):
            raise RuntimeError(f"zhengce add failed: {done.stderr[-2000:]}")
    summary = json.loads(done.stdout[done.stdout.index("{\n") :])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "documents": summary["documents"],
        "chunks": summary["chunks"],
        "first_add_s": round(runs[0], 1),
        "chunks_per_s": round(summary["chunks"] / runs[0], 1),
        "unchanged_re_add_s": round(runs[1], 1),
        "peak_rss_mb": round(peak, 1),
        "failed": len(summary["failed"]),
    }


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from evals import dataset
    from evals.corpus import corpus_retriever, seed_retriever
    from ingest.build import build_index, ensure_index, sync_documents
    from ingest.config import BuildConfig, DataPaths
    from ingest.embed import SentenceEmbedder
    from ingest.store import Store
    from retriever.config import load_config

    cfg = BuildConfig()
    embedder, config = SentenceEmbedder(cfg.embedder), load_config()
    questions = seed_questions()
    docs, drcd = dataset.read_drcd(args.drcd)
    drcd_questions = [q.question for q in drcd[: args.questions]]

    def build_drcd(tmp: Path) -> Any:
        store = Store(DataPaths(tmp).db)
        sync_documents(store, docs.values(), cfg.chunk, "benchmark")
        try:
            return build_index(store, DataPaths(tmp).index, cfg, embedder)
        finally:
            store.close()

    out: dict[str, Any] = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]}}
    out["seed"] = {
        "ingest": bench_ingest(lambda tmp: ensure_index(DataPaths(tmp), args.seeds, cfg, embedder), args.repeats)
    }
    out["drcd"] = {"ingest": bench_ingest(build_drcd, max(1, args.repeats // 2))}
    work = Path(tempfile.mkdtemp(prefix="zhengce-bench-"))
    try:
        seed = seed_retriever(work / "seed", args.seeds, cfg, embedder, config)
        out["seed"]["ask_in_process"] = bench_ask(seed.ask, questions, args.rounds)
        corpus = corpus_retriever(work / "drcd", docs, cfg, embedder, config)
        out["drcd"]["ask_in_process"] = bench_ask(corpus.ask, drcd_questions, args.rounds)
        out["in_process_peak_rss_mb"] = _peak_rss_mb()
        out["seed"]["http"] = bench_http(
            {"ZHENGCE_DATA": str(work / "seed"), "ZHENGCE_SEEDS": str(args.seeds)}, questions, args.rounds
        )
        empty_seeds = work / "no-seeds"
        empty_seeds.mkdir()
        (empty_seeds / "manifest.jsonl").write_text("", encoding="utf-8")
        env = {"ZHENGCE_DATA": str(work / "drcd"), "ZHENGCE_SEEDS": str(empty_seeds)}
        out["drcd"]["http"] = bench_http(env, drcd_questions, args.rounds)
        data = args.drcd.parents[1]
        sources = [data / "gov_work_reports", data / "provincial_reports_2025_docx", data / "pdf_sample"]
        env = {"ZHENGCE_SEEDS": str(args.seeds)}
        out["library"] = {"ingest": bench_add_library(work / "library", sources, env)}
        library_env = {**env, "ZHENGCE_DATA": str(work / "library")}
        out["library"]["http"] = bench_http(library_env, questions, args.rounds)
        if not args.skip_engines:
            from evals import bench_engines

            out["engines"] = bench_engines.run(rounds=args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the figures as JSON."""
    p = argparse.ArgumentParser(prog="python -m evals.bench", description=__doc__)
    p.add_argument("--seeds", type=Path, default=REPO / "seeds")
    p.add_argument("--drcd", type=Path, default=REPO.parent / "shared" / "data" / "drcd" / "dev.jsonl")
    p.add_argument("--repeats", type=int, default=3, help="index builds per corpus")
    p.add_argument("--rounds", type=int, default=3, help="passes over the questions")
    p.add_argument("--questions", type=int, default=300, help="DRCD questions per pass")
    p.add_argument(
        "--skip-engines", action="store_true", help="no embedded-vs-Milvus comparison on the ~28k-chunk library"
    )
    args = p.parse_args(argv)
    from evals.__main__ import configure_logging

    configure_logging(logging.WARNING)
    json.dump(run(args), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
