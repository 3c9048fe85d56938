"""The on-disk index: the only code that knows its file names and layout.

``<root>/gen-NNNNNN/`` holds one generation: ``docs.jsonl`` and ``chunks.jsonl`` (row i is FAISS
row i and BM25 document i), ``dense.faiss`` (``IndexIDMap2`` over ``IndexFlatIP``, chunk ids as
ids), ``lexical/`` (a bm25s directory), and ``manifest.json`` written last with every file's
sha256. A generation is written into a temporary directory, fsynced, renamed into place, and
only then named in ``<root>/CURRENT`` (replaced atomically), so a reader sees the old generation
or the new one, never half of one. No pickle anywhere.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.errors import IndexFormatError
from ingest.types import Chunk, Document, EmbedderInfo, IndexManifest

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: docs.jsonl rows carry the document's region
_CURRENT = "CURRENT"
_MANIFEST = "manifest.json"
_KEEP_OLD_GENERATIONS = 1


@dataclass(frozen=True, slots=True)
class IndexData:
    """A whole generation in memory; ``chunks[i]`` has FAISS id ``ids[i]``."""

    manifest: IndexManifest
    docs: dict[str, Document]
    chunks: tuple[Chunk, ...]
    ids: npt.NDArray[np.int64]
    dense: Any  # faiss.IndexIDMap2
    lexical: Any  # bm25s.BM25, or None when there are no chunks


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write_files(tmp: Path, data: IndexData) -> None:
    import faiss

    _write_jsonl(tmp / "docs.jsonl", [d.to_row() for d in data.docs.values()])
    rows = [{"id": int(i), **asdict(c)} for i, c in zip(data.ids, data.chunks, strict=True)]
    _write_jsonl(tmp / "chunks.jsonl", rows)
    faiss.write_index(data.dense, str(tmp / "dense.faiss"))
    if data.lexical is not None:  # None for an empty library: bm25s cannot index zero documents
        data.lexical.save(str(tmp / "lexical"), allow_pickle=False, show_progress=False)
    for path in tmp.rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                os.fsync(f.fileno())


_GEN = "gen-"


def _generation_name(number: int) -> str:
    return f"{_GEN}{number:06d}"


def _generation_names(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob(f"{_GEN}*") if p.is_dir())


def write_generation(root: Path, data: IndexData) -> IndexManifest:
    """Publish ``data`` as the next generation under ``root`` and make it current.

    Returns:
        The manifest as written, with its generation number and file checksums.
    """
    root.mkdir(parents=True, exist_ok=True)
    names = _generation_names(root)
    number = int(names[-1].removeprefix(_GEN)) + 1 if names else 1
    name = _generation_name(number)
    # Writers hold the data directory's lock, so any other temporary generation is a crashed writer's.
    for stale in root.glob(f".tmp-{_GEN}*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = root / f".tmp-{name}-{os.getpid()}"
    tmp.mkdir()
    _write_files(tmp, data)
    files = {str(p.relative_to(tmp)): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    manifest = replace(data.manifest, format_version=FORMAT_VERSION, generation=number, files=files)
    with (tmp / _MANIFEST).open("w", encoding="utf-8") as f:
        json.dump(asdict(manifest), f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())
    _fsync_dir(tmp)
    os.replace(tmp, root / name)
    pointer = root / f".{_CURRENT}.tmp"
    pointer.write_text(name + "\n", encoding="utf-8")
    with pointer.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(pointer, root / _CURRENT)
    _fsync_dir(root)
    for old in _generation_names(root)[: -1 - _KEEP_OLD_GENERATIONS]:
        shutil.rmtree(root / old, ignore_errors=True)
    logger.info("published %s: %d docs, %d chunks", name, manifest.n_docs, manifest.n_chunks)
    return manifest


def _parse_manifest(raw: dict[str, Any]) -> IndexManifest:
    raw = dict(raw)
    raw["embedder"] = EmbedderInfo(**raw["embedder"])
    return IndexManifest(**raw)


def current_dir(root: Path) -> Path:
    """The directory of the current generation.

    Raises:
        IndexFormatError: there is no current generation.
    """
    try:
        name = (root / _CURRENT).read_text(encoding="utf-8").strip()
    except OSError:
        raise IndexFormatError(f"no index at {root}; build one with `zhengce ingest`") from None
    return root / name


def has_index(root: Path) -> bool:
    """Whether anything of an index is under ``root``: a ``CURRENT`` pointer or a generation directory."""
    return (root / _CURRENT).exists() or bool(_generation_names(root))


def current_generation(root: Path) -> int | None:
    """The number of the generation ``CURRENT`` names under ``root``: None without ``CURRENT``, 0 when
    it names no generation directory (damaged), which no served generation has."""
    try:
        name = current_dir(root).name
    except IndexFormatError:
        return None
    return int(name.removeprefix(_GEN)) if name.startswith(_GEN) and name[len(_GEN) :].isdigit() else 0


def read_manifest(gen_dir: Path) -> IndexManifest:
    """The manifest of a generation, checked for its format version.

    Raises:
        IndexFormatError: no manifest (an unfinished generation), unreadable, or another format.
    """
    path = gen_dir / _MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        manifest = _parse_manifest(raw)
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise IndexFormatError(f"{path}: missing or unreadable ({e}); rebuild with `zhengce ingest`") from e
    if manifest.format_version != FORMAT_VERSION:
        raise IndexFormatError(
            f"{path}: format_version={manifest.format_version}, expected {FORMAT_VERSION}; "
            "rebuild with `zhengce ingest`"
        )
    return manifest


def verify_generation(root: Path) -> IndexManifest:
    """The manifest of the current generation after checking every file against its checksum.

    Raises:
        IndexFormatError: no current generation, or a file is missing, truncated or altered.
    """
    gen_dir = current_dir(root)
    manifest = read_manifest(gen_dir)
    _verify_files(gen_dir, manifest)
    lines = {name: _count_lines(gen_dir / name) for name in ("docs.jsonl", "chunks.jsonl")}
    if lines != {"docs.jsonl": manifest.n_docs, "chunks.jsonl": manifest.n_chunks}:
        raise IndexFormatError(
            f"{gen_dir}: manifest counts ({manifest.n_docs} docs, {manifest.n_chunks} chunks) disagree with {lines}; "
            "rebuild with `zhengce ingest`"
        )
    return manifest


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def _verify_files(gen_dir: Path, manifest: IndexManifest) -> None:
    for rel, digest in manifest.files.items():
        path = gen_dir / rel
        if not path.is_file() or _sha256(path) != digest:
            raise IndexFormatError(f"{path}: missing or corrupt (checksum mismatch); rebuild with `zhengce ingest`")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _load(gen_dir: Path, manifest: IndexManifest) -> IndexData:
    import bm25s
    import faiss

    docs = {row["doc_id"]: Document.from_row(row) for row in _read_jsonl(gen_dir / "docs.jsonl")}
    rows = _read_jsonl(gen_dir / "chunks.jsonl")
    ids = np.array([r.pop("id") for r in rows], dtype=np.int64)
    chunks = tuple(Chunk(**{**r, "headings": tuple(r["headings"])}) for r in rows)
    dense = faiss.read_index(str(gen_dir / "dense.faiss"))
    lexical = None
    if manifest.n_chunks:
        lexical = bm25s.BM25.load(str(gen_dir / "lexical"), allow_pickle=False, show_progress=False)
    return IndexData(manifest, docs, chunks, ids, dense, lexical)


def read_index(root: Path, embedder: EmbedderInfo | None = None) -> IndexData:
    """Open the current generation under ``root``, verified end to end.

    Args:
        root: the index directory (holding ``CURRENT`` and the generations).
        embedder: when given, the model that will embed queries; it must be the one that built the index.

    Raises:
        IndexFormatError: missing, partial, corrupt, inconsistent, or built with another model.
    """
    gen_dir = current_dir(root)
    manifest = read_manifest(gen_dir)
    if embedder is not None and embedder != manifest.embedder:
        raise IndexFormatError(
            f"{gen_dir}: built with embedding model {manifest.embedder.name} ({manifest.embedder.dim}-d), "
            f"opened with {embedder.name} ({embedder.dim}-d); "
            f"rebuild with `zhengce ingest` or configure {manifest.embedder.name}"
        )
    _verify_files(gen_dir, manifest)
    try:
        data = _load(gen_dir, manifest)
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as e:
        raise IndexFormatError(f"{gen_dir}: cannot be read ({e}); rebuild with `zhengce ingest`") from e
    counts = {
        "manifest": manifest.n_chunks,
        "chunks.jsonl": len(data.chunks),
        "dense.faiss": int(data.dense.ntotal),
        "lexical": int(data.lexical.scores["num_docs"]) if data.lexical is not None else 0,
    }
    if len(set(counts.values())) != 1 or len(data.docs) != manifest.n_docs:
        raise IndexFormatError(f"{gen_dir}: counts disagree {counts}; rebuild with `zhengce ingest`")
    return data
