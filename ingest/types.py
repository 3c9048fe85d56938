"""The data that flows through ingest: a document, its chunks, and the index manifest."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any


@dataclass(frozen=True, slots=True)
class Document:
    """One source document after cleaning; every offset in the system refers to ``text``.

    ``sha256`` is the digest of the raw bytes as obtained, not of ``text``. ``pages`` holds
    ``(start, end, page)`` spans of ``text`` for a PDF or an image, so a citation can name its page;
    ``ocr_pages`` are the pages whose text was read by OCR (a scan), so a citation can say so.
    ``region`` is the place the document is about, full names from the province down
    (``("江西省", "九江市")``, ``("重庆市",)``); ``()`` for a national document or when unknown.
    """

    doc_id: str
    title: str
    text: str
    source: str = ""
    author: str = ""
    published: date | None = None
    doc_number: str | None = None
    issuer: str = ""
    source_url: str | None = None
    sha256: str = ""
    pages: tuple[tuple[int, int, int], ...] = ()
    region: tuple[str, ...] = ()
    ocr_pages: tuple[int, ...] = ()

    def to_row(self) -> dict[str, Any]:
        """The document as plain JSON values: ``published`` as ISO text, ``pages`` and ``region`` as lists."""
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        row["published"] = self.published.isoformat() if self.published else None
        row["pages"] = [list(p) for p in self.pages]
        row["region"] = list(self.region)
        row["ocr_pages"] = list(self.ocr_pages)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Document:
        """The document of a row written by :meth:`to_row` (``pages``, ``region``, ``ocr_pages`` may be absent)."""
        published = row.get("published")
        return cls(
            **{
                **row,
                "published": date.fromisoformat(published) if published else None,
                "pages": tuple((int(a), int(b), int(c)) for a, b, c in row.get("pages", ())),
                "region": tuple(str(name) for name in row.get("region") or ()),
                "ocr_pages": tuple(int(page) for page in row.get("ocr_pages") or ()),
            }
        )

    def page_at(self, offset: int) -> int | None:
        """The 1-based page that holds ``text[offset]`` (PDFs only; None otherwise)."""
        for start, end, page in self.pages:
            if start <= offset < end:
                return page
        return None


@dataclass(frozen=True, slots=True)
class DocStatus:
    """Where a document is on its way: ``received`` → ``parsed`` → ``indexed``, or ``failed`` with a reason.

    ``progress`` says what the indexer is doing to it now (``"OCR 3/10 页"``), None when nothing.
    """

    doc_id: str
    title: str
    filename: str
    status: str
    error: str | None
    fmt: str
    sha256: str
    doc_number: str | None
    issuer: str
    published: str | None
    updated_at: str
    region: tuple[str, ...]
    n_chunks: int
    progress: str | None = None


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character range ``[start, end)`` of a document's text."""

    start: int
    end: int

    def overlaps(self, other: Span) -> bool:
        """True when the two ranges share at least one character."""
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class Chunk:
    """A run of whole sentences of one document.

    ``doc.text[start:end] == text`` always holds. ``headings`` is the heading path the chunk
    sits under: it is retrieval context, never part of a quote.
    """

    chunk_id: str
    doc_id: str
    ordinal: int
    text: str
    start: int
    end: int
    headings: tuple[str, ...] = ()

    @property
    def context(self) -> str:
        """The text that is embedded and tokenized: headings first, then the chunk."""
        return "\n".join((*self.headings, self.text))


@dataclass(frozen=True, slots=True)
class EmbedderInfo:
    """What query-time embedding must repeat to match the vectors in an index."""

    name: str
    dim: int


@dataclass(frozen=True, slots=True)
class IndexManifest:
    """The summary written last into an index generation; a directory without it is no index."""

    format_version: int
    generation: int
    created_at: str
    embedder: EmbedderInfo
    tokenizer: str
    chunk_config: dict[str, int]
    n_docs: int
    n_chunks: int
    store_version: int
    # The segments searched, in order, each with the sha256 of its segment.json.
    segments: dict[str, str] = field(default_factory=dict)
    # Per segment, its documents deleted or replaced since it was written (their rows are not searched).
    tombstones: dict[str, list[str]] = field(default_factory=dict)
    # Why this generation was built: "no index yet", "the documents changed", "damaged generation rebuilt: …".
    reason: str = ""
    # Where its chunks are searched: "embedded" (its segments' postings and vectors) or "milvus" (a
    # collection; the segments then hold no vectors).
    engine: str = "embedded"
