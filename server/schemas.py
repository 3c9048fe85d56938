"""The JSON shapes of the HTTP API (pydantic lives here and in settings, nowhere else)."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest.types import Document, IndexManifest
from retriever.config import MAX_QUESTION_CHARS
from retriever.types import Answer, Citation

TOP_K_DEFAULT = 5
TOP_K_MAX = 20


class AskRequest(BaseModel):
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

    @classmethod
    def from_domain(cls, citation: Citation) -> CitationOut:
        """The API form of a retriever citation."""
        return cls.model_validate(citation)


class AnswerOut(BaseModel):
    """The answer to a question, or an abstention with related passages instead of citations."""

    question: str
    answer: str
    abstained: bool
    confidence: float
    citations: list[CitationOut]
    related: list[CitationOut]
    timings_ms: dict[str, float]
    index_generation: int

    @classmethod
    def from_domain(cls, answer: Answer, generation: int) -> AnswerOut:
        """The API form of a retriever answer from index generation ``generation``."""
        return cls(
            question=answer.question,
            answer=answer.text,
            abstained=answer.abstained,
            confidence=answer.confidence,
            citations=[CitationOut.from_domain(c) for c in answer.citations],
            related=[CitationOut.from_domain(c) for c in answer.related],
            timings_ms=dict(answer.timings_ms),
            index_generation=generation,
        )


class DocumentSummary(BaseModel):
    """A document's metadata, as listed by ``GET /api/documents``."""

    model_config = ConfigDict(from_attributes=True)

    doc_id: str
    title: str
    source: str
    author: str
    published: date | None
    doc_number: str | None
    issuer: str
    n_chunks: int

    @classmethod
    def from_domain(cls, doc: Document, n_chunks: int) -> DocumentSummary:
        """The summary of a document that has ``n_chunks`` chunks in the index."""
        return cls.model_validate({**_fields(doc), "n_chunks": n_chunks})


class DocumentOut(DocumentSummary):
    """A whole document: ``text`` is the clean text that every citation's offsets refer to."""

    source_url: str | None
    text: str

    @classmethod
    def from_domain(cls, doc: Document, n_chunks: int) -> DocumentOut:
        """The full API form of a document that has ``n_chunks`` chunks in the index."""
        return cls.model_validate({**_fields(doc), "n_chunks": n_chunks})


class Health(BaseModel):
    """What is being served."""

    status: Literal["ok"] = "ok"
    documents: int
    chunks: int
    embedding_model: str
    index_generation: int
    tokenizer: str

    @classmethod
    def from_manifest(cls, manifest: IndexManifest) -> Health:
        """The health report of a server serving the generation of ``manifest``."""
        return cls(
            documents=manifest.n_docs,
            chunks=manifest.n_chunks,
            embedding_model=manifest.embedder.name,
            index_generation=manifest.generation,
            tokenizer=manifest.tokenizer,
        )


class ErrorOut(BaseModel):
    """An error reply: ``detail`` says what was wrong and what to do."""

    detail: str


def _fields(doc: Document) -> dict[str, object]:
    return {f.name: getattr(doc, f.name) for f in fields(doc)}
