"""Compare chunk sizes and tokenizers on the evals: ``python -m evals.sweep``.

Chunk-level hit rates favour long chunks (a long chunk contains the answer more often), so the
choice is made on the answer's first citation, a sentence-level quote whatever the chunk size.
Abstention is switched off so that every question is judged.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from evals.__main__ import DEFAULT_BUILD, DRCD_DEFAULT, REPO, configure_logging


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from evals import corpus, dataset, summary
    from evals import run as runner
    from ingest.config import BuildConfig, ChunkConfig
    from ingest.embed import SentenceEmbedder
    from retriever.config import Abstention, load_config

    embedder = SentenceEmbedder(args.embedder)
    config = replace(load_config(), abstention=Abstention())
    docs, questions = dataset.read_drcd(args.drcd)
    _, test_q = dataset.split_by_doc(questions)
    rows = []
    for tokenizer in args.tokenizers:
        for size in args.sizes:
            cfg = BuildConfig(chunk=ChunkConfig(max_chars=size), embedder=args.embedder, tokenizer=tokenizer)
            tag = f"{args.embedder}-{tokenizer}-{size}"
            seed = corpus.seed_retriever(args.data / f"seed-{tag}", args.seeds, cfg, embedder, config)
            drcd = corpus.corpus_retriever(args.data / f"drcd-{tag}", docs, cfg, embedder, config)
            seed_cases = [c for c in dataset.load_eval_set(dataset.EVAL_SET, seed.docs) if c.answerable]
            drcd_cases = dataset.drcd_cases(test_q[: args.questions], docs)
            row: dict[str, Any] = {"tokenizer": tokenizer, "max_chars": size}
            for name, retriever, cases in (("seed", seed, seed_cases), ("drcd", drcd, drcd_cases)):
                m = summary.summarize(runner.evaluate(retriever, cases))
                row[name] = {
                    k: m[k]
                    for k in (
                        "hit@1",
                        "mrr",
                        "answer_correct",
                        "chunk_mrr_lexical",
                        "chunk_mrr_dense",
                        "chunk_mrr_fused",
                    )
                }
            logging.getLogger("evals.sweep").info("%s", row)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the sweep and print one JSON row per configuration."""
    p = argparse.ArgumentParser(prog="python -m evals.sweep", description=__doc__)
    p.add_argument("--data", type=Path, default=REPO / "var" / "evals")
    p.add_argument("--seeds", type=Path, default=REPO / "seeds")
    p.add_argument("--drcd", type=Path, default=DRCD_DEFAULT)
    p.add_argument("--embedder", default=DEFAULT_BUILD.embedder)
    p.add_argument("--tokenizers", nargs="+", default=["char12", "word", "word+char12"])
    p.add_argument("--sizes", nargs="+", type=int, default=[100, 150, 200, 300])
    p.add_argument("--questions", type=int, default=1000, help="DRCD test-split questions per configuration")
    args = p.parse_args(argv)
    configure_logging()
    logging.getLogger("ingest").setLevel(logging.WARNING)
    for row in run(args):
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
