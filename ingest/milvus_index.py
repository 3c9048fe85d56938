"""The chunks' search index in a Milvus collection: schema, lifecycle, writes and the two raw searches.

Milvus holds what is searched — each live chunk's BM25 token field and its vector — keyed by the
chunk's database id; the database stays the source of truth for documents, chunks and offsets, and the
index generation (``ingest.index_store``, with no vectors of its own on this engine) is the catalog that
maps ids back to chunks. The collection can always be rebuilt from the database: a missing one is
created and filled, a partial one is reconciled (missing chunks upserted, stray ones deleted).

Lexical behaviour is the embedded one: the token field holds our own space-joined ``ingest.tokenize``
tokens (character uni- and bigrams), read by Milvus's ``whitespace`` analyzer into a ``BM25`` function
with bm25s's ``k1`` and ``b``. Milvus scores BM25 with Lucene's idf times ``(k1 + 1)``, so a score is
divided by ``k1 + 1`` to be bm25s's. Dense search is COSINE on unit vectors (FLAT on milvus-lite, which
offers nothing else; HNSW on a server). The two lists are fused by the caller with the project's fitted
fusion, not by Milvus's rankers (``WeightedRanker`` treats BM25 as a distance in 2.5).

``uri`` is a file path (milvus-lite in this process) or ``http://host:19530`` (a Milvus server).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ingest.config import EngineConfig, is_server_uri
from ingest.doc_type import doc_type
from ingest.errors import IngestError
from ingest.postings import K1, B
from ingest.tokenize import tokenize
from ingest.types import Chunk, Document, EmbedderInfo

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
UPSERT_BATCH = 500
# A write failing transiently (the engine restarting, a dropped connection) is retried after 0.5, 1, 2, 4,
# 8 s (then the indexer waits and tries again); a question's search once, after 0.5 s, so that a question
# gets its 503 at once while the engine is down.
RETRIES = 5
READ_RETRIES = 1
_MAX_TOKENS_BYTES = 65_535
_IN_LIST = 16_384  # ids or doc ids per ``in [...]`` expression
T = TypeVar("T")


class EngineUnavailableError(IngestError):
    """The search engine cannot be reached (after retries); questions get a 503, writes wait and retry."""


@dataclass(frozen=True, slots=True)
class ChunkRow:
    """What the collection holds of one chunk."""

    id: int
    chunk: Chunk
    doc: Document
    tokens: str
    vector: npt.NDArray[np.float32]

    def as_entity(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "doc_id": self.doc.doc_id,
            "tokens": _fitted(self.tokens),
            "vector": np.asarray(self.vector, dtype=np.float32).tolist(),
            # The document's metadata, for filtering in the engine: region as "/江西省/九江市/" (so that
            # ``region like "%/九江市/%"`` is membership), issuer, date (ISO, "" when unknown), type.
            "region": f"/{'/'.join(self.doc.region)}/" if self.doc.region else "",
            "issuer": _within(self.doc.issuer, 256),
            "published": self.doc.published.isoformat() if self.doc.published else "",
            "doc_type": doc_type(self.doc.title),
        }


def chunk_rows(
    docs: Sequence[Document], rows: Sequence[tuple[int, Chunk]], vectors: npt.NDArray[np.float32], scheme: str
) -> Iterator[ChunkRow]:
    """The collection rows of chunks (with their database ids and vectors), tokenized with ``scheme``."""
    by_id = {d.doc_id: d for d in docs}
    for (i, chunk), vector in zip(rows, vectors, strict=True):
        yield ChunkRow(i, chunk, by_id[chunk.doc_id], " ".join(tokenize(chunk.context, scheme)), vector)


def _fitted(tokens: str) -> str:
    """The token field within Milvus's VARCHAR limit (bytes), cut at a token boundary (a chunk is ~1 KB)."""
    cut = _within(tokens, _MAX_TOKENS_BYTES)
    return cut if cut == tokens else cut.rsplit(" ", 1)[0]


def _within(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8 (Milvus's VARCHAR lengths are bytes), whole characters."""
    raw = text.encode()
    return text if len(raw) <= limit else raw[:limit].decode(errors="ignore")


def _retried(what: str, call: Callable[[], T], retries: int = RETRIES, reading: bool = False) -> T:
    """``call()``, retried with a bounded exponential backoff while the engine is unreachable.

    Raises:
        EngineUnavailableError: it still fails after ``retries`` retries; or, ``reading`` (a question's
            search), it fails in any way the engine reports: a question gets a 503, never a 500.
    """
    import grpc
    from pymilvus.exceptions import MilvusException

    delay = 0.5
    for attempt in range(retries + 1):
        try:
            return call()
        except (MilvusException, grpc.RpcError, ConnectionError, OSError) as e:
            if _missing(e):  # an engine restarted without its data: the indexer refills it from the database
                raise EngineUnavailableError(f"the Milvus collection is missing ({what}); it is rebuilt: {e}") from e
            if not _transient(e):
                if reading:
                    raise EngineUnavailableError(f"the Milvus search engine refused the {what}: {e}") from e
                raise  # a refused write (a bug, or an engine without a feature) is not waited out
            if attempt == retries:
                raise EngineUnavailableError(f"the Milvus search engine is unreachable ({what}): {e}") from e
            logger.warning("Milvus %s failed (%s); retrying in %.1fs", what, e, delay)
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def _transient(e: Exception) -> bool:
    """Whether a Milvus error says the engine is unreachable, restarting or slow (worth a retry)."""
    text = str(e).lower()
    return (
        isinstance(e, (ConnectionError, OSError))
        or getattr(e, "code", None) == 2
        or any(w in text for w in ("unavailable", "connect", "deadline", "not ready"))
    )


def _missing(e: Exception) -> bool:
    """Whether a Milvus error says the collection does not exist."""
    return getattr(e, "code", None) == 100 or "collection not found" in str(e).lower()


def _in(field: str, values: Sequence[Any]) -> str:
    return f"{field} in {json.dumps(list(values), ensure_ascii=False)}"


class MilvusIndex:
    """One collection of chunks in a Milvus engine, for one embedding model and tokenizer.

    Args:
        uri: a file path (milvus-lite, in process) or a server URI.
        token: the server's token (``user:password`` or an API key); empty for none.
        collection: the collection's name.
        embedder: the model whose vectors it holds; a collection of another model is rebuilt.
        tokenizer: the tokenizer id of its token field (recorded the same way).
    """

    def __init__(self, uri: str, token: str, collection: str, embedder: EmbedderInfo, tokenizer: str) -> None:
        self.uri, self.collection = uri, collection
        self.embedder, self.tokenizer = embedder, tokenizer
        self.server = is_server_uri(uri)
        self.hnsw = False  # the vector index is a graph (searched with ``ef``), not exact
        # This process's writer is filling the collection from the database: its searches are refused (503)
        # meanwhile, not answered from part of the library.
        self.refilling = False
        self._token = token
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from pymilvus import MilvusClient

            self._client = _retried("connect", lambda: MilvusClient(uri=self.uri, token=self._token))
        return self._client

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    @property
    def _description(self) -> str:
        return json.dumps(
            {"schema": SCHEMA_VERSION, "embedder": self.embedder.name, "dim": self.embedder.dim,
             "tokenizer": self.tokenizer}, sort_keys=True,
        )  # fmt: skip

    def open_collection(self) -> None:
        """Load the collection for searching, never creating or dropping it (only the writer does).

        Raises:
            EngineUnavailableError: it is missing, or was made for another model, tokenizer or schema.
        """
        exists = _retried("has_collection", lambda: self.client.has_collection(self.collection), READ_RETRIES, True)
        if not exists:
            raise EngineUnavailableError(f"the Milvus collection {self.collection} is missing; it is rebuilt")
        found = _retried("describe", lambda: self.client.describe_collection(self.collection), READ_RETRIES, True)
        if found.get("description") != self._description:
            raise EngineUnavailableError(
                f"the Milvus collection {self.collection} was built for {found.get('description')}, not "
                f"{self._description}; the writer rebuilds it"
            )
        self._load()

    def _load(self) -> None:
        _retried("load", lambda: self.client.load_collection(self.collection))
        vector = _retried("describe index", lambda: self.client.describe_index(self.collection, "vector"))
        self.hnsw = vector.get("index_type") == "HNSW"

    def ensure_collection(self) -> bool:
        """Create the collection when it is missing, or was made for another model, tokenizer or schema
        (dropping that one); load it. Returns whether it was (re)created, and so is empty."""
        exists = _retried("has_collection", lambda: self.client.has_collection(self.collection))
        if exists:
            found = _retried("describe", lambda: self.client.describe_collection(self.collection))
            if found.get("description") == self._description:
                self._load()
                return False
            logger.warning(
                "the Milvus collection %s was built for %s, not %s; rebuilding it from the database",
                self.collection, found.get("description"), self._description,
            )  # fmt: skip
            _retried("drop", lambda: self.client.drop_collection(self.collection))
        self.refilling = True  # empty until the writer has reconciled it with the database
        _retried("create", self._create)
        return True

    def _create(self) -> None:
        from pymilvus import DataType, Function, FunctionType
        from pymilvus.exceptions import MilvusException

        schema = self.client.create_schema(auto_id=False, description=self._description)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=512)
        schema.add_field(
            "tokens", DataType.VARCHAR, max_length=_MAX_TOKENS_BYTES, enable_analyzer=True,
            analyzer_params={"tokenizer": "whitespace"},
        )  # fmt: skip
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.embedder.dim)
        schema.add_field("region", DataType.VARCHAR, max_length=256)
        schema.add_field("issuer", DataType.VARCHAR, max_length=256)
        schema.add_field("published", DataType.VARCHAR, max_length=16)
        schema.add_field("doc_type", DataType.VARCHAR, max_length=32)
        schema.add_function(
            Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["tokens"],
                     output_field_names=["sparse"])
        )  # fmt: skip
        # HNSW as on a server (the parameters of the embedded graphs, ``ingest.segments``); milvus-lite, in
        # process or serving TCP, refuses it ("local mode only support FLAT …") and searches exactly.
        from ingest.segments import HNSW_EF_CONSTRUCTION, HNSW_M

        hnsw = {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}
        kinds = [("HNSW", hnsw), ("FLAT", {})] if self.server else [("FLAT", {})]
        for n, (kind, params) in enumerate(kinds, start=1):
            index = self.client.prepare_index_params()
            index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                            params={"bm25_k1": K1, "bm25_b": B})  # fmt: skip
            index.add_index("vector", index_type=kind, metric_type="COSINE", params=params)
            index.add_index("doc_id", index_type="INVERTED")
            try:
                self.client.create_collection(
                    self.collection, schema=schema, index_params=index, consistency_level="Strong"
                )
            except MilvusException as e:
                if n == len(kinds) or "index type" not in str(e):
                    raise
                logger.info("Milvus at %s offers no %s index (%s); trying %s", self.uri, kind, e, kinds[n][0])
                if self.client.has_collection(self.collection):
                    self.client.drop_collection(self.collection)
                continue
            self.hnsw = kind == "HNSW"
            break
        logger.info("created the Milvus collection %s at %s (%s)", self.collection, self.uri, kind)

    # Writes -------------------------------------------------------------------------------------------

    def upsert(self, rows: Iterable[ChunkRow], skip: Collection[int] = (), progress: bool = False) -> int:
        """Insert or replace chunks by id, in batches (idempotent: a retried batch writes the same rows),
        leaving out the ids in ``skip``; with ``progress``, a progress bar on stderr."""
        from tqdm import tqdm

        written = 0
        batch: list[dict[str, Any]] = []
        with tqdm(desc="Milvus upsert", unit="chunk", disable=not progress) as bar:
            for row in (r for r in rows if r.id not in skip):
                batch.append(row.as_entity())
                if len(batch) >= UPSERT_BATCH:
                    written += self._upsert_batch(batch, bar)
            if batch:
                written += self._upsert_batch(batch, bar)
        return written

    def _upsert_batch(self, batch: list[dict[str, Any]], bar: Any) -> int:
        entities = list(batch)
        batch.clear()
        _retried("upsert", lambda: self.client.upsert(self.collection, entities))
        bar.update(len(entities))
        return len(entities)

    def delete_ids(self, ids: Iterable[int]) -> None:
        """Delete chunks by id."""
        wanted = sorted({int(i) for i in ids})
        for i in range(0, len(wanted), _IN_LIST):
            self._delete(_in("id", wanted[i : i + _IN_LIST]))

    def delete_docs(self, doc_ids: Sequence[str], keep: Iterable[int] = ()) -> None:
        """Delete the chunks of documents deleted or replaced, except ``keep`` (a replacement's new chunks)."""
        kept = sorted(int(i) for i in keep)
        for i in range(0, len(doc_ids), _IN_LIST):
            self._delete(
                _in("doc_id", list(doc_ids[i : i + _IN_LIST])) + (f" and id not in {json.dumps(kept)}" if kept else "")
            )

    def _delete(self, expr: str) -> None:
        _retried("delete", lambda: self.client.delete(self.collection, filter=expr))

    def ids(self) -> set[int]:
        """The ids of every chunk the collection holds."""

        def read() -> set[int]:
            found: set[int] = set()
            iterator = self.client.query_iterator(self.collection, batch_size=10_000, filter="", output_fields=["id"])
            try:
                while batch := iterator.next():
                    found.update(int(r["id"]) for r in batch)
            finally:
                iterator.close()
            return found

        return _retried("list ids", read)

    def reconcile(self, wanted: set[int], rows: Callable[[set[int]], Iterable[ChunkRow]]) -> tuple[int, int]:
        """Make the collection hold exactly the chunks ``wanted``: upsert the missing ones (``rows`` of their
        ids), delete the others. Returns how many were added and removed."""
        held = self.ids()
        missing, stray = wanted - held, held - wanted
        self.refilling = self.refilling or len(missing) > 0
        if missing:
            self.upsert(rows(missing))
        self.keep_only(wanted, held)
        if missing or stray:
            logger.info("Milvus collection %s reconciled: %d chunks added, %d removed", self.collection,
                        len(missing), len(stray))  # fmt: skip
        return len(missing), len(stray)

    def keep_only(self, wanted: set[int], held: set[int]) -> None:
        """Delete the chunks ``held`` (as listed before chunks were upserted) that are not ``wanted``: the
        collection is whole again."""
        if stray := held - wanted:
            self.delete_ids(stray)
        self.refilling = False

    # Searches -----------------------------------------------------------------------------------------

    def _search(self, what: str, data: Any, field: str, k: int, expr: str, params: dict[str, Any]) -> list[Any]:
        def call() -> list[Any]:
            found = self.client.search(
                self.collection, data=[data], anns_field=field, limit=k, filter=expr, search_params=params
            )
            return list(found[0]) if found else []

        if self.refilling:
            raise EngineUnavailableError(f"the Milvus collection {self.collection} is being refilled from the database")
        return _retried(what, call, READ_RETRIES, reading=True)

    def bm25(self, tokens: Sequence[str], k: int, ids: Sequence[int] | None = None,
             where: str = "") -> tuple[list[int], list[float]]:  # fmt: skip
        """The ``k`` best chunks by BM25 for the query tokens, with bm25s-scaled scores (among ``ids``, and the
        chunks ``where`` admits, when given: :func:`doc_filter`)."""
        if not tokens or k <= 0:
            return [], []
        hits = self._search("BM25 search", " ".join(tokens), "sparse", k, _filter(ids, where), {"metric_type": "BM25"})
        return [int(h["id"]) for h in hits], [float(h["distance"]) / (K1 + 1) for h in hits]

    def dense(self, query: npt.NDArray[np.float32], k: int, ids: Sequence[int] | None = None,
              where: str = "") -> tuple[list[int], list[float]]:  # fmt: skip
        """The ``k`` nearest chunks by cosine (among ``ids``, and the chunks ``where`` admits, when given)."""
        if k <= 0:
            return [], []
        params: dict[str, Any] = {"metric_type": "COSINE"}
        if self.hnsw:
            from ingest.segments import HNSW_EF_SEARCH

            params["params"] = {"ef": max(HNSW_EF_SEARCH, k)}
        hits = self._search("dense search", np.asarray(query, dtype=np.float32).tolist(), "vector", k,
                            _filter(ids, where), params)  # fmt: skip
        return [int(h["id"]) for h in hits], [float(h["distance"]) for h in hits]

    def vectors(self, ids: Sequence[int]) -> dict[int, npt.NDArray[np.float32]]:
        """The vectors of the given chunks (those the collection holds)."""
        if not ids:
            return {}
        rows = _retried(
            "get", lambda: self.client.get(self.collection, ids=list(ids), output_fields=["vector"]), READ_RETRIES, True
        )
        return {int(r["id"]): np.asarray(r["vector"], dtype=np.float32) for r in rows}

    def count(self) -> int:
        """How many chunks the collection holds; no retry (a health check).

        Raises:
            EngineUnavailableError: the engine does not answer, or the collection is missing.
        """
        import grpc
        from pymilvus.exceptions import MilvusException

        try:
            found = self.client.query(self.collection, filter="", output_fields=["count(*)"])
            return int(found[0]["count(*)"])
        except (MilvusException, grpc.RpcError, ConnectionError, OSError) as e:
            if _missing(e):
                raise EngineUnavailableError(
                    f"the Milvus collection {self.collection} is missing; it is rebuilt from the database"
                ) from e
            raise EngineUnavailableError(f"the Milvus search engine is unreachable: {e}") from e


def doc_filter(doc_ids: Collection[str], served: Collection[str]) -> str:
    """The expression admitting the chunks of ``doc_ids`` among the ``served`` documents: ``doc_id in [...]``,
    or ``not in`` the others when that list is shorter (a filter admitting most of a large library)."""
    wanted = sorted(set(doc_ids))
    others = sorted(set(served) - set(wanted))
    return (
        _in("doc_id", wanted)
        if len(wanted) <= len(others)
        else f"doc_id not in {json.dumps(others, ensure_ascii=False)}"
    )


def _filter(ids: Sequence[int] | None, where: str) -> str:
    parts = [where] if where else []
    if ids is not None:
        parts.append(_in("id", [int(i) for i in ids]))
    return " and ".join(parts)


_OPEN: dict[tuple[str, str, EmbedderInfo, str], MilvusIndex] = {}


def milvus_index(engine: EngineConfig, data_root: Path, embedder: EmbedderInfo, tokenizer: str) -> MilvusIndex:
    """The collection of a data directory's configured engine, one client per URI and collection in a process
    (milvus-lite opens a file in one process only)."""
    key = (engine.milvus_uri(data_root), engine.collection, embedder, tokenizer)
    if key not in _OPEN:
        _OPEN[key] = MilvusIndex(key[0], engine.token, engine.collection, embedder, tokenizer)
    return _OPEN[key]
