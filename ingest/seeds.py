"""Read the seed corpus: ``seeds/manifest.jsonl`` plus the raw files it names (edge module)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ingest.errors import SeedError

logger = logging.getLogger(__name__)

_REQUIRED = ("doc_id", "title", "file", "sha256")


@dataclass(frozen=True, slots=True)
class SeedEntry:
    """One manifest line: the metadata of a seed document and its raw bytes."""

    doc_id: str
    title: str
    source: str
    author: str
    published: date | None
    doc_number: str | None
    issuer: str
    source_url: str | None
    filename: str
    raw: bytes
    sha256: str


def _parse_date(value: Any, where: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise SeedError(f"{where}: published={value!r} is not a date; write it as YYYY-MM-DD") from None


def _entry(seeds_dir: Path, row: dict[str, Any], where: str) -> SeedEntry:
    missing = [k for k in _REQUIRED if not row.get(k)]
    if missing:
        raise SeedError(f"{where}: missing {', '.join(missing)}; every line needs {', '.join(_REQUIRED)}")
    path = seeds_dir / row["file"]
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise SeedError(f"{where}: cannot read {path}: {e.strerror}; fix the 'file' field") from e
    digest = hashlib.sha256(raw).hexdigest()
    if digest != row["sha256"]:
        raise SeedError(
            f"{where}: {path} has sha256 {digest}, manifest says {row['sha256']}; "
            "if the file was replaced on purpose, update the manifest"
        )
    return SeedEntry(
        doc_id=row["doc_id"],
        title=row["title"],
        source=row.get("source") or "",
        author=row.get("author") or "",
        published=_parse_date(row.get("published"), where),
        doc_number=row.get("doc_number") or None,
        issuer=row.get("issuer") or "",
        source_url=row.get("source_url") or None,
        filename=Path(row["file"]).name,
        raw=raw,
        sha256=digest,
    )


def read_seeds(seeds_dir: Path) -> Iterator[SeedEntry]:
    """Yield the seed entries in manifest order, each checked against its sha256.

    Raises:
        SeedError: the manifest is missing or malformed, a file is missing or altered,
            or a doc_id repeats.
    """
    manifest = seeds_dir / "manifest.jsonl"
    if not manifest.is_file():
        raise SeedError(f"{manifest} not found; a seeds folder needs a manifest.jsonl")
    seen: set[str] = set()
    for n, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{manifest}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise SeedError(f"{where}: not valid JSON ({e.msg})") from e
        if not isinstance(row, dict):
            raise SeedError(f"{where}: expected a JSON object with {', '.join(_REQUIRED)}, got {type(row).__name__}")
        entry = _entry(seeds_dir, row, where)
        if entry.doc_id in seen:
            raise SeedError(f"{where}: doc_id {entry.doc_id!r} appears twice")
        seen.add(entry.doc_id)
        yield entry
