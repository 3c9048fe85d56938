"""The data that flows out of retrieval: hits, citations and answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from ingest.types import Chunk

Source = Literal["lexical", "dense", "fused"]
# "high": answered; "check": answered with a 请核对原文 mark (the evidence is there but weaker); "none": refused.
ConfidenceLevel = Literal["high", "check", "none"]


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved chunk with its ranking score and both raw signals.

    ``lexical`` is the raw BM25 score and ``dense`` the cosine similarity, whichever list ranked it.
    """

    chunk: Chunk
    score: float
    rank: int
    lexical: float
    dense: float
    source: Source


@dataclass(frozen=True, slots=True)
class Citation:
    """A verbatim quote of a document: ``document.text[start:end] == quote``.

    ``context`` is the text around the quote (its whole sentence or sentences), also verbatim:
    ``document.text[context_start:context_start + len(context)] == context``, and it contains the
    quote. ``answer_part`` marks the citations whose quotes make up the answer's text. ``ocr`` is
    True when the cited page's text was read by OCR (a scan: the quote may have misread characters).
    """

    doc_id: str
    title: str
    chunk_id: str
    quote: str
    start: int
    end: int
    score: float
    doc_number: str | None = None
    published: date | None = None
    page: int | None = None
    context: str = ""
    context_start: int = 0
    answer_part: bool = False
    ocr: bool = False


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply to a question. ``abstained`` implies no citations; ``related`` is offered instead.

    ``confidence_level`` is ``"none"`` exactly when it abstained; an answer below the confident
    level is ``"check"``: shown, with a mark asking the reader to check the source.
    """

    question: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...]
    related: tuple[Citation, ...]
    confidence: float
    hits: tuple[Hit, ...] = ()
    features: dict[str, float] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    confidence_level: ConfidenceLevel = "high"
