"""The scale benchmark (not a test): ``make bench-scale`` (sizes 20k and 100k chunks; ``SIZES=... 1000000`` for more).

Each library is built from real text in ``../shared/data``: every national and provincial report, the PDF,
and the DRCD and CMRC paragraphs as text files — about 28k chunks, embedded by the real model (bulk
ingest is timed here with one process and with one per core). Larger libraries add recombined copies
of the text files: each copy rotates a document's sentences by the copy's number and names the copy in
its title, so its chunks are new text; their vectors are **drawn from real ones** (a real vector of
the same document, plus Gaussian noise, renormalised) and put in the embedding cache, because embedding
a million chunks on two cores takes hours. Lexical statistics are those of the recombined real text.

Measured per size, through a real server (``zhengce serve``) unless said: build time, disk, cold start,
memory (RSS and PSS of every server process), ``POST /api/ask`` p50/p95 and questions per second at 1 and
4 clients with one worker and with one per core, adding one small document until a question cites it
(median of several), whether a delete is hidden at once, the p95 of questions while a writer uploads
against idle, adding one document in-process (``ensure_index``, its embedding time apart), HNSW recall@10
against exact search on the real vectors. The report goes to ``evals/reports/scale.json`` and the plot
of latency and add-one time against size to ``evals/reports/scale.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from evals.bench import REPO, ask_until, bench_add_library, disk_mb, latency_stats, run_for, seed_questions, served

logger = logging.getLogger("evals.bench_scale")

SHARED = REPO.parent / "shared" / "data"
WORK = REPO / "var" / "bench-scale"
REPORTS = REPO / "evals" / "reports"
NOISE = 0.35  # noise norm added to a unit vector before renormalising: cosine to its real vector ≈ 0.94
_SENTENCE = re.compile(r"(?<=[。！？；\n])")


def real_files() -> Iterator[tuple[str, bytes]]:
    """The shared documents as staff would upload them: reports and the PDF as they are, paragraphs as .txt."""
    for folder in ("gov_work_reports", "provincial_reports_2025_docx", "pdf_sample"):
        for path in sorted((SHARED / folder).iterdir()):
            if path.suffix in (".txt", ".docx", ".pdf"):
                yield path.name, path.read_bytes()
    for name in ("drcd/dev.jsonl", "cmrc2018/dev.jsonl", "cmrc2018/trial.jsonl"):
        seen: set[str] = set()
        for line in (SHARED / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["context_id"] not in seen:
                seen.add(row["context_id"])
                title = f"{row['title']}\n" if row.get("title") else ""
                yield f"{name.split('/')[0]}-{row['context_id']}.txt", (title + row["context"]).encode("utf-8")


def recombined(name: str, data: bytes, copy: int) -> tuple[str, bytes] | None:
    """Copy ``copy`` of a text file, named ``copy<copy>-<name>``: its title marked as that copy and its
    sentences rotated by ``copy``; None for other files and texts of one sentence."""
    if not name.endswith(".txt"):
        return None
    first, _, rest = data.decode("utf-8-sig").partition("\n")
    title, body = (first, rest) if rest.strip() else ("", first)
    sentences = [s for s in _SENTENCE.split(body) if s.strip()]
    if len(sentences) < 2:
        return None
    k = copy % len(sentences) or 1
    head = f"{title}（汇编本{copy}）\n" if title else f"（汇编本{copy}）"
    return f"copy{copy}-{name}", (head + "".join(sentences[k:] + sentences[:k])).encode("utf-8")


def original_name(filename: str) -> str:
    """The file a recombined copy was made from (the name itself for a real file)."""
    return re.sub(r"^copy\d+-", "", filename)


def _drawn_vectors(store: Any, model: str, rng: np.random.Generator) -> int:
    """Give every chunk without a cached vector one drawn from a real vector of the file it was made from."""
    from ingest.store import text_sha256

    origin = {s.doc_id: original_name(s.filename) for s in store.statuses()}
    chunks = store.chunks()
    cached = store.cached_vectors(model, {text_sha256(c.context) for _, c in chunks})
    real: dict[str, list[np.ndarray]] = {}
    missing: list[tuple[str, str]] = []
    for _, c in chunks:
        key = text_sha256(c.context)
        if key in cached:
            real.setdefault(origin[c.doc_id], []).append(cached[key])
        else:
            missing.append((key, origin[c.doc_id]))
    pool = [v for vs in real.values() for v in vs]
    items = []
    for key, name in missing:
        own = real.get(name) or pool
        base = own[int(rng.integers(len(own)))]
        noise = rng.standard_normal(base.shape).astype(np.float32)
        v = base + NOISE * noise / np.linalg.norm(noise)
        items.append((key, (v / np.linalg.norm(v)).astype(np.float32)))
    for i in range(0, len(items), 10_000):
        store.cache_vectors(model, items[i : i + 10_000])
    return len(items)


def bulk_ingest(workers: int) -> dict[str, Any]:
    """``zhengce add`` of the real files into a fresh data directory with ``workers`` embedding processes
    (:func:`evals.bench.bench_add_library`: the add, then the same add again, unchanged)."""
    src = WORK / "real-files"
    if not src.exists():
        src.mkdir(parents=True)
        for name, data in real_files():
            (src / name).write_bytes(data)
    target = WORK / f"bulk-{workers}"
    shutil.rmtree(target, ignore_errors=True)
    env = {"ZHENGCE_SEEDS": str(REPO / "seeds"), "ZHENGCE_EMBED_WORKERS": str(workers)}
    try:
        return {"workers": workers, **bench_add_library(target, [src], env)}
    finally:
        shutil.rmtree(target, ignore_errors=True)


def build_library(size: int, smaller: Path | None) -> tuple[Path, dict[str, Any]]:
    """A data directory of at least ``size`` chunks and its build figures: reused when built before, else
    grown from a copy of the ``smaller`` one (its embeddings included)."""
    from ingest.build import UpdateOptions, embed_with_cache, ensure_index
    from ingest.config import BuildConfig, DataPaths
    from ingest.embed import SentenceEmbedder
    from ingest.library import Library

    paths = DataPaths(WORK / f"library-{size}")
    if not paths.root.exists() and smaller is not None:
        shutil.copytree(smaller, paths.root)
    cfg = BuildConfig()
    embedder = SentenceEmbedder(cfg.embedder)
    rng = np.random.default_rng(size)
    library = Library(paths, cfg.chunk)
    started = time.perf_counter()
    try:
        files = list(real_files())
        copy = 0
        list(library.receive_each(files))  # identical bytes again are no-ops: a library built before is reused
        library.process_pending()
        while sum(s.n_chunks for s in library.store.statuses()) < size:  # a whole copy at a time
            copy += 1  # a copy already there (a smaller library grown before) is received as duplicates
            list(library.receive_each([c for n, d in files if (c := recombined(n, d, copy)) is not None]))
            library.process_pending()
        copies = {s.doc_id for s in library.store.statuses() if s.filename != original_name(s.filename)}
        if copies:  # the real chunks are embedded first, so the copies' vectors are drawn from real ones
            real = [c for _, c in library.store.chunks() if c.doc_id not in copies]
            embed_with_cache(library.store, embedder, real, progress=True, workers=os.cpu_count() or 1)
            _drawn_vectors(library.store, embedder.info.name, rng)
    finally:
        library.close()
    manifest = ensure_index(paths, None, cfg, embedder, UpdateOptions(progress=True, workers=os.cpu_count() or 1))
    return paths.root, {
        "chunks": manifest.n_chunks, "documents": manifest.n_docs,
        "recombined_copies": copy, "drawn_vectors": len(copies) > 0,
        "build_s": round(time.perf_counter() - started, 1), "index_disk_mb": disk_mb(paths.index),
        "segments": len(manifest.segments),
    }  # fmt: skip


def _load(url: str, questions: list[str], clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` clients asking for ``seconds``: questions per second, errors, latency."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    run_for(seconds, [partial(ask_until, url, questions, out, errors, first=7 * i) for i, out in enumerate(latencies)])
    samples = [x for per_client in latencies for x in per_client]
    qps = round(len(samples) / seconds, 1)
    return {"clients": clients, "qps": qps, "errors": len(errors), **latency_stats(samples)}


def _add_one(url: str, tag: int) -> tuple[float, bool]:
    """Seconds from uploading a small notice until a question cites it; whether deleting it hides it at once."""
    import httpx

    text = f"关于第{tag}号专项补贴的通知\n各区县：\n第{tag}号专项补贴标准为每人每月{tag % 900 + 100}元。\n"
    question = {"question": f"第{tag}号专项补贴标准是多少"}
    with httpx.Client(base_url=url, timeout=120) as http:
        started = time.perf_counter()
        reply = http.post("/api/documents", files=[("files", (f"t{tag}.txt", text.encode(), "text/plain"))])
        doc_id = reply.raise_for_status().json()[0]["doc_id"]
        while not any(c["doc_id"] == doc_id for c in http.post("/api/ask", json=question).json()["citations"]):
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        http.delete(f"/api/documents/{doc_id}").raise_for_status()
        answer = http.post("/api/ask", json=question).json()
        hidden = all(c["doc_id"] != doc_id for c in answer["citations"] + answer["related"])
    return seconds, hidden


def _memory_mb(proc: Any) -> dict[str, float]:
    import psutil

    family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    rss = sum(p.memory_info().rss for p in family)
    pss = sum(p.memory_full_info().pss for p in family)
    return {"rss_mb": round(rss / 2**20, 1), "pss_mb": round(pss / 2**20, 1)}


def _during_writes(url: str, questions: list[str], seconds: float) -> dict[str, Any]:
    """p95 of 4 clients while one writer keeps uploading, against the same idle."""
    adds: list[float] = []

    def writer(stop: threading.Event) -> None:
        tag = 10**7
        while not stop.is_set():
            tag += 1
            adds.append(_add_one(url, tag)[0])

    idle = _load(url, questions, 4, seconds)
    stop = threading.Event()
    thread = threading.Thread(target=writer, args=(stop,))
    thread.start()
    busy = _load(url, questions, 4, seconds)
    stop.set()
    thread.join()
    ratio = round(busy["p95_ms"] / idle["p95_ms"], 2) if idle["p95_ms"] else None
    return {"idle": idle, "writing": busy, "adds_during": len(adds), "p95_ratio": ratio}


def measure_served(data: Path, questions: list[str], seconds: float) -> dict[str, Any]:
    """Everything measured through ``zhengce serve``, with one worker and with one per core."""
    env = {"ZHENGCE_DATA": str(data), "ZHENGCE_SEEDS": str(REPO / "seeds"), "HF_HUB_OFFLINE": "1"}
    out: dict[str, Any] = {}
    for workers in sorted({1, os.cpu_count() or 1}):
        with served({**env, "ZHENGCE_WORKERS": str(workers)}) as (proc, url, start_s):
            for q in questions[:20]:  # every worker warms up on some of them
                _load(url, [q], 1, 0.05)
            run: dict[str, Any] = {"cold_start_s": round(start_s, 1)}
            run["load"] = [_load(url, questions, clients, seconds) for clients in (1, 4)]
            run["qps_ratio_4_to_1"] = round(run["load"][1]["qps"] / run["load"][0]["qps"], 2)
            adds = [_add_one(url, 2 * 10**7 + i) for i in range(5)]
            run["add_one_s"] = round(statistics.median(a for a, _ in adds), 2)
            run["add_one_max_s"] = round(max(a for a, _ in adds), 2)
            run["delete_hidden_at_once"] = all(h for _, h in adds)
            run["during_writes"] = _during_writes(url, questions, seconds)
            run["memory"] = _memory_mb(proc)
        out[f"workers_{workers}"] = run
    return out


def add_one_in_process(data: Path) -> dict[str, float]:
    """``ensure_index`` after one small upload, and the part of it spent embedding the document."""
    from ingest import build
    from ingest.config import BuildConfig, DataPaths
    from ingest.embed import SentenceEmbedder
    from ingest.library import Library

    paths, cfg = DataPaths(data), BuildConfig()
    embedder = SentenceEmbedder(cfg.embedder)
    build.ensure_index(paths, None, cfg, embedder)
    tag = int(time.time())
    text = f"关于第{tag}号事项的通知\n第{tag}号事项的办理期限为十个工作日。\n".encode()
    library = Library(paths, cfg.chunk)
    try:
        doc_id = library.receive(f"inproc-{tag}.txt", text).status.doc_id
    finally:
        library.close()
    embedding = 0.0
    real = embedder.embed_chunks

    def timed(texts: Any) -> Any:
        nonlocal embedding
        started = time.perf_counter()
        try:
            return real(texts)
        finally:
            embedding += time.perf_counter() - started

    embedder.embed_chunks = timed  # type: ignore[method-assign]
    started = time.perf_counter()
    build.ensure_index(paths, None, cfg, embedder)
    total = time.perf_counter() - started
    library = Library(paths, cfg.chunk)
    try:
        library.delete(doc_id)
    finally:
        library.close()
    build.ensure_index(paths, None, cfg, embedder)
    return {
        "seconds": round(total, 3),
        "embedding_s": round(embedding, 3),
        "without_embedding_s": round(total - embedding, 3),
    }


def hnsw_recall(data: Path, questions: list[str]) -> dict[str, Any]:
    """Recall@10 and latency of each HNSW segment against exact search over its own vectors, for the
    given questions and 200 DRCD ones."""
    from ingest.embed import SentenceEmbedder
    from ingest.index_store import read_index
    from retriever.dense import DenseSearcher

    index = read_index(Path(data) / "index")
    embedder = SentenceEmbedder(index.manifest.embedder.name)
    drcd = [
        json.loads(line)["question"]
        for line in (SHARED / "drcd" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    queries = np.stack([embedder.embed_query(q) for q in [*questions[:200], *drcd[:600:3]]])
    out = []
    for segment, live in zip(index.segments, index.live, strict=True):
        if segment.dense is None:
            continue
        searcher = DenseSearcher([segment], [live])
        found, approx_ms, exact_ms = 0, [], []
        for q in queries:
            started = time.perf_counter()
            rows, _ = searcher.search(q, 10)
            approx_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            exact = np.argsort(-np.where(live, segment.vectors @ q, -np.inf))[:10]
            exact_ms.append((time.perf_counter() - started) * 1000)
            found += len(set(rows.tolist()) & set(exact.tolist()))
        out.append({
            "chunks": segment.n_rows, "recall_at_10": round(found / (10 * len(queries)), 4),
            "hnsw_p50_ms": round(statistics.median(approx_ms), 2),
            "exact_p50_ms": round(statistics.median(exact_ms), 2),
        })  # fmt: skip
    return {"segments": out}


def plot(report: dict[str, Any], path: Path) -> None:
    """Latency (p50/p95 at one client) and add-one time against library size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(report["sizes"], key=lambda r: r["library"]["chunks"])
    sizes = [r["library"]["chunks"] for r in rows]
    one = [r["served"]["workers_1"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(sizes, [r["load"][0]["p50_ms"] for r in one], "o-", label="p50, 1 client")
    left.plot(sizes, [r["load"][0]["p95_ms"] for r in one], "o-", label="p95, 1 client")
    left.plot(sizes, [r["load"][1]["p95_ms"] for r in one], "o--", label="p95, 4 clients")
    left.set(xscale="log", xlabel="chunks", ylabel="ms", title="POST /api/ask latency (1 worker)")
    left.legend()
    right.plot(sizes, [r["add_one_s"] for r in one], "o-", label="through the server")
    right.plot(
        sizes, [r["in_process_add_one"]["without_embedding_s"] for r in rows], "o--", label="in-process, w/o embedding"
    )
    right.set(xscale="log", xlabel="chunks", ylabel="s", title="add one document until searchable")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark for each size, write the report and the plot, and print the report."""
    p = argparse.ArgumentParser(prog="python -m evals.bench_scale", description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000], help="library sizes in chunks")
    p.add_argument("--seconds", type=float, default=15.0, help="length of each load phase")
    p.add_argument("--no-bulk", action="store_true", help="skip the bulk-ingest timing (two full embeddings)")
    p.add_argument("--build-only", action="store_true", help="build (or grow) the libraries, measure nothing")
    p.add_argument("--out", type=Path, default=REPORTS / "scale.json")
    args = p.parse_args(argv)
    from evals.__main__ import configure_logging

    configure_logging(logging.INFO)
    questions = seed_questions()
    report: dict[str, Any] = {"machine": {"cores": os.cpu_count()}, "sizes": []}
    if not args.no_bulk and not args.build_only:
        report["bulk_ingest"] = [bulk_ingest(w) for w in (1, os.cpu_count() or 1)]
        report["bulk_ingest_ratio"] = round(
            report["bulk_ingest"][-1]["chunks_per_s"] / report["bulk_ingest"][0]["chunks_per_s"], 2
        )
    data: Path | None = None
    for size in sorted(args.sizes):
        data, library = build_library(size, data)
        row = {"target": size, "library": library}
        if args.build_only:
            logger.info("size %d built: %s", size, json.dumps(library))
            continue
        row["in_process_add_one"] = add_one_in_process(data)
        row["hnsw"] = hnsw_recall(data, questions)
        row["served"] = measure_served(data, questions, args.seconds)
        report["sizes"].append(row)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        logger.info("size %d done: %s", size, json.dumps(row, ensure_ascii=False))
    if report["sizes"]:
        plot(report, args.out.with_suffix(".png"))
    json.dump(report, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
