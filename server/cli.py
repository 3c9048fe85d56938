"""The ``zhengce`` command: ingest, add, compact, ask, serve, feedback, audit, eval.

Results go to stdout as one JSON object (``ensure_ascii=False``); logs go to stderr. Settings come
from the environment (``ZHENGCE_DATA``, ``ZHENGCE_SEEDS``, ...) and options override them.

Exit codes: 0 ok (an abstention is an answer, so ``ask`` exits 0 for it too); 1 a failed check or
an ingest or retrieval failure (bad seeds, unreadable index); 2 a usage error, which includes a
blank or over-long question, reported on stderr before any model is loaded.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.types import IndexManifest
    from server.settings import Settings

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The command line asks for something impossible; exits with code 2."""


def _top_k(value: str) -> int:
    from server.schemas import TOP_K_MAX

    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= k <= TOP_K_MAX:
        raise argparse.ArgumentTypeError(f"{k} is out of range; use 1 to {TOP_K_MAX}")
    return k


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``zhengce``."""
    parser = argparse.ArgumentParser(prog="zhengce", description="政策问答: cited answers from policy documents.")
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data", type=Path, help="data directory (default: $ZHENGCE_DATA or ./var)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ingest = sub.add_parser("ingest", parents=[data], help="sync the seeds and build the index; print its manifest")
    ingest.add_argument("seeds", nargs="?", type=Path, metavar="SEEDS_DIR", help="default: $ZHENGCE_SEEDS or ./seeds")
    add = sub.add_parser("add", parents=[data], help="add files or folders (recursively); one JSON line per file")
    add.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ask = sub.add_parser("ask", parents=[data], help="answer a question; print the answer as JSON")
    ask.add_argument("question", help="the question, e.g. 脱贫人口收入是多少")
    ask.add_argument("--top-k", type=_top_k, default=5, help="at most this many citations (1-20, default 5)")
    serve = sub.add_parser("serve", parents=[data], help="run the HTTP server")
    serve.add_argument("--host", help="default: $ZHENGCE_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default: $ZHENGCE_PORT, $PORT or 8000")
    serve.add_argument(
        "--workers", type=int, help="server processes answering side by side (default: $ZHENGCE_WORKERS or 1)"
    )
    compact = sub.add_parser("compact", parents=[data], help="merge index segments; print the manifest")
    compact.add_argument("--all", action="store_true", help="merge every segment into one, dropping deleted rows")
    feedback = sub.add_parser("feedback", parents=[data], help="staff feedback on answers")
    feedback.add_argument("action", choices=["export"], help="export: print the stored feedback as eval-set lines")
    feedback.add_argument("--out", type=Path, help="write the lines to this file instead of stdout")
    audit = sub.add_parser("audit", parents=[data], help="who changed which document, and when")
    audit.add_argument("action", choices=["export"], help="export: print every record, oldest first")
    audit.add_argument("--doc-id", help="only this document's records")
    audit.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="default: jsonl")
    sub.add_parser("eval", add_help=False, help="run the evals; every further argument goes to `python -m evals`")
    return parser


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    from pydantic import ValidationError

    from server.settings import Settings, SettingsError

    given = {k: v for k, v in {"data": args.data, **overrides}.items() if v is not None}
    try:
        return Settings(**given)  # options win over the environment, and are validated the same way
    except (ValidationError, SettingsError) as e:
        raise UsageError(f"bad settings (options or ZHENGCE_* environment): {e}") from e


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=1) + "\n")
    sys.stdout.flush()


def cmd_ingest(args: argparse.Namespace) -> int:
    """Sync the seeds into the database, build the index when needed, and print its manifest."""
    from ingest.config import DataPaths
    from server.runtime import configure_logging, open_retriever

    settings = _settings(args, seeds=args.seeds)
    configure_logging(settings.log_level)
    retriever = open_retriever(settings, progress=True)
    _print_json({**_manifest_summary(retriever.manifest), "index_dir": str(DataPaths(settings.data).index)})
    return EXIT_OK


def _manifest_summary(manifest: IndexManifest) -> dict[str, Any]:
    """The manifest as printed: its segments counted, not listed."""
    summary = {k: v for k, v in asdict(manifest).items() if k not in ("segments", "tombstones")}
    return {**summary, "segments": len(manifest.segments)}


def cmd_compact(args: argparse.Namespace) -> int:
    """Merge index segments as the merge policy asks (all into one with ``--all``); print the manifest."""
    from ingest.build import compact_index
    from ingest.config import DataPaths
    from ingest.embed import SentenceEmbedder
    from ingest.index_store import verify_generation
    from server.runtime import LOCK_WAIT_S, configure_logging

    settings = _settings(args)
    configure_logging(settings.log_level)
    paths, embedder = DataPaths(settings.data), SentenceEmbedder(settings.embedder)
    merges = 0
    while compact_index(paths, embedder, LOCK_WAIT_S, everything=args.all):
        merges += 1
    _print_json({**_manifest_summary(verify_generation(paths.index)), "merges": merges})
    return EXIT_OK


def _files(paths: list[Path]) -> list[Path]:
    from ingest.readers import SUPPORTED

    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED)
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    return found


def cmd_add(args: argparse.Namespace) -> int:
    """Store each file (a JSON line says so once it is committed), then parse and index them.

    Exit code 1 when any file was refused or failed to parse; the others are added regardless.
    """
    from tqdm import tqdm

    from ingest.build import UpdateOptions, compact_index, ensure_index
    from ingest.config import DataPaths
    from ingest.embed import SentenceEmbedder
    from ingest.errors import DocumentError
    from ingest.index_store import verify_generation
    from ingest.library import Library
    from ingest.lock import writer_lock
    from server.runtime import configure_logging

    settings = _settings(args)
    configure_logging(settings.log_level)
    cfg, files, paths, failed = settings.build_config(), _files(args.paths), DataPaths(settings.data), 0
    library: Library | None = None
    try:
        with writer_lock(paths.root):  # before the database is touched: a busy data directory is left as it is
            library = Library(paths, cfg.chunk)
            named = ((p.name, p.read_bytes()) for p in tqdm(files, desc="adding", unit="file", file=sys.stderr))
            for path, got in zip(files, library.receive_each(named), strict=True):
                line: dict[str, Any] = {"path": str(path)}
                if isinstance(got, DocumentError):
                    failed += 1
                    line.update(status="failed", error=str(got))
                else:
                    line.update(doc_id=got.status.doc_id, status=got.status.status, duplicate=got.duplicate)
                sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
                sys.stdout.flush()
        embedder = SentenceEmbedder(settings.embedder)
        manifest = ensure_index(
            paths, settings.seeds, cfg, embedder, UpdateOptions(True, workers=settings.embed_processes)
        )
        while compact_index(paths, embedder):
            manifest = verify_generation(paths.index)
        rows = [r for r in library.store.statuses() if r.status == "failed"]
    finally:
        if library is not None:
            library.close()
    summary = {"generation": manifest.generation, "documents": manifest.n_docs, "chunks": manifest.n_chunks}
    _print_json({**summary, "failed": [{"doc_id": r.doc_id, "error": r.error} for r in rows]})
    return EXIT_FAILED if failed + len(rows) else EXIT_OK


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer one question and print it in the shape of ``POST /api/ask``."""
    from retriever.errors import QuestionError
    from retriever.pipeline import check_question

    try:
        check_question(args.question)
    except QuestionError as e:
        raise UsageError(str(e)) from e
    from server.runtime import Service, configure_logging, open_retriever
    from server.schemas import AnswerOut

    settings = _settings(args)
    configure_logging(settings.log_level)
    service = Service(open_retriever(settings))
    answer = service.ask(args.question, args.top_k)
    _print_json(AnswerOut.from_domain(answer, service.generation).model_dump(mode="json"))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the HTTP API and the question page until interrupted."""
    import uvicorn

    from server.app import create_app
    from server.runtime import configure_logging

    settings = _settings(args, host=args.host, port=args.port, workers=args.workers)
    if settings.open_to_network and not settings.write_keys:
        raise UsageError(
            f"refusing to listen on {settings.host} without an API key: anyone on the network could upload "
            "or delete documents. Set ZHENGCE_API_KEY or ZHENGCE_API_KEYS, or listen on 127.0.0.1 (the default)"
        )
    configure_logging(settings.log_level)
    # log_config=None: uvicorn's own loggers propagate to the root handler, in the one format.
    if settings.workers == 1:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)
        return EXIT_OK
    # Worker processes build their app from the environment: these settings, options included.
    os.environ.update(settings.as_environment())
    uvicorn.run(
        "server.app:app_from_environment", factory=True, workers=settings.workers,
        host=settings.host, port=settings.port, log_config=None,
    )  # fmt: skip
    return EXIT_OK


def cmd_feedback(args: argparse.Namespace) -> int:
    """Print (or write) every stored judgement as a line of the eval-set format, oldest first."""
    from server.feedback import FeedbackStore, eval_case

    settings = _settings(args)
    store = FeedbackStore(settings.data)
    try:
        lines = [json.dumps(eval_case(f), ensure_ascii=False) + "\n" for f in store.all()]
    finally:
        store.close()
    if args.out is None:
        sys.stdout.writelines(lines)
    else:
        args.out.write_text("".join(lines), encoding="utf-8")
        sys.stderr.write(f"wrote {len(lines)} feedback cases to {args.out}\n")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    """Print the audit trail (or one document's), oldest first, as JSON lines or CSV."""
    import csv
    from dataclasses import astuple, fields

    from ingest.audit import AuditQuery, AuditRecord
    from ingest.config import DataPaths
    from ingest.store import Store

    db = DataPaths(_settings(args).data).db
    if not db.is_file():
        raise UsageError(f"no database at {db}; give the data directory with --data or ZHENGCE_DATA")
    store = Store(db)
    try:
        records = store.audit_records(AuditQuery(doc_id=args.doc_id, limit=None, oldest_first=True))
    finally:
        store.close()
    if args.format == "jsonl":
        sys.stdout.writelines(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in records)
        return EXIT_OK
    writer = csv.writer(sys.stdout)
    writer.writerow(f.name for f in fields(AuditRecord))
    for r in records:  # detail as its JSON text
        row = [*astuple(r)[:-1], "" if r.detail is None else json.dumps(r.detail, ensure_ascii=False)]
        writer.writerow([_inert(v) for v in row])
    return EXIT_OK


def _inert(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: one starting with = + - @ (a file named =HYPERLINK(…)) gets a '."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def cmd_eval(argv: list[str]) -> int:
    """Hand ``argv`` to the evals' command line and return its exit code."""
    import importlib.util

    if importlib.util.find_spec("evals.__main__") is None:
        sys.stderr.write("zhengce eval: error: the evals package has no command line (evals/__main__.py)\n")
        return EXIT_FAILED
    from evals.__main__ import main as evals_main

    return int(evals_main(argv))


def main(argv: list[str] | None = None) -> int:
    """Run ``zhengce`` with ``argv`` (default: the process arguments) and return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "eval":
        # No option precedes the command, so the first "eval" is it; the rest, in order, is theirs.
        return cmd_eval(argv[argv.index("eval") + 1 :])
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    handlers = {
        "ingest": cmd_ingest, "add": cmd_add, "ask": cmd_ask, "serve": cmd_serve, "feedback": cmd_feedback,
        "compact": cmd_compact, "audit": cmd_audit,
    }  # fmt: skip
    return _run(handlers[args.command], args, parser.prog)


def _run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace, prog: str) -> int:
    from ingest.errors import IngestError
    from retriever.errors import RetrieverError

    try:
        code = handler(args)
    except UsageError as e:
        sys.stderr.write(f"{prog} {args.command}: error: {e}\n")
        return EXIT_USAGE
    except (IngestError, RetrieverError) as e:
        logger.debug("%s failed", args.command, exc_info=True)
        sys.stderr.write(f"{prog} {args.command}: error: {e}\n")
        return EXIT_FAILED
    return code


if __name__ == "__main__":
    raise SystemExit(main())
