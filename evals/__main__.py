"""``zhengce eval`` / ``python -m evals``: run the eval sets, write the report, and gate on the floors.

Exit codes: 0 all floors met, 1 a metric below its floor, 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.config import BuildConfig

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BUILD = BuildConfig()
SHARED_DATA = REPO.parent / "shared" / "data"
DRCD_DEFAULT = SHARED_DATA / "drcd" / "dev.jsonl"

logger = logging.getLogger("evals")
# How many DRCD dev questions the answer settings are fitted on (all of them would take minutes per setting).
ANSWER_FIT_DRCD = 400


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zhengce eval", description=__doc__)
    p.add_argument("--data", type=Path, default=REPO / "var" / "evals", help="where eval indexes are kept (reused)")
    p.add_argument("--seeds", type=Path, default=REPO / "seeds")
    p.add_argument("--drcd", type=Path, default=DRCD_DEFAULT, help="DRCD dev.jsonl (CC BY-SA 3.0)")
    p.add_argument("--skip-drcd", action="store_true", help="seed set only (the DRCD floors are then not checked)")
    p.add_argument(
        "--shared-data", type=Path, default=SHARED_DATA, help="the shared data the library suite's documents come from"
    )
    p.add_argument(
        "--skip-library", action="store_true", help="no multi-document library suite (its floors are then not checked)"
    )
    p.add_argument("--fit", action="store_true", help="refit dense weight and abstention on the dev splits")
    p.add_argument(
        "--target-precision",
        type=float,
        default=None,
        help="with --fit: wanted precision of answers (default: best F1)",
    )
    p.add_argument("--embedder", default=DEFAULT_BUILD.embedder)
    p.add_argument("--tokenizer", default=DEFAULT_BUILD.tokenizer)
    p.add_argument("--chunk-max-chars", type=int, default=DEFAULT_BUILD.chunk.max_chars)
    p.add_argument("--calibration", type=Path, default=None, help="calibration file to read and, with --fit, write")
    p.add_argument("--report", type=Path, default=REPO / "evals" / "reports")
    p.add_argument("--thresholds", type=Path, default=REPO / "evals" / "thresholds.json")
    p.add_argument("--baseline", type=Path, default=REPO / "evals" / "baseline.json")
    p.add_argument("--write-baseline", action="store_true", help="save this run's metrics as the new baseline")
    return p


def _split_seed(cases: list[Any]) -> tuple[list[Any], list[Any]]:
    """Seed dev/test halves by the parity of the case number (fixed, independent of content)."""
    dev = [c for c in cases if int(c.id.rsplit("-", 1)[1]) % 2 == 1]
    return dev, [c for c in cases if c not in dev]


def _unanswerable(cases: list[Any]) -> list[Any]:
    """The same questions with their own paragraph left out of the index: nothing can answer them."""
    return [
        replace(
            c,
            id=c.id + "-x",
            kind="drcd_unanswerable",
            answerable=False,
            gold=(),
            must_contain=(),
            exclude_doc=c.gold[0].doc_id if c.gold else None,
        )
        for c in cases
    ]


def _library_files(args: argparse.Namespace) -> list[Path] | None:
    """The library suite's files, or None when it is skipped.

    Raises:
        FileNotFoundError: files are missing and ``thresholds.json`` has floors for the suite.
    """
    from evals import library

    if args.skip_library:
        return None
    files = library.library_files(args.shared_data)
    missing = library.missing_files(files)
    if not missing:
        return files
    some = len(missing) < len(files)
    names = ", ".join(str(f) for f in missing) if some else f"{args.shared_data} (the whole corpus)"
    if "library" in json.loads(args.thresholds.read_text(encoding="utf-8")):
        raise FileNotFoundError(
            f"library suite: {names} not found, and {args.thresholds.name} has floors for it; "
            "pass --shared-data DIR or --skip-library"
        )
    logger.warning("library suite skipped: %s not found (pass --shared-data DIR)", names)
    return None


def run(args: argparse.Namespace) -> int:
    from evals import corpus, dataset, fit, library, report
    from evals import run as runner
    from ingest.config import BuildConfig, ChunkConfig
    from ingest.embed import SentenceEmbedder
    from retriever.config import CALIBRATION_PATH, load_config

    try:
        lib_files = _library_files(args)
    except FileNotFoundError as e:
        logger.error("%s", e)
        return 2
    cfg = BuildConfig(
        chunk=ChunkConfig(max_chars=args.chunk_max_chars), embedder=args.embedder, tokenizer=args.tokenizer
    )
    embedder = SentenceEmbedder(cfg.embedder)
    calibration = args.calibration or CALIBRATION_PATH
    config = load_config(calibration)
    tag = f"{cfg.embedder}-{cfg.tokenizer}-{cfg.chunk.max_chars}"
    seed = corpus.seed_retriever(args.data / f"seed-{tag}", args.seeds, cfg, embedder, config)
    seed_cases = dataset.load_eval_set(dataset.EVAL_SET, seed.docs)
    seed_dev, seed_test = _split_seed(seed_cases)
    drcd = None
    drcd_dev: list[Any] = []
    drcd_test: list[Any] = []
    if not args.skip_drcd:
        if not args.drcd.is_file():
            logger.error("DRCD not found at %s; pass --drcd PATH or --skip-drcd", args.drcd)
            return 2
        docs, questions = dataset.read_drcd(args.drcd)
        drcd = corpus.corpus_retriever(args.data / f"drcd-{tag}", docs, cfg, embedder, config)
        dev_q, test_q = dataset.split_by_doc(questions)
        drcd_dev, drcd_test = dataset.drcd_cases(dev_q, docs), dataset.drcd_cases(test_q, docs)
    fitted: dict[str, Any] = {}
    if args.fit:
        corpora = [(seed, seed_dev)] + ([(drcd, drcd_dev)] if drcd is not None else [])
        config, fitted = _fit(args, corpora, fit, runner)
        calibration.write_text(
            json.dumps({**config.to_json(), "fitted_on": fitted}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        logger.info("wrote %s", calibration)
    seed.config = config
    results = {"seed": runner.evaluate(seed, seed_cases)}
    results["seed_test"] = [r for r in results["seed"] if r.case in seed_test]
    if lib_files is not None:
        lib = library.library_retriever(args.data / f"library-{tag}", lib_files, cfg, embedder, config)
        lib_cases = library.load_library_set(library.LIBRARY_SET, lib.docs, lib_files)
        results["library"] = runner.evaluate(lib, lib_cases)
    if drcd is not None:
        drcd.config = config
        results["drcd"] = runner.evaluate(drcd, [*drcd_dev, *drcd_test])
        results["drcd_test_abstain"] = runner.evaluate(drcd, [*drcd_test, *_unanswerable(drcd_test)])
    return _finish(args, results, fitted, runner, report, tag)


def _use(config: Any, corpora: list[tuple[Any, list[Any]]]) -> None:
    for retriever, _ in corpora:
        retriever.config = config


def _fit(
    args: argparse.Namespace, corpora: list[tuple[Any, list[Any]]], fit: Any, runner: Any
) -> tuple[Any, dict[str, Any]]:
    """Fit dense weight, then answer settings, then abstention, each on the dev splits of ``corpora``."""
    names = ["seed_dev", "drcd_dev"][: len(corpora)]
    curves = {name: fit.weight_curve(r, cases) for name, (r, cases) in zip(names, corpora, strict=True)}
    config = replace(corpora[0][0].config, dense_weight=fit.best_weight(list(curves.values())))
    logger.info("dense weight %.2f (MRR@5 by weight: %s)", config.dense_weight, curves)
    _use(config, corpora)
    answer_cfg, answer_score = fit.fit_answer([(r, cases[:ANSWER_FIT_DRCD]) for r, cases in corpora])
    logger.info("answer settings %s (dev score %.3f)", answer_cfg, answer_score)
    config = replace(config, answer=answer_cfg)
    _use(config, corpora)
    data, sizes = [], []
    for i, (retriever, cases) in enumerate(corpora):
        # DRCD questions asked without their own paragraph are the benchmark's unanswerable ones.
        results = runner.evaluate(retriever, [*cases, *(_unanswerable(cases) if i else [])], modes=())
        sizes.append(len(results))
        # Each corpus weighs as much as the other in total, so the small seed set is not drowned.
        data += fit.examples(results, weight=sizes[0] / len(results), corpus=i)
    config = replace(config, abstention=fit.fit_abstention(data, args.target_precision))
    fitted = {
        "date": datetime.now(UTC).date().isoformat(),
        "data": f"seed eval set dev half ({sizes[0]} questions, odd ids)"
        + (
            f" + DRCD dev half ({sizes[1]} questions: each asked with its paragraph and without it)"
            if len(sizes) > 1
            else ""
        ),
        "answer_fit_score": round(answer_score, 4),
        "threshold_rule": f"precision >= {args.target_precision}"
        if args.target_precision
        else "best mean F1 (answerable = positive) over the corpora",
        "mrr_by_dense_weight": {k: {str(w): round(v, 4) for w, v in c.items()} for k, c in curves.items()},
        "index": f"{args.embedder}/{args.tokenizer}/{args.chunk_max_chars}",
    }
    return config, fitted


def _finish(
    args: argparse.Namespace, results: dict[str, Any], fitted: dict[str, Any], runner: Any, report: Any, tag: str
) -> int:
    metrics = {name: runner.summarize(rs) for name, rs in results.items()}
    floors = json.loads(args.thresholds.read_text(encoding="utf-8"))
    if args.skip_drcd:
        floors = {k: v for k, v in floors.items() if not k.startswith("drcd")}
    if "library" not in results:
        floors.pop("library", None)
    problems = runner.check_floors(metrics, floors)
    baseline = json.loads(args.baseline.read_text(encoding="utf-8")) if args.baseline.is_file() else {}
    body = {
        "index": tag,
        "metrics": metrics,
        "by_kind": {name: runner.by_kind(results[name]) for name in ("seed", "library") if name in results},
        "regressions": report.regressions(metrics, baseline),
        "gate_failures": problems,
        "failures": runner.failures(results["seed"]),
        "library_failures": runner.failures(results.get("library", [])),
        "fitted": fitted,
    }
    path = report.write_report(args.report, body)
    _append_failures(path, "library set", body["library_failures"])
    if args.write_baseline:
        args.baseline.write_text(
            json.dumps({k: {m: v for m, v in d.items() if "latency" not in m} for k, d in metrics.items()}, indent=1)
            + "\n",
            encoding="utf-8",
        )
    json.dump(
        {"metrics": metrics, "gate_failures": problems, "regressions": body["regressions"], "report": str(path)},
        sys.stdout,
        ensure_ascii=False,
        indent=1,
    )
    sys.stdout.write("\n")
    for p in problems:
        logger.error("eval gate: %s", p)
    return 1 if problems else 0


def _append_failures(path: Path, suite: str, failures: list[dict[str, Any]]) -> None:
    """Add a suite's failures to the Markdown report, in the shape of the seed set's."""
    if not failures:
        return
    lines = ["", f"## Failures ({suite})", ""]
    for f in failures:
        got = "abstention" if f["abstained"] else repr(f["answer"][:80])
        lines.append(
            f"- **{f['id']}** {f['question']} — expected {f['expected']}, got {got} (confidence {f['confidence']})"
        )
        lines += [f"  - cited: {q}" for q in f["cited"]]
    with path.open("a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr; quiet the libraries that log every step (bm25s sets DEBUG when imported)."""
    import bm25s  # noqa: F401

    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("bm25s", "faiss.loader", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Run the evals; see ``--help``."""
    args = _parser().parse_args(argv)
    configure_logging()
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
