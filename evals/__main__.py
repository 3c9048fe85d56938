"""``zhengce eval`` / ``python -m evals``: run the eval sets, write the report, and gate on the floors.

Exit codes: 0 all floors met, 1 a metric below its floor, 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.config import BuildConfig

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BUILD = BuildConfig()
SHARED_DATA = REPO.parent / "shared" / "data"
DRCD_DEFAULT = SHARED_DATA / "drcd" / "dev.jsonl"
CMRC_TRIAL = SHARED_DATA / "cmrc2018" / "trial.jsonl"
CMRC_DEV = SHARED_DATA / "cmrc2018" / "dev.jsonl"

logger = logging.getLogger("evals")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zhengce eval", description=__doc__)
    p.add_argument("--data", type=Path, default=REPO / "var" / "evals", help="where eval indexes are kept (reused)")
    p.add_argument("--seeds", type=Path, default=REPO / "seeds")
    p.add_argument("--drcd", type=Path, default=DRCD_DEFAULT, help="DRCD dev.jsonl (CC BY-SA 3.0)")
    p.add_argument(
        "--skip-drcd", action="store_true", help="no DRCD or CMRC suites (their floors are then not checked)"
    )
    p.add_argument("--cmrc", type=Path, default=CMRC_TRIAL, help="CMRC 2018 trial.jsonl (CC BY-SA 4.0), held out")
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
    p.add_argument(
        "--index",
        choices=("embedded", "milvus"),
        default="embedded",
        help="the search engine the suites' libraries are indexed in (milvus: milvus-lite files beside them)",
    )
    p.add_argument(
        "--against",
        type=Path,
        default=None,
        help="another run's report.json: the gate also fails on any metric more than --within away from it",
    )
    p.add_argument("--within", type=float, default=0.01, help="with --against: the largest difference allowed")
    return p


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
    """Open the suites, fit when asked, evaluate every suite, then report and gate; returns the exit code."""
    from evals import calibrate, corpus, dataset
    from ingest.config import BuildConfig, ChunkConfig, EngineConfig
    from ingest.embed import SentenceEmbedder
    from retriever.config import CALIBRATION_PATH, load_config

    started = time.perf_counter()
    try:
        lib_files = _library_files(args)
        if not args.skip_drcd and not args.drcd.is_file():
            raise FileNotFoundError(f"DRCD not found at {args.drcd}; pass --drcd PATH or --skip-drcd")
    except FileNotFoundError as e:
        logger.error("%s", e)
        return 2
    cfg = BuildConfig(
        chunk=ChunkConfig(max_chars=args.chunk_max_chars),
        embedder=args.embedder,
        tokenizer=args.tokenizer,
        engine=EngineConfig(kind=args.index),
    )
    embedder = SentenceEmbedder(cfg.embedder)
    calibration = args.calibration or CALIBRATION_PATH
    config = load_config(calibration)
    tag = f"{cfg.embedder}-{cfg.tokenizer}-{cfg.chunk.max_chars}"
    if args.index == "milvus":
        _reuse_embeddings(args.data, tag)
        tag += "-milvus"
    seed = corpus.seed_retriever(args.data / f"seed-{tag}", args.seeds, cfg, embedder, config)
    seed_dev, seed_test = dataset.split_seed(dataset.load_eval_set(dataset.EVAL_SET, seed.docs))
    drcd = _drcd_suite(args, cfg, embedder, config, tag) if not args.skip_drcd else None
    lib = _library(args, lib_files, cfg, embedder, config, tag)
    notices = _notices(args, cfg, embedder, config, tag)
    fitted: dict[str, Any] = {}
    if args.fit:
        corpora = [
            calibrate.Corpus("seed_dev", seed, seed_dev),
            calibrate.Corpus("notices_dev", notices[0], notices[1][0]),
        ]
        if lib is not None:
            corpora.append(calibrate.Corpus("policy_dev", lib.retriever, lib.policy[0]))
        reading = []
        if drcd is not None:
            corpora.append(calibrate.Corpus("drcd_dev", drcd[0], drcd[1], benchmark=True))
            reading = [_cmrc_suite(args, cfg, embedder, config, tag, CMRC_DEV), (drcd[0], drcd[1])]
        index = f"{args.embedder}/{args.tokenizer}/{args.chunk_max_chars}"
        config, fitted_abstention, fitted = calibrate.fit_all(corpora, args.target_precision, index, reading)
        calibrate.write_calibration(calibration, config, fitted_abstention, fitted)
    suites = Suites(seed, seed_dev, seed_test, drcd)
    cmrc = _cmrc_suite(args, cfg, embedder, config, tag) if not args.skip_drcd and args.cmrc.is_file() else None
    results, dev_pool = _evaluate(suites, config, lib, notices, cmrc)
    context = {
        "index": tag,
        "calibration": {"path": str(calibration), **calibrate.committed_operating_point(calibration)}
        | {"threshold": config.abstention.threshold},
        "fitted": fitted,
        "abstention_ablation": _feature_ablation(results, dev_pool),
        "elapsed_s": time.perf_counter() - started,
    }
    return _finish(args, results, context)


def _reuse_embeddings(data: Path, tag: str) -> None:
    """Start each Milvus eval library from its embedded twin's database (documents and embedding cache),
    so that the second engine's run embeds nothing again; its index is then built into Milvus."""
    import shutil

    for embedded in data.glob(f"*-{tag}"):
        db, twin = embedded / "zhengce.db", embedded.with_name(f"{embedded.name}-milvus")
        if db.is_file() and not (twin / "zhengce.db").exists():
            twin.mkdir(parents=True, exist_ok=True)
            shutil.copy2(db, twin / "zhengce.db")


@dataclass(frozen=True, slots=True)
class Suites:
    """The opened corpora with their cases: the seed set's halves, and DRCD's retriever, dev and test cases."""

    seed: Any
    seed_dev: list[Any]
    seed_test: list[Any]
    drcd: tuple[Any, list[Any], list[Any]] | None


def _drcd_suite(
    args: argparse.Namespace, cfg: Any, embedder: Any, config: Any, tag: str
) -> tuple[Any, list[Any], list[Any]]:
    """DRCD's retriever (its 1,000 paragraphs indexed as documents) with its dev and test cases."""
    from evals import corpus, dataset

    docs, questions = dataset.read_drcd(args.drcd)
    retriever = corpus.corpus_retriever(args.data / f"drcd-{tag}", docs, cfg, embedder, config)
    dev_q, test_q = dataset.split_by_doc(questions)
    return retriever, dataset.drcd_cases(dev_q, docs), dataset.drcd_cases(test_q, docs)


def _cmrc_suite(
    args: argparse.Namespace, cfg: Any, embedder: Any, config: Any, tag: str, path: Path | None = None
) -> tuple[Any, list[Any]]:
    """CMRC 2018 in Simplified, its paragraphs indexed as documents: trial (held out, nothing is fitted on
    it) by default, or ``path`` (dev, for fitting the sentence ranker)."""
    from evals import corpus, dataset

    source = path or args.cmrc
    docs, questions = dataset.read_drcd(source, "CMRC", "CMRC 2018 (CC BY-SA 4.0)")
    name = "cmrc-trial" if source == args.cmrc else "cmrc"
    retriever = corpus.corpus_retriever(args.data / f"{name}-{tag}", docs, cfg, embedder, config)
    return retriever, dataset.drcd_cases(questions, docs)


@dataclass(frozen=True, slots=True)
class Library:
    """The library corpus's retriever with its suites: the library set, and the policy set's and the
    dialogue set's dev and held-out halves."""

    retriever: Any
    cases: list[Any]
    policy: tuple[list[Any], list[Any]]
    dialogues: tuple[list[Any], list[Any]]


def _library(
    args: argparse.Namespace, files: list[Path] | None, cfg: Any, embedder: Any, config: Any, tag: str
) -> Library | None:
    """The library corpus and its suites; None when skipped."""
    from evals import dataset, library

    if files is None:
        return None
    lib = library.library_retriever(args.data / f"library-{tag}", files, cfg, embedder, config)
    policy = library.load_library_set(library.POLICY_SET, lib.docs, files)
    return Library(
        lib,
        library.load_library_set(library.LIBRARY_SET, lib.docs, files),
        dataset.split_seed(policy),
        library.load_dialogue_set(library.DIALOGUE_SET, lib.docs, files),
    )


def _notices(
    args: argparse.Namespace, cfg: Any, embedder: Any, config: Any, tag: str
) -> tuple[Any, tuple[list[Any], list[Any]]]:
    """The run-on notices uploaded as files, with their question set's dev and test halves."""
    from evals import dataset, library

    files = library.notice_files()
    retriever = library.library_retriever(args.data / f"notices-{tag}", files, cfg, embedder, config)
    return retriever, dataset.split_seed(library.load_library_set(library.NOTICES_SET, retriever.docs, files))


def _subset(results: list[Any], cases: list[Any]) -> list[Any]:
    ids = {c.id for c in cases}
    return [r for r in results if r.case.id in ids]


def _evaluate(
    suites: Suites,
    config: Any,
    lib: Library | None,
    notices: tuple[Any, tuple[list[Any], list[Any]]],
    cmrc: tuple[Any, list[Any]] | None,
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Every suite's results, and the dev splits' results (with DRCD's unanswerable twins) for the ablation."""
    from evals import run as runner
    from evals.dataset import in_simplified, without_own_paragraph

    suites.seed.config = config
    results = {"seed": runner.evaluate(suites.seed, [*suites.seed_dev, *suites.seed_test])}
    results["seed"].sort(key=lambda r: r.case.id)
    results["seed_test"] = _subset(results["seed"], suites.seed_test)
    dev_pool = {"seed": _subset(results["seed"], suites.seed_dev)}
    written = [("notices", notices[0], notices[1])]
    if lib is not None:
        lib.retriever.config = config
        results["library"] = runner.evaluate(lib.retriever, lib.cases)
        written += [("policy", lib.retriever, lib.policy), ("dialogue", lib.retriever, lib.dialogues)]
    for name, retriever, (dev, test) in written:
        retriever.config = config
        results[name] = runner.evaluate(retriever, [*dev, *test])
        results[f"{name}_test"] = _subset(results[name], test)
        dev_pool[name] = _subset(results[name], dev)
    if suites.drcd is not None:
        drcd, dev, test = suites.drcd
        drcd.config = config
        results["drcd"] = runner.evaluate(drcd, [*dev, *test])
        results["drcd_test"] = _subset(results["drcd"], test)
        # The test half's answerable questions were just asked; only their unanswerable twins are new.
        twins = runner.evaluate(drcd, without_own_paragraph(test), modes=())
        results["drcd_test_abstain"] = [*results["drcd_test"], *twins]
        results["drcd_simplified"] = runner.evaluate(drcd, in_simplified(test), modes=())
        dev_twins = runner.evaluate(drcd, without_own_paragraph(dev), modes=())
        dev_pool["drcd"] = [*_subset(results["drcd"], dev), *dev_twins]
    if cmrc is not None:
        cmrc[0].config = config
        results["cmrc_trial"] = runner.evaluate(cmrc[0], cmrc[1], modes=())
    return results, dev_pool


def _feature_ablation(results: dict[str, list[Any]], dev_pool: dict[str, list[Any]]) -> dict[str, dict[str, float]]:
    """AUROC on the held-out suites of the abstention model refitted on the dev splits without each feature."""
    from evals import fit

    first = len(dev_pool["seed"])
    train = [
        e
        for i, rs in enumerate(dev_pool.values())
        # Each corpus weighs as much as the seed set's dev half in total, as in the committed fit.
        for e in fit.examples(rs, weight=first / len(rs), corpus=i)
    ]
    held_out: list[str] = [
        s for s in ("seed_test", "policy_test", "notices_test", "library", "drcd_test_abstain") if s in results
    ]
    tests = {s: fit.examples(results[s], weight=1.0, corpus=0) for s in held_out}
    return fit.feature_ablation(train, tests)


def _applicable(thresholds: dict[str, Any], suites: Collection[str]) -> dict[str, Any]:
    """The floors and ceilings of the suites that were run (``--skip-drcd`` and friends drop the rest)."""
    ceilings = thresholds.get("ceilings", {})
    out = {suite: floors for suite, floors in thresholds.items() if suite in suites}
    return out | {"ceilings": {s: c for s, c in ceilings.items() if s == "*" or s in suites}}


FAILURE_SUITES = ("seed", "library", "drcd", "drcd_test_abstain")


def _failures(results: dict[str, list[Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each suite's wrong cases, a case listed once (DRCD's abstention suite adds its unanswerable twins)."""
    from evals import summary

    out: dict[str, list[dict[str, Any]]] = {}
    listed: set[str] = set()
    for suite in (s for s in FAILURE_SUITES if s in results):
        out[suite] = summary.failures(results[suite], skip_ids=listed)
        listed |= {r.case.id for r in results[suite]}
    return out


def _finish(args: argparse.Namespace, results: dict[str, list[Any]], context: dict[str, Any]) -> int:
    from evals import report, summary

    metrics = {name: summary.summarize(rs) for name, rs in results.items()}
    thresholds = _applicable(json.loads(args.thresholds.read_text(encoding="utf-8")), results)
    problems = summary.check_gate(metrics, thresholds)
    if args.against is not None:
        other = json.loads(args.against.read_text(encoding="utf-8"))["metrics"]
        context["against"] = {"report": str(args.against), "within": args.within, "metrics": other}
        problems += report.differences(metrics, other, args.within)
    baseline = json.loads(args.baseline.read_text(encoding="utf-8")) if args.baseline.is_file() else {}
    body = {
        **context,
        "metrics": metrics,
        "regressions": report.regressions(metrics, baseline),
        "gate_failures": problems,
        "by_kind": {s: summary.by_kind(results[s]) for s in ("seed", "library", "drcd_test_abstain") if s in results},
        "failures": _failures(results),
    }
    curves = {name: summary.curve(rs) for name, rs in results.items()}
    path = report.write_report(args.report, body, curves, context["calibration"]["threshold"])
    if args.write_baseline:
        _write_baseline(args.baseline, metrics)
    out = {k: body[k] for k in ("metrics", "gate_failures", "regressions")}
    json.dump(
        {**out, "report": str(path), "elapsed_s": round(context["elapsed_s"], 1)},
        sys.stdout,
        ensure_ascii=False,
        indent=1,
    )
    sys.stdout.write("\n")
    for p in problems:
        logger.error("eval gate: %s", p)
    return 1 if problems else 0


def _write_baseline(path: Path, metrics: dict[str, dict[str, float]]) -> None:
    """Save the run's metrics, without latencies and fitted thresholds, as the baseline to compare with."""
    kept = {k: {m: v for m, v in d.items() if "latency" not in m and "threshold" not in m} for k, d in metrics.items()}
    path.write_text(json.dumps(kept, indent=1) + "\n", encoding="utf-8")


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr; quiet the libraries that log every step (bm25s sets DEBUG when imported; httpx a line
    per request, from every client of a load test)."""
    import bm25s  # noqa: F401

    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("bm25s", "faiss.loader", "sentence_transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Run the evals; see ``--help``."""
    args = _parser().parse_args(argv)
    configure_logging()
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
