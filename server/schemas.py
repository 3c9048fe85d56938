"""The JSON shapes of the HTTP API (pydantic lives here and in settings, nowhere else)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ingest.doc_type import doc_type
from ingest.library import Received
from ingest.regions import check_lineage
from ingest.types import DocStatus, Document, IndexManifest
from ingest.unicode import invalid_at
from retriever.config import MAX_QUESTION_CHARS
from retriever.filters import Filters
from retriever.followup import MAX_HISTORY
from retriever.types import Answer, Citation
from server.feedback import REASONS, Feedback, Rating, Reason

TOP_K_DEFAULT = 5
TOP_K_MAX = 20


def _first_invalid(value: object, path: str = "body") -> str | None:
    """Where in a JSON-like value the first string (or key) that is not valid Unicode is, or None."""
    if isinstance(value, str):
        return path if invalid_at(value) is not None else None
    if isinstance(value, dict):
        for k, v in value.items():
            where = f"{path}.{k}" if invalid_at(str(k)) is None else path + " (a key)"
            if (found := _first_invalid(k, where) or _first_invalid(v, where)) is not None:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            if (found := _first_invalid(v, f"{path}[{i}]")) is not None:
                return found
    return None


class Incoming(BaseModel):
    """A request body: every string in it, keys included, must be valid Unicode (``ingest.unicode``)."""

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: object) -> object:
        where = _first_invalid(data)
        if where is not None:
            raise ValueError(
                f"{where} is not valid Unicode (it holds a lone surrogate such as \\ud800); send UTF-8 text"
            )
        return data


class AskFilters(BaseModel):
    """Which documents may answer: all filters given must hold (``retriever.filters``)."""

    model_config = ConfigDict(extra="forbid")

    region: str | None = Field(
        default=None, min_length=1, max_length=30, description="A province, city or district (重庆, 九江市)."
    )
    issuer: str | None = Field(default=None, min_length=1, max_length=200, description="Part of the issuer's name.")
    doc_type: str | None = Field(
        default=None, min_length=1, max_length=10, description="通知, 报告, 意见, 办法 … or 其他 (see GET /api/facets)."
    )
    published_from: date | None = Field(default=None, description="Published on or after this day.")
    published_to: date | None = Field(default=None, description="Published on or before this day.")
    doc_ids: list[str] | None = Field(
        default=None, min_length=1, max_length=1000, description="Only these documents (在本文中提问: one)."
    )

    def to_domain(self) -> Filters:
        """The retriever's form of these filters."""
        values = self.model_dump(exclude={"doc_ids"})
        return Filters(**values, doc_ids=None if self.doc_ids is None else frozenset(self.doc_ids))

    @model_validator(mode="after")
    def _possible(self) -> AskFilters:
        self.to_domain()  # FilterError is a ValueError: an unknown region or an empty date range is a 422
        return self


class AskRequest(Incoming):
    """A question to answer from the indexed documents."""

    model_config = ConfigDict(extra="forbid")

    # No max_length here: the retriever's check_question gives the friendlier message (and
    # counts characters after stripping blanks, as the answer does).
    question: str = Field(
        strict=True,
        description=f"The question, 1 to {MAX_QUESTION_CHARS} characters after stripping blanks.",
        examples=["脱贫人口收入是多少"],
    )
    top_k: int = Field(
        default=TOP_K_DEFAULT, ge=1, le=TOP_K_MAX, strict=True, description="At most this many citations."
    )
    filters: AskFilters | None = Field(
        default=None, description="Answer from the documents that pass every filter given, and cite only them."
    )
    history: list[str] = Field(
        default=[],
        max_length=50,
        description="The conversation's previous questions, oldest first: a follow-up (那贵州呢？) is read "
        f"against them (the last {MAX_HISTORY} count) and answered as ``resolved_question``.",
    )

    @field_validator("history")
    @classmethod
    def _turns_fit(cls, history: list[str]) -> list[str]:
        for i, turn in enumerate(history):
            if len(turn.strip()) > MAX_QUESTION_CHARS:
                raise ValueError(f"history[{i}] has more than {MAX_QUESTION_CHARS} characters")
        return history


class CitationOut(BaseModel):
    """A verbatim quote: ``GET /api/documents/{doc_id}`` text ``[start:end]`` equals ``quote``."""

    model_config = ConfigDict(from_attributes=True)

    doc_id: str
    title: str
    chunk_id: str
    quote: str
    start: int
    end: int
    score: float
    doc_number: str | None
    published: date | None
    page: int | None = Field(default=None, description="The PDF page the quote starts on (第N页).")
    context: str = Field(description="The quote's whole sentence(s), verbatim; it contains the quote.")
    context_start: int = Field(description="Where ``context`` starts in the document text.")
    answer_part: bool = Field(description="Whether the quote is part of the answer's text.")
    ocr: bool = Field(
        default=False, description="Whether the cited page was read by OCR (a scan: check the quote against the page)."
    )

    @classmethod
    def from_domain(cls, citation: Citation) -> CitationOut:
        """The API form of a retriever citation."""
        return cls.model_validate(citation)


class AnswerOut(BaseModel):
    """The answer to a question, or an abstention with related passages instead of citations."""

    question: str
    resolved_question: str = Field(
        default="",
        description="The question as answered: a follow-up made whole from ``history`` (那贵州呢 → "
        "贵州脱贫人口收入是多少); the question itself otherwise (empty in an answer kept from before it existed).",
    )
    answer: str
    abstained: bool
    confidence: float
    confidence_level: Literal["high", "check", "none"] = Field(
        description="high: answered; check: answered, but the reader should check the source (请核对原文); "
        "none: refused (abstained)."
    )
    citations: list[CitationOut]
    related: list[CitationOut]
    timings_ms: dict[str, float]
    index_generation: int = Field(ge=0, le=2**63 - 1, description="The index generation that answered.")
    features: dict[str, float] = Field(
        default_factory=dict, description="The evidence features the abstention decision looked at."
    )

    @classmethod
    def from_domain(cls, answer: Answer, generation: int, asked: str | None = None) -> AnswerOut:
        """The API form of a retriever answer from index generation ``generation`` to the question ``asked``
        (by default the one answered)."""
        return cls(
            question=answer.question if asked is None else asked.strip(),
            resolved_question=answer.question,
            answer=answer.text,
            abstained=answer.abstained,
            confidence=answer.confidence,
            confidence_level=answer.confidence_level,
            citations=[CitationOut.from_domain(c) for c in answer.citations],
            related=[CitationOut.from_domain(c) for c in answer.related],
            timings_ms=dict(answer.timings_ms),
            index_generation=generation,
            features={k: round(v, 4) for k, v in answer.features.items()},
        )


Status = Literal["received", "parsed", "indexed", "failed"]


class DocumentSummary(BaseModel):
    """A document's metadata and where it is on its way, as listed by ``GET /api/documents``.

    ``status`` goes ``received`` → ``parsed`` → ``indexed`` (searchable), or ``failed`` with
    ``error`` saying why in Chinese and English.
    """

    doc_id: str
    title: str
    source: str = ""
    author: str = ""
    published: date | None = None
    doc_number: str | None = None
    issuer: str = ""
    region: list[str] = Field(
        default_factory=list,
        description='The place the document is about, full names from the province down (["江西省", "九江市"]); '
        "[] for a national document or when unknown.",
    )
    doc_type: str = Field(
        default="", description="通知, 报告, 意见, 办法 … read from the title; 其他 when it names none."
    )
    n_chunks: int = 0
    status: Status = "indexed"
    error: str | None = None
    filename: str = ""
    progress: str | None = Field(
        default=None, description="What the indexer is doing now, e.g. OCR 3/10 页; null when nothing."
    )

    @classmethod
    def from_domain(cls, doc: Document | None, row: DocStatus) -> DocumentSummary:
        """The summary of a document from its status row and, when served, its indexed form."""
        base: dict[str, object] = _fields(doc) if doc is not None else {"doc_id": row.doc_id}
        # "indexed" is what the server serves: a generation written but not yet swapped in is not.
        served = doc is not None and doc.sha256 == row.sha256
        status = "parsed" if row.status == "indexed" and not served else row.status
        base.update(
            n_chunks=row.n_chunks, status=status, error=row.error, filename=row.filename, issuer=row.issuer,
            title=row.title, doc_number=row.doc_number, published=row.published or base.get("published"),
            region=list(row.region), doc_type=doc_type(row.title or str(base.get("title", ""))),
            progress=row.progress,
        )  # fmt: skip
        return cls.model_validate(base)


class DocumentOut(DocumentSummary):
    """A whole document: ``text`` is the clean text that every citation's offsets refer to.

    ``text`` is the served (indexed) version; it is empty until the document is first indexed.
    ``pages`` lists ``[start, end, page]`` spans of ``text`` for a PDF.
    """

    source_url: str | None = None
    text: str = ""
    pages: list[list[int]] = Field(default=[], description="[start, end, page] spans of text, for a PDF.")
    ocr_pages: list[int] = Field(default=[], description="The 1-based pages whose text was read by OCR (scans).")

    @classmethod
    def from_domain(cls, doc: Document | None, row: DocStatus) -> DocumentOut:
        """The full API form of a document."""
        summary = DocumentSummary.from_domain(doc, row).model_dump()
        if doc is None:
            return cls.model_validate(summary)
        return cls.model_validate(
            {**summary, "source_url": doc.source_url, "text": doc.text, "pages": doc.pages, "ocr_pages": doc.ocr_pages}
        )


class UploadResult(BaseModel):
    """What happened to one uploaded file: acknowledged (``received``), already here, or refused."""

    doc_id: str | None
    title: str
    status: Status
    n_chunks: int = 0
    error: str | None = None
    duplicate: bool = False

    @classmethod
    def from_received(cls, received: Received) -> UploadResult:
        """The result of a stored upload."""
        row = received.status
        return cls.model_validate(
            {"doc_id": row.doc_id, "title": row.title, "status": row.status, "n_chunks": row.n_chunks,
             "error": row.error, "duplicate": received.duplicate}
        )  # fmt: skip


class MetadataPatch(Incoming):
    """Corrections to a document's metadata; fields left out stay as they are, null clears one (not the title)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=300)
    doc_number: str | None = Field(default=None, max_length=100)
    issuer: str | None = Field(default=None, max_length=200)
    published: date | None = None
    region: list[str] | None = Field(
        default=None,
        max_length=3,
        description='Full names from the province down, as the gazetteer has them (["江西省", "九江市"]); '
        "[] for a national document.",
    )

    @field_validator("region")
    @classmethod
    def _region_is_a_lineage(cls, region: list[str] | None) -> list[str] | None:
        return None if region is None else list(check_lineage(region))

    @model_validator(mode="after")
    def _title_is_not_cleared(self) -> MetadataPatch:
        if "title" in self.model_fields_set and self.title is None:
            raise ValueError("title cannot be null: a document always has a title; leave it out to keep it")
        return self

    def changes(self) -> dict[str, str | list[str] | None]:
        """The fields sent, as the store takes them: null clears 文号, issuer, date or region."""
        fields: dict[str, str | list[str] | None] = self.model_dump(mode="json", exclude_unset=True)
        if "issuer" in fields and fields["issuer"] is None:
            fields["issuer"] = ""
        return fields


class FeedbackIn(Incoming):
    """A staff member's judgement of an answer, sent back with the answer exactly as it was shown."""

    model_config = ConfigDict(extra="forbid")

    rating: Rating
    reason: Reason | None = Field(default=None, description="Required with a thumbs-down: " + " / ".join(REASONS))
    comment: str = Field(default="", max_length=2000)
    answer: AnswerOut = Field(description="The reply of POST /api/ask being judged, unchanged.")

    @model_validator(mode="after")
    def _reason_with_down(self) -> FeedbackIn:
        if self.rating == "down" and self.reason is None:
            raise ValueError("a thumbs-down needs a reason: " + " / ".join(REASONS))
        return self

    def to_domain(self) -> Feedback:
        """The feedback to store, with the answer as its trace."""
        return Feedback(self.rating, self.reason, self.comment.strip(), self.answer.model_dump(mode="json"))


class FeedbackStored(BaseModel):
    """The id under which a judgement was stored."""

    id: int


class FacetValue(BaseModel):
    """One value of a filter and how many indexed documents hold it."""

    value: str
    count: int = Field(ge=0)


class Facets(BaseModel):
    """The values each filter of ``POST /api/ask`` can take in this library, with their document counts,
    most first (region counts every level: 江西省 holds its cities' documents)."""

    region: list[FacetValue]
    issuer: list[FacetValue]
    doc_type: list[FacetValue]
    year: list[FacetValue]

    @classmethod
    def of(cls, counts: Mapping[str, list[tuple[str, int]]]) -> Facets:
        """The API form of ``retriever.filters.facets``."""
        return cls.model_validate({k: [{"value": v, "count": n} for v, n in pairs] for k, pairs in counts.items()})


class PageConfig(BaseModel):
    """What the page needs to know about this server."""

    auth_required: bool = Field(description="Whether write routes need the X-API-Key header.")


class Health(BaseModel):
    """What is being served."""

    status: Literal["ok", "search engine unavailable"] = "ok"
    search_engine: Literal["embedded", "milvus"] = Field(
        default="embedded", description="Where chunks are searched: files in the data directory, or Milvus."
    )
    search_engine_error: str | None = Field(default=None, description="Why the search engine cannot be reached.")
    documents: int
    chunks: int
    embedding_model: str
    index_generation: int
    tokenizer: str
    index_built_at: str = Field(description="When the served generation was built (UTC, ISO 8601).")
    index_built_because: str = Field(
        description='Why it was built: "no index yet", "the documents changed", '
        '"damaged generation rebuilt: <what was wrong>" …'
    )

    @classmethod
    def from_manifest(cls, manifest: IndexManifest, engine_error: str | None = None) -> Health:
        """The health report of a server serving the generation of ``manifest`` (its search engine
        unreachable when ``engine_error`` says why)."""
        return cls(
            status="search engine unavailable" if engine_error else "ok",
            search_engine="milvus" if manifest.engine == "milvus" else "embedded",
            search_engine_error=engine_error,
            documents=manifest.n_docs,
            chunks=manifest.n_chunks,
            embedding_model=manifest.embedder.name,
            index_generation=manifest.generation,
            tokenizer=manifest.tokenizer,
            index_built_at=manifest.created_at,
            index_built_because=manifest.reason,
        )


class ErrorOut(BaseModel):
    """Every error reply has this shape: ``detail`` says what was wrong and what to do, ``code`` names
    the kind; a request that fails validation also lists ``errors`` field by field."""

    detail: str
    code: str
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Validation errors: each with loc (where), msg (why) and type."
    )


# The kinds of error, by status: the ``code`` of an error reply and its description in the OpenAPI document.
ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request is malformed (such as a multipart body that cannot be parsed)"),
    401: ("unauthorized", "A key is configured and the X-API-Key header is missing or wrong"),
    404: ("not_found", "No document has this id"),
    405: ("method_not_allowed", "The path does not take this method; Allow lists those it takes"),
    409: ("conflict", "A seed document: change seeds/ and restart instead"),
    413: ("too_large", "The request body is larger than ZHENGCE_MAX_UPLOAD_BYTES"),
    415: ("unsupported_media_type", "No file of the upload has a supported type"),
    422: ("invalid_request", "The body or a field is invalid; detail says which and why"),
    500: ("internal_error", "Internal error (logged on the server)"),
    503: (
        "busy",
        "Another process holds the writer lock, or the search engine (Milvus) cannot be reached; try again",
    ),
}


def error_body(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The JSON of an error reply (:class:`ErrorOut`) for an HTTP status."""
    code = ERRORS[status][0] if status in ERRORS else f"http_{status}"
    return ErrorOut(detail=detail, code=code, errors=errors).model_dump(exclude_none=True)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entry declaring these error statuses with their one body shape."""
    return {s: {"model": ErrorOut, "description": ERRORS[s][1]} for s in statuses}


def _fields(doc: Document) -> dict[str, object]:
    return {f.name: getattr(doc, f.name) for f in fields(doc)}
