"""The on-disk index: the only code that knows its file names and layout.

An index is a set of immutable **segments** and a sequence of **generations** naming them (the way
Lucene and Milvus keep theirs), so a change writes what changed, not the library:

- ``<root>/segments/seg-NNNNNN/`` holds some documents and their chunks: ``docs.jsonl`` (the documents,
  text included), ``table.npy`` (one int32 row per chunk: document, ordinal, start, end, headings),
  ``headings.json``, ``ids.npy`` (the chunks' database ids), ``postings/`` (term frequencies for BM25:
  ``vocab.json``, ``indptr.npy``, ``rows.npy``, ``tf.npy``, ``doclen.npy``), the float32 unit vectors —
  ``vectors.npy``, or for a large segment ``dense.hnsw``, a FAISS HNSW graph that holds them — memory
  mapped when read so workers share one copy, and ``segment.json`` written last with every file's sha256.
- ``<root>/gen-NNNNNN/manifest.json`` names the live segments (each with the sha256 of its
  ``segment.json``) and the **tombstones**: per segment, its documents that were deleted or replaced since.
- ``<root>/CURRENT`` names the served generation and is replaced atomically.

Everything is written into a temporary directory, fsynced and renamed into place before anything
names it, so a reader sees the old generation or the new one, never half of one. A segment's files are
hashed when written and verified once per process (again only if their size or mtime changes); segments
no kept generation names are removed. No pickle anywhere.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.errors import IndexFormatError, OutdatedIndexError
from ingest.postings import Postings
from ingest.types import Chunk, Document, EmbedderInfo, IndexManifest

logger = logging.getLogger(__name__)

FORMAT_VERSION = 3  # 3: segments and tombstones
_CURRENT = "CURRENT"
_MANIFEST = "manifest.json"
_SEGMENT_FILE = "segment.json"
_SEGMENTS = "segments"
_GEN, _SEG = "gen-", "seg-"
_KEEP_OLD_GENERATIONS = 1
_TABLE_COLUMNS = 5  # document (index into docs.jsonl), ordinal, start, end, headings (index into headings.json)


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Segment:
    """Documents and their chunks, searchable on their own; row ``i`` is chunk ``i`` everywhere.

    Chunks are compact: one int32 row of ``table`` each, made into a :class:`Chunk` when asked for.
    """

    docs: tuple[Document, ...]
    ids: npt.NDArray[np.int64]
    table: npt.NDArray[np.int32]
    headings: tuple[tuple[str, ...], ...]
    vectors: npt.NDArray[np.float32]
    postings: Postings
    dense: Any = None  # faiss.IndexHNSWFlat over ``vectors`` for a large segment, else exact search
    # Document i's rows are starts[i]:starts[i + 1] (a segment keeps a document's chunks together).
    starts: npt.NDArray[np.int64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        counts = np.bincount(self.table[:, 0], minlength=len(self.docs))
        object.__setattr__(self, "starts", np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))

    @classmethod
    def of(
        cls,
        docs: Sequence[Document],
        chunks: Sequence[Chunk],
        ids: npt.NDArray[np.int64],
        vectors: npt.NDArray[np.float32],
        postings: Postings,
        dense: Any = None,
    ) -> Segment:
        """A segment of ``chunks`` (grouped by document, in ``docs`` order) with their ids, vectors and postings."""
        doc_ix = {d.doc_id: i for i, d in enumerate(docs)}
        headings: dict[tuple[str, ...], int] = {}
        table = np.array(
            [
                (doc_ix[c.doc_id], c.ordinal, c.start, c.end, headings.setdefault(c.headings, len(headings)))
                for c in chunks
            ],
            dtype=np.int32,
        ).reshape(len(chunks), _TABLE_COLUMNS)
        return cls(tuple(docs), ids, table, tuple(headings), vectors, postings, dense)

    @property
    def n_rows(self) -> int:
        """How many chunks the segment holds."""
        return len(self.ids)

    def chunk(self, row: int) -> Chunk:
        """The chunk of one row."""
        d, ordinal, start, end, h = (int(x) for x in self.table[row])
        doc = self.docs[d]
        return Chunk(
            f"{doc.doc_id}:{start}-{end}", doc.doc_id, ordinal, doc.text[start:end], start, end, self.headings[h]
        )

    def doc_rows(self, doc_ix: int) -> range:
        """The rows of one document's chunks."""
        return range(int(self.starts[doc_ix]), int(self.starts[doc_ix + 1]))


@dataclass(frozen=True)
class IndexData:
    """A generation opened for search: its segments, which of their rows are live, and the live documents.

    Rows are numbered across segments, segment after segment (``offsets[s]`` is segment ``s``'s first);
    a row is live unless its document is tombstoned in its segment.
    """

    manifest: IndexManifest
    segments: tuple[Segment, ...]
    live: tuple[npt.NDArray[np.bool_], ...] = field(init=False)
    docs: dict[str, Document] = field(init=False)
    offsets: npt.NDArray[np.int64] = field(init=False)
    _home: dict[str, tuple[int, int]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        home: dict[str, tuple[int, int]] = {}
        live = []
        for s, (name, segment) in enumerate(zip(self.manifest.segments, self.segments, strict=True)):
            dead = set(self.manifest.tombstones.get(name, ()))
            alive = np.array([d.doc_id not in dead for d in segment.docs], dtype=bool)
            live.append(alive[segment.table[:, 0]] if segment.n_rows else np.zeros(0, dtype=bool))
            home.update((d.doc_id, (s, i)) for i, d in enumerate(segment.docs) if alive[i])
        object.__setattr__(self, "live", tuple(live))
        object.__setattr__(self, "_home", home)
        object.__setattr__(self, "docs", {d: self.segments[s].docs[i] for d, (s, i) in sorted(home.items())})
        object.__setattr__(self, "offsets", np.cumsum([0, *(s.n_rows for s in self.segments)]).astype(np.int64))

    @property
    def n_rows(self) -> int:
        """Rows in all segments, live or not."""
        return int(self.offsets[-1])

    def locate(self, row: int) -> tuple[int, int]:
        """The segment of a row and the row within it."""
        s = int(np.searchsorted(self.offsets, row, "right")) - 1
        return s, row - int(self.offsets[s])

    def chunk(self, row: int) -> Chunk:
        """The chunk of one row."""
        s, local = self.locate(row)
        return self.segments[s].chunk(local)

    def doc_ids(self, rows: Sequence[int]) -> list[str]:
        """The documents of many rows at once."""
        at = np.asarray(rows, dtype=np.int64)
        segment_of = np.searchsorted(self.offsets, at, "right") - 1
        out = [""] * len(at)
        for s in np.unique(segment_of):
            mine = np.flatnonzero(segment_of == s)
            segment = self.segments[s]
            for i, d in zip(mine, segment.table[at[mine] - self.offsets[s], 0], strict=True):
                out[i] = segment.docs[d].doc_id
        return out

    def chunk_holding(self, doc_id: str, start: int, end: int) -> Chunk | None:
        """The first chunk of a live document holding ``[start, end)`` whole, else the first holding ``start``."""
        if doc_id not in self._home:
            return None
        s, d = self._home[doc_id]
        segment = self.segments[s]
        rows = segment.doc_rows(d)
        starts, ends = segment.table[rows.start : rows.stop, 2], segment.table[rows.start : rows.stop, 3]
        for held in ((starts <= start) & (end <= ends), (starts <= start) & (start < ends)):
            if held.any():
                return segment.chunk(rows.start + int(np.argmax(held)))
        return None

    def home(self, doc_id: str) -> tuple[int, int] | None:
        """Where a live document is: its segment and its place in that segment's documents."""
        return self._home.get(doc_id)

    def rows(self) -> Iterator[int]:
        """Every live row, in order."""
        for offset, live in zip(self.offsets, self.live, strict=False):
            yield from (int(offset) + np.flatnonzero(live)).tolist()

    @property
    def chunks(self) -> tuple[Chunk, ...]:
        """Every live chunk in row order (for tests and tools: a question never needs them all)."""
        return tuple(self.chunk(r) for r in self.rows())

    @property
    def segment_names(self) -> tuple[str, ...]:
        """The names of the segments, in order."""
        return tuple(self.manifest.segments)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for p in path.rglob("*"):
        if p.is_file():
            with p.open("rb") as f:
                os.fsync(f.fileno())
        elif p.is_dir():
            _fsync_dir(p)
    _fsync_dir(path)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_json(path: Path, value: Any) -> None:
    with path.open("w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=1)


def _numbered(root: Path, prefix: str) -> list[str]:
    return sorted(p.name for p in root.glob(f"{prefix}*") if p.is_dir() and p.name[len(prefix) :].isdigit())


def _next_name(root: Path, prefix: str) -> str:
    names = _numbered(root, prefix)
    return f"{prefix}{int(names[-1].removeprefix(prefix)) + 1 if names else 1:06d}"


def _write_segment_files(tmp: Path, segment: Segment) -> None:
    import faiss

    with (tmp / "docs.jsonl").open("w", encoding="utf-8") as f:
        for doc in segment.docs:
            f.write(json.dumps(doc.to_row(), ensure_ascii=False) + "\n")
    np.save(tmp / "table.npy", segment.table)
    _write_json(tmp / "headings.json", [list(h) for h in segment.headings])
    np.save(tmp / "ids.npy", segment.ids)
    if segment.dense is None:  # an HNSW graph keeps the vectors itself: one copy on disk and in memory
        np.save(tmp / "vectors.npy", np.ascontiguousarray(segment.vectors, dtype=np.float32))
    (tmp / "postings").mkdir()
    _write_json(tmp / "postings" / "vocab.json", list(segment.postings.vocab))
    for name in ("indptr", "rows", "tf", "doclen"):
        np.save(tmp / "postings" / f"{name}.npy", getattr(segment.postings, name))
    if segment.dense is not None:
        faiss.write_index(segment.dense, str(tmp / "dense.hnsw"))


def write_segment(root: Path, segment: Segment) -> tuple[str, str]:
    """Write ``segment`` under ``root`` (the index directory); nothing names it until a generation does.

    Returns:
        Its name and the sha256 of its ``segment.json`` (what a generation's manifest records).
    """
    parent = root / _SEGMENTS
    parent.mkdir(parents=True, exist_ok=True)
    # Writers hold the data directory's lock, so any other temporary segment is a crashed writer's.
    for stale in parent.glob(f".tmp-{_SEG}*"):
        shutil.rmtree(stale, ignore_errors=True)
    name = _next_name(parent, _SEG)
    tmp = parent / f".tmp-{name}-{os.getpid()}"
    tmp.mkdir()
    _write_segment_files(tmp, segment)
    files = {str(p.relative_to(tmp)): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    meta = {
        "format_version": FORMAT_VERSION,
        "n_docs": len(segment.docs),
        "n_chunks": segment.n_rows,
        "doc_ids": [d.doc_id for d in segment.docs],
        "doc_chunks": np.bincount(segment.table[:, 0], minlength=len(segment.docs)).tolist(),
        "files": files,
    }
    _write_json(tmp / _SEGMENT_FILE, meta)
    _fsync_tree(tmp)
    os.replace(tmp, parent / name)
    _fsync_dir(parent)
    digest = _sha256(parent / name / _SEGMENT_FILE)
    _VERIFIED[parent / name] = (digest, _stat_signature(parent / name), meta)
    logger.info("wrote %s: %d docs, %d chunks", name, len(segment.docs), segment.n_rows)
    return name, digest


def write_generation(root: Path, manifest: IndexManifest) -> IndexManifest:
    """Publish the next generation (the segments and tombstones ``manifest`` names) and make it current.

    The segments must have been written with :func:`write_segment`. Segments that no kept generation
    names any more are removed.

    Returns:
        The manifest as written, with its generation number and format version.
    """
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f".tmp-{_GEN}*"):
        shutil.rmtree(stale, ignore_errors=True)
    name = _next_name(root, _GEN)
    written = replace(manifest, format_version=FORMAT_VERSION, generation=int(name.removeprefix(_GEN)))
    tmp = root / f".tmp-{name}-{os.getpid()}"
    tmp.mkdir()
    _write_json(tmp / _MANIFEST, asdict(written))
    _fsync_tree(tmp)
    os.replace(tmp, root / name)
    pointer = root / f".{_CURRENT}.tmp"
    pointer.write_text(name + "\n", encoding="utf-8")
    with pointer.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(pointer, root / _CURRENT)
    _fsync_dir(root)
    _collect_garbage(root)
    logger.info(
        "published %s: %d docs, %d chunks in %d segments", name, written.n_docs, written.n_chunks, len(written.segments)
    )
    return written


def _collect_garbage(root: Path) -> None:
    """Remove generations older than the kept ones, then segments no remaining generation names."""
    for old in _numbered(root, _GEN)[: -1 - _KEEP_OLD_GENERATIONS]:
        shutil.rmtree(root / old, ignore_errors=True)
    named: set[str] = set()
    for gen in _numbered(root, _GEN):
        try:
            named.update(read_manifest(root / gen).segments)
        except IndexFormatError:
            continue
    for seg in _numbered(root / _SEGMENTS, _SEG):
        if seg not in named:
            shutil.rmtree(root / _SEGMENTS / seg, ignore_errors=True)
            _VERIFIED.pop(root / _SEGMENTS / seg, None)


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


def segment_dirs(root: Path) -> list[Path]:
    """The directories of the current generation's segments, in order.

    Raises:
        IndexFormatError: there is no readable current generation.
    """
    return [root / _SEGMENTS / name for name in read_manifest(current_dir(root)).segments]


def has_index(root: Path) -> bool:
    """Whether anything of an index is under ``root``: a ``CURRENT`` pointer or a generation directory."""
    return (root / _CURRENT).exists() or bool(_numbered(root, _GEN))


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
        version = raw["format_version"]
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise IndexFormatError(f"{path}: missing or unreadable ({e}); rebuild with `zhengce ingest`") from e
    if version != FORMAT_VERSION:
        raise OutdatedIndexError(
            f"{path}: format_version={version}, expected {FORMAT_VERSION}; rebuild with `zhengce ingest`"
        )
    try:
        return _parse_manifest(raw)
    except (ValueError, TypeError, KeyError) as e:
        raise IndexFormatError(f"{path}: missing or unreadable ({e}); rebuild with `zhengce ingest`") from e


# Segment directories whose files this process has hashed, with the segment.json digest, the files'
# sizes and mtimes then, and the parsed segment.json: verified and parsed again only when one changes.
_VERIFIED: dict[Path, tuple[str, tuple[tuple[str, int, int], ...], dict[str, Any]]] = {}
_LOADED: weakref.WeakValueDictionary[tuple[Path, str], Segment] = weakref.WeakValueDictionary()
_LOADING = threading.Lock()


def _stat_signature(seg_dir: Path) -> tuple[tuple[str, int, int], ...]:
    return tuple(
        (str(p.relative_to(seg_dir)), (st := p.stat()).st_size, st.st_mtime_ns)
        for p in sorted(seg_dir.rglob("*"))
        if p.is_file()
    )


def _segment_meta(seg_dir: Path, digest: str) -> dict[str, Any]:
    """A segment's ``segment.json`` after checking it and every file it lists against their checksums.

    Raises:
        IndexFormatError: a file is missing, truncated or altered, or ``segment.json`` is not the one named.
    """
    path = seg_dir / _SEGMENT_FILE
    try:
        signature = _stat_signature(seg_dir)
        known = _VERIFIED.get(seg_dir)
        if known is not None and known[:2] == (digest, signature):
            return known[2]
        if _sha256(path) != digest:
            raise IndexFormatError(f"{path}: missing or corrupt (checksum mismatch); rebuild with `zhengce ingest`")
        meta = dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as e:
        raise IndexFormatError(f"{path}: missing or unreadable ({e}); rebuild with `zhengce ingest`") from e
    for rel, file_digest in meta["files"].items():
        file = seg_dir / rel
        if not file.is_file() or _sha256(file) != file_digest:
            raise IndexFormatError(f"{file}: missing or corrupt (checksum mismatch); rebuild with `zhengce ingest`")
    _VERIFIED[seg_dir] = (digest, signature, meta)
    return meta


def segment_doc_chunks(root: Path, manifest: IndexManifest) -> dict[str, dict[str, int]]:
    """Per segment of a generation, its documents and how many chunks each has (tombstoned ones too).

    Raises:
        IndexFormatError: a segment is missing or damaged.
    """
    metas = {name: _segment_meta(root / _SEGMENTS / name, digest) for name, digest in manifest.segments.items()}
    return {name: dict(zip(m["doc_ids"], m["doc_chunks"], strict=True)) for name, m in metas.items()}


def verify_generation(root: Path) -> IndexManifest:
    """The manifest of the current generation after checking every file of its segments.

    Raises:
        IndexFormatError: no current generation, or a file is missing, truncated or altered, or the
            counts disagree.
    """
    gen_dir = current_dir(root)
    manifest = read_manifest(gen_dir)
    metas = {name: _segment_meta(root / _SEGMENTS / name, digest) for name, digest in manifest.segments.items()}
    _check_counts(gen_dir, manifest, metas)
    return manifest


def _check_counts(gen_dir: Path, manifest: IndexManifest, metas: dict[str, dict[str, Any]]) -> None:
    unknown = set(manifest.tombstones) - set(metas)
    live = {
        doc: n
        for name, m in metas.items()
        for doc, n in zip(m["doc_ids"], m["doc_chunks"], strict=True)
        if doc not in set(manifest.tombstones.get(name, ()))
    }
    if unknown:
        raise IndexFormatError(
            f"{gen_dir}: tombstones in unknown segments {sorted(unknown)}; rebuild with `zhengce ingest`"
        )
    if (len(live), sum(live.values())) != (manifest.n_docs, manifest.n_chunks):
        raise IndexFormatError(
            f"{gen_dir}: the manifest's {manifest.n_docs} documents and {manifest.n_chunks} chunks disagree with its "
            f"segments' {len(live)} and {sum(live.values())}; rebuild with `zhengce ingest`"
        )


def graph_vectors(graph: Any) -> npt.NDArray[np.float32]:
    """An HNSW graph's own copy of its vectors, viewed in place (whoever holds the view keeps the graph)."""
    import faiss

    flat: Any = faiss.downcast_index(graph.storage)
    vectors: npt.NDArray[np.float32] = faiss.rev_swig_ptr(flat.get_xb(), graph.ntotal * graph.d)
    return vectors.reshape(graph.ntotal, graph.d)


def _load_segment(seg_dir: Path, meta: dict[str, Any]) -> Segment:
    import faiss

    def array(name: str) -> Any:
        # Mapped, not read: worker processes share the pages. A plain ndarray view of the map, because
        # slicing an np.memmap builds a memmap object each time (measured: a third of lexical scoring).
        return np.asarray(np.load(seg_dir / name, mmap_mode="r", allow_pickle=False))

    with (seg_dir / "docs.jsonl").open(encoding="utf-8") as f:
        docs = tuple(Document.from_row(json.loads(line)) for line in f)
    vocab = json.loads((seg_dir / "postings" / "vocab.json").read_text(encoding="utf-8"))
    postings = Postings(
        {t: i for i, t in enumerate(vocab)},
        array("postings/indptr.npy"),
        array("postings/rows.npy"),
        array("postings/tf.npy"),
        array("postings/doclen.npy"),
    )
    headings = tuple(tuple(h) for h in json.loads((seg_dir / "headings.json").read_text(encoding="utf-8")))
    dense: Any = None
    if (seg_dir / "dense.hnsw").is_file():
        dense = faiss.read_index(str(seg_dir / "dense.hnsw"), faiss.IO_FLAG_MMAP_IFC)
        vectors = graph_vectors(dense)  # mapped
    else:
        vectors = array("vectors.npy")
    segment = Segment(docs, array("ids.npy"), array("table.npy"), headings, vectors, postings, dense)
    counts = {
        "segment.json": meta["n_chunks"],
        "table.npy": len(segment.table),
        "vectors": len(segment.vectors),
        "doclen.npy": postings.n_rows,
        "dense.hnsw": int(dense.ntotal) if dense is not None else segment.n_rows,
    }
    if len(set(counts.values())) != 1 or [d.doc_id for d in docs] != meta["doc_ids"]:
        raise IndexFormatError(f"{seg_dir}: counts disagree {counts}; rebuild with `zhengce ingest`")
    return segment


def _open_segment(seg_dir: Path, digest: str) -> Segment:
    """A segment, read once per process while any open generation uses it."""
    meta = _segment_meta(seg_dir, digest)
    with _LOADING:
        segment = _LOADED.get((seg_dir, digest))
        if segment is None:
            segment = _load_segment(seg_dir, meta)
            _LOADED[(seg_dir, digest)] = segment
    return segment


def read_index(root: Path, embedder: EmbedderInfo | None = None) -> IndexData:
    """Open the current generation under ``root``, verified end to end.

    Args:
        root: the index directory (holding ``CURRENT``, the generations and the segments).
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
    try:
        segments = tuple(_open_segment(root / _SEGMENTS / n, d) for n, d in manifest.segments.items())
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as e:
        raise IndexFormatError(f"{gen_dir}: cannot be read ({e}); rebuild with `zhengce ingest`") from e
    data = IndexData(manifest, segments)
    live = sum(int(m.sum()) for m in data.live)
    if (len(data.docs), live) != (manifest.n_docs, manifest.n_chunks):
        raise IndexFormatError(
            f"{gen_dir}: the manifest says {manifest.n_docs} documents and {manifest.n_chunks} chunks, the segments "
            f"hold {len(data.docs)} and {live}; rebuild with `zhengce ingest`"
        )
    return data
