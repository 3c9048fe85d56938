"""The two search engines side by side (a section of ``make bench``): the same library of ~28k chunks (every
document of ``../shared/data``, ``evals.bench_scale.build_library``) searched in the embedded files and in
Milvus (milvus-lite 2.5.1 in process, FLAT vectors), with the same questions asked of both in alternation,
so that their latency ratio is measured in one run on one machine state.

Also measured: moving the library into Milvus (``ZHENGCE_INDEX=milvus zhengce ingest``: every chunk upserted
from the embedding cache, nothing re-embedded), the Milvus process's memory and the disk of each engine.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from evals.bench import disk_mb, latency_stats, seed_questions
from evals.bench_scale import WORK, build_library


def _questions() -> list[str]:
    """The seed set's questions and the library set's (policy questions asked of the reports)."""
    from evals.library import LIBRARY_SET

    library = [json.loads(line)["question"] for line in LIBRARY_SET.read_text(encoding="utf-8").splitlines()]
    return [*seed_questions(), *library]


def _generation_mb(index: Path) -> float:
    """The disk of the current generation's segments (an older one kept beside it is not counted)."""
    from ingest.index_store import segment_dirs

    return round(sum(disk_mb(d) for d in segment_dirs(index)), 1)


def _milvus_rss_mb() -> float:
    """The resident memory of the milvus-lite engine processes this process started."""
    import psutil

    engines = [p for p in psutil.Process().children(recursive=True) if p.name() == "milvus"]
    return round(float(sum(p.memory_info().rss for p in engines)) / 2**20, 1)


def run(size: int = 20_000, rounds: int = 3) -> dict[str, Any]:
    """Latency of both engines on the same library and questions, alternating, and Milvus's costs."""
    from ingest.build import UpdateOptions, ensure_index
    from ingest.config import BuildConfig, DataPaths, EngineConfig
    from ingest.embed import SentenceEmbedder
    from ingest.index_store import current_generation
    from retriever.pipeline import Retriever

    root, built = build_library(size, None)
    milvus = DataPaths(WORK / f"library-{size}-milvus")
    if not milvus.root.exists():  # the database and its embedding cache; the index is moved to Milvus below
        shutil.copytree(root, milvus.root)
    cfg = BuildConfig(engine=EngineConfig(kind="milvus"))
    embedder = SentenceEmbedder(cfg.embedder)
    before = current_generation(milvus.index)
    started = time.perf_counter()
    manifest = ensure_index(milvus, None, cfg, embedder, UpdateOptions(progress=True))
    export_s = time.perf_counter() - started
    engines = {
        "embedded": Retriever.open(DataPaths(root).index, embedder),
        "milvus": Retriever.open(milvus.index, embedder, engine=cfg.engine),
    }
    questions = _questions()
    for retriever in engines.values():
        retriever.ask(questions[0])
    samples: dict[str, list[float]] = {name: [] for name in engines}
    same = 0
    for r in range(rounds):
        for i, question in enumerate(questions):
            order = list(engines) if (i + r) % 2 else list(reversed(engines))
            texts = {}
            for name in order:
                t = time.perf_counter()
                texts[name] = engines[name].ask(question).text
                samples[name].append((time.perf_counter() - t) * 1000)
            same += texts["embedded"] == texts["milvus"]
    stats = {name: latency_stats(s) for name, s in samples.items()}
    return {
        "library": {**built, "chunks": manifest.n_chunks},
        "questions": len(questions) * rounds,
        "ask_in_process": stats,
        "milvus_over_embedded": {
            k: round(stats["milvus"][k] / stats["embedded"][k], 2) for k in ("p50_ms", "p95_ms", "p99_ms")
        },
        "same_answer_text": round(same / (len(questions) * rounds), 3),
        "milvus": {
            "move_in_s": round(export_s, 1),
            "moved_now": manifest.generation != before,  # else the library was in Milvus from an earlier run
            "engine_rss_mb": _milvus_rss_mb(),
            "engine_disk_mb": disk_mb(milvus.root / "milvus.db"),
            "catalog_disk_mb": _generation_mb(milvus.index),
        },
        "embedded": {"index_disk_mb": _generation_mb(DataPaths(root).index)},
    }
