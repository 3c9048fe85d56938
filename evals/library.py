"""The multi-document library suite: uploaded reports and a PDF, read the way staff add them (I/O).

The corpus is a few 2025 provincial 政府工作报告 (the same genre, with near-duplicate sentences such as
"地区生产总值增长…" and "城镇新增就业…" carrying different numbers), two national reports and a tax-credit
PDF. Each file goes through ``ingest.library.Library`` exactly as an upload does, so its doc_id is the one
the product assigns (derived from the bytes) and gold quotes are checked against the reader's clean text.
The data directory is reused: identical bytes are no-ops and the embedding cache avoids re-embedding.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from evals.dataset import EvalCase, EvalSetError, cases_from_rows
from ingest.build import ensure_index
from ingest.config import BuildConfig, DataPaths
from ingest.embed import Embedder
from ingest.library import Library
from ingest.lock import writer_lock
from ingest.types import Document
from retriever.config import RetrievalConfig
from retriever.pipeline import Retriever

logger = logging.getLogger(__name__)

LIBRARY_SET = Path(__file__).with_name("library_set.jsonl")
# Long-answer questions of the kinds staff ask (措施, 要求, 哪些, 如何 …) over the same corpus: POLICY_SET.md.
POLICY_SET = Path(__file__).with_name("policy_set.jsonl")
# Two- and three-turn dialogues over the same corpus, follow-ups read against the turns before: DIALOGUE_SET.md.
DIALOGUE_SET = Path(__file__).with_name("dialogue_set.jsonl")
_DIALOGUE_SALT = "dialogue-split-881:"  # balances the follow-up kinds between the halves (DIALOGUE_SET.md)
# Run-on single-line notices (title + dateline + body on one line, hash file names): notices/README.md.
NOTICES_DIR = Path(__file__).with_name("notices")
NOTICES_SET = Path(__file__).with_name("notices_set.jsonl")
_PROVINCIAL = "provincial_reports_2025_docx"
_NATIONAL = "gov_work_reports"
# Relative to the shared data directory (see ../shared/data/README.md for sources and licences).
# 广东, 湖南 and 陕西 are left out on purpose: questions about them must be abstained on.
LIBRARY_FILES: tuple[str, ...] = (
    "pdf_sample/397.pdf",
    f"{_PROVINCIAL}/2025年重庆市政府工作报告.docx",
    f"{_PROVINCIAL}/2025年四川省政府工作报告.docx",
    f"{_PROVINCIAL}/2025年贵州省政府工作报告.docx",
    f"{_PROVINCIAL}/2025年湖北省政府工作报告.docx",
    f"{_PROVINCIAL}/2025年北京市政府工作报告.docx",
    f"{_PROVINCIAL}/2025年上海市政府工作报告.docx",
    f"{_NATIONAL}/2025_2025年中华人民共和国国务院政府工作报告.txt",
    f"{_NATIONAL}/2024_2024年中华人民共和国国务院政府工作报告.txt",
)


class LibraryCorpusError(RuntimeError):
    """A file of the library corpus is missing or could not be parsed."""


def library_files(shared_data: Path, names: tuple[str, ...] = LIBRARY_FILES) -> list[Path]:
    """The corpus files under ``shared_data``, in a fixed order."""
    return [shared_data / name for name in names]


def notice_files(folder: Path = NOTICES_DIR) -> list[Path]:
    """The run-on notices, in a fixed order."""
    return sorted(folder.glob("*.txt"))


def missing_files(files: list[Path]) -> list[Path]:
    """The corpus files that are not there (the suite is skipped or fails on them)."""
    return [f for f in files if not f.is_file()]


def _add_files(library: Library, files: list[Path]) -> None:
    """Receive each file, drop uploads no longer listed, and parse what is pending."""
    wanted = set()
    for path in files:
        got = library.receive(path.name, path.read_bytes())
        wanted.add(got.status.doc_id)
    for status in library.store.statuses():
        if status.doc_id not in wanted:
            library.delete(status.doc_id)
    library.process_pending()
    failed = [s for s in library.store.statuses() if s.status == "failed"]
    if failed:
        raise LibraryCorpusError(
            "could not parse " + "; ".join(f"{s.filename} ({s.doc_id}): {s.error}" for s in failed)
        )


def library_retriever(
    data_dir: Path, files: list[Path], cfg: BuildConfig, embedder: Embedder, config: RetrievalConfig
) -> Retriever:
    """A retriever over ``files`` added as uploads to the data directory ``data_dir`` (built or reused).

    Raises:
        LibraryCorpusError: a file is missing or fails to parse.
    """
    missing = missing_files(files)
    if missing:
        raise LibraryCorpusError(f"library corpus files not found: {', '.join(map(str, missing))}")
    paths = DataPaths(data_dir)
    started = time.perf_counter()
    with writer_lock(paths.root):
        library = Library(paths, cfg.chunk)
        try:
            _add_files(library, files)  # ensure_index re-chunks them if the chunk config changed since
        finally:
            library.close()
    manifest = ensure_index(paths, None, cfg, embedder)
    logger.info(
        "library corpus: %d documents, %d chunks, ready in %.1fs",
        manifest.n_docs,
        manifest.n_chunks,
        time.perf_counter() - started,
    )
    return Retriever.open(paths.index, embedder, config)


def file_doc_ids(files: list[Path], docs: dict[str, Document]) -> dict[str, str]:
    """File name → the doc_id its bytes got in the library (matched by the raw sha256)."""
    by_sha = {d.sha256: d.doc_id for d in docs.values()}
    out = {}
    for path in files:
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        if sha in by_sha:
            out[path.name] = by_sha[sha]
    return out


def _rows_with_doc_ids(path: Path, ids: dict[str, str]) -> list[dict[str, object]]:
    """The set's rows; a gold entry's ``file`` must be a corpus file, and gives its ``doc_id`` when it has none.

    Raises:
        EvalSetError: a gold file is not in the corpus, or its doc_id disagrees with the one the file got.
    """
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        _fill_doc_ids(row, ids, f"{path.name}:{n} {row['id']}")
        rows.append(row)
    return rows


def _fill_doc_ids(row: dict[str, Any], ids: dict[str, str], where: str) -> None:
    """Give each gold entry of ``row`` the doc_id its ``file`` got (checking one it already has).

    Raises:
        EvalSetError: a gold file is not in the corpus, or its doc_id disagrees with the one the file got.
    """
    for g in row.get("gold", []):
        name = g.get("file")
        if name is None:
            continue
        if name not in ids:
            raise EvalSetError(f"{where}: {name!r} is not in the library corpus")
        g.setdefault("doc_id", ids[name])
        if g["doc_id"] != ids[name]:
            raise EvalSetError(
                f"{where}: {name} has doc_id {ids[name]}, not {g['doc_id']}; "
                "the shared file changed: regenerate the gold doc_ids"
            )


def load_library_set(path: Path, docs: dict[str, Document], files: list[Path]) -> list[EvalCase]:
    """A set over uploaded files; gold ``file`` names give or check doc_ids, quotes must be in the clean text.

    Raises:
        EvalSetError: a gold entry names the wrong document, or a quote is not in its document.
    """
    return cases_from_rows(_rows_with_doc_ids(path, file_doc_ids(files, docs)), docs)


def load_dialogue_set(
    path: Path, docs: dict[str, Document], files: list[Path]
) -> tuple[list[EvalCase], list[EvalCase]]:
    """The dialogues' turns as cases (``dlg-001/2``, with the questions before them as ``history``), split
    into dev and held-out halves by dialogue.

    Raises:
        EvalSetError: a gold entry names the wrong document, or a quote is not in its document.
    """
    ids = file_doc_ids(files, docs)
    dev: list[EvalCase] = []
    test: list[EvalCase] = []
    for dialogue in (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()):
        turns = dialogue["turns"]
        rows = [{**t, "id": f"{dialogue['id']}/{n}"} for n, t in enumerate(turns, start=1)]
        for row in rows:
            _fill_doc_ids(row, ids, f"{path.name} {row['id']}")
        cases = cases_from_rows(rows, docs)
        held_out = int(hashlib.sha256((_DIALOGUE_SALT + dialogue["id"]).encode()).hexdigest(), 16) % 2 == 1
        (test if held_out else dev).extend(
            replace(c, history=tuple(t["question"] for t in turns[:n])) for n, c in enumerate(cases)
        )
    return dev, test
