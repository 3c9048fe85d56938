"""Answer latency of this checkout against another revision, in one run: ``make bench-compare BASE=rev``.

Each side is a worker process that imports its own checkout's code (``PYTHONPATH``), opens the
seed and DRCD indexes in a data directory of its own (built on the first pass) and times
in-process asks of the same questions. The sides alternate ``--pairs`` times so that the
machine's noise falls on both; the report is each side's median p50 / p95 and the ratio new / base.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DRCD = REPO.parent / "shared" / "data" / "drcd" / "dev.jsonl"


def worker(data: Path, drcd_path: Path, n_questions: int, rounds: int) -> dict[str, Any]:
    """Runs inside a checkout's own code: latency of ``Retriever.ask`` on the seed and on DRCD."""
    from evals import bench, dataset
    from evals.corpus import corpus_retriever, seed_retriever
    from ingest.config import BuildConfig
    from ingest.embed import SentenceEmbedder
    from retriever.config import load_config

    cfg = BuildConfig()
    embedder, config = SentenceEmbedder(cfg.embedder), load_config()
    # Read here, not through evals.bench.seed_questions: the worker runs the base revision's code,
    # which may not have it.
    seed_questions = [
        json.loads(line)["question"] for line in dataset.EVAL_SET.read_text(encoding="utf-8").splitlines()
    ]
    docs, drcd = dataset.read_drcd(drcd_path)
    seed = seed_retriever(data / "seed", REPO / "seeds", cfg, embedder, config)
    corpus = corpus_retriever(data / "drcd", docs, cfg, embedder, config)
    return {
        "code": str(Path(bench.__file__).resolve().parents[1]),
        "seed": bench.bench_ask(seed.ask, seed_questions, rounds),
        "drcd": bench.bench_ask(corpus.ask, [q.question for q in drcd[:n_questions]], rounds),
    }


def _run_side(checkout: Path, data: Path, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable, "-P", __file__, "--worker", "--data", str(data),
        "--drcd", str(args.drcd), "--questions", str(args.questions), "--rounds", str(args.rounds),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(checkout), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def compare(base: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Alternate base and this checkout ``args.pairs`` times; medians of each side's p50 and p95."""
    sides = {"base": base, "new": REPO}
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory(prefix="zhengce-compare-") as tmp:
        for _ in range(args.pairs):
            for side, checkout in sides.items():
                runs[side].append(_run_side(checkout, Path(tmp) / side, args))
    out: dict[str, Any] = {"code": {side: runs[side][0]["code"] for side in sides}, "pairs": args.pairs}
    for corpus in ("seed", "drcd"):
        row: dict[str, Any] = {}
        for side in sides:
            for stat in ("p50_ms", "p95_ms"):
                row[f"{side}_{stat}"] = round(statistics.median(r[corpus][stat] for r in runs[side]), 2)
        row["ratio_p50"] = round(row["new_p50_ms"] / row["base_p50_ms"], 2)
        row["ratio_p95"] = round(row["new_p95_ms"] / row["base_p95_ms"], 2)
        out[corpus] = row
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the comparison (or, with ``--worker``, one side's figures) as JSON."""
    p = argparse.ArgumentParser(prog="python -m evals.compare", description=__doc__)
    p.add_argument("base", type=Path, nargs="?", help="a checkout of the revision to compare against")
    p.add_argument("--drcd", type=Path, default=DRCD)
    p.add_argument("--questions", type=int, default=300, help="DRCD questions per pass")
    p.add_argument("--rounds", type=int, default=3, help="passes over the questions per worker")
    p.add_argument("--pairs", type=int, default=3, help="base/new alternations")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        result = worker(args.data, args.drcd, args.questions, args.rounds)
    elif args.base is None:
        p.error("the base checkout is required")
    else:
        result = compare(args.base.resolve(), args)
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
