"""Sentence-aware chunking of Chinese text, with offsets into the document's text.

A sentence ends at ``。！？；`` (full or half width) or a line break, and takes along the closing
quotes and brackets right after it; an end mark inside a quotation does not end the sentence.
Chunks are runs of whole sentences packed up to ``max_chars``, with one sentence of overlap; a
heading line (``六项重点任务具体为:``, ``一、…``, ``第二章 …``) starts a new chunk and becomes
retrieval context for the chunks under it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.config import ChunkConfig
from ingest.types import Chunk, Document, Span

_END = frozenset("。！？；!?;")
_CLOSERS = frozenset("”’」』）)》】")
_OPENERS = {"“": "”", "「": "」", "『": "』", "‘": "’"}
# Heading patterns, outermost first; the index is the heading's level.
_HEADING_LEVELS = (
    re.compile(r"^第[一二三四五六七八九十百零〇\d]+[编章节部分]"),
    re.compile(r"^[一二三四五六七八九十]+、"),
    re.compile(r"^[（(][一二三四五六七八九十]+[）)]"),
    re.compile(r"^\d+[.、．](?!\d)"),
)
_COLON_HEADING_LEVEL = len(_HEADING_LEVELS)
_MAX_HEADING_CHARS = 40


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Spans of the sentences of ``text[start:end]``, in document offsets, without blank space.

    Args:
        text: the whole document text.
        start: where to begin; a sentence never starts before it.
        end: where to stop (default: the end of ``text``).
    """
    stop = len(text) if end is None else end
    spans: list[Span] = []
    begin, depth, closer = start, 0, ""
    i = start
    while i < stop:
        ch = text[i]
        if ch == "\n":
            depth = 0  # a quotation never runs past the end of its line
        elif ch in _OPENERS and depth == 0:
            depth, closer = 1, _OPENERS[ch]
        elif depth and ch == closer:
            depth = 0
        cut = ch == "\n" or (ch in _END and depth == 0)
        if depth and ch in _END and i + 1 < stop and text[i + 1] == closer:
            cut, depth = True, 0  # 。” ends the quotation and the sentence together
            i += 1
        if cut:
            while i + 1 < stop and text[i + 1] in _CLOSERS:
                i += 1
            spans.append(Span(begin, i + 1))
            begin = i + 1
        i += 1
    spans.append(Span(begin, stop))
    return [s for s in (_trim(text, s) for s in spans) if s.end > s.start]


def _trim(text: str, span: Span) -> Span:
    start, end = span.start, span.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end)


def heading_level(line: str) -> int | None:
    """The level of a heading line (0 is outermost), or None when the line is body text."""
    line = line.strip()
    if not line or len(line) > _MAX_HEADING_CHARS:
        return None
    if line[-1] in ":：":
        return _COLON_HEADING_LEVEL
    if line[-1] in _END or "。" in line:
        return None
    for level, pattern in enumerate(_HEADING_LEVELS):
        if pattern.match(line):
            return level
    return None


@dataclass(slots=True)
class _Packer:
    """Accumulates sentences into chunks for one document."""

    doc: Document
    cfg: ChunkConfig
    chunks: list[Chunk]
    current: list[Span]
    headings: tuple[str, ...] = ()
    chunk_headings: tuple[str, ...] = ()

    def add(self, span: Span) -> None:
        if self.current and span.end - self.current[0].start > self.cfg.max_chars:
            overlap = self.current[-self.cfg.overlap_sentences :] if self.cfg.overlap_sentences else []
            self.flush()
            if overlap and span.end - overlap[0].start <= self.cfg.max_chars:
                self.current = list(overlap)
                self.chunk_headings = self.headings
        if not self.current:
            # A chunk carries the headings in force where it starts; a heading inside it is its own text.
            self.chunk_headings = self.headings
        self.current.append(span)

    def flush(self) -> None:
        if not self.current:
            return
        start, end = self.current[0].start, self.current[-1].end
        self.chunks.append(
            Chunk(
                chunk_id=f"{self.doc.doc_id}:{start}-{end}",
                doc_id=self.doc.doc_id,
                ordinal=len(self.chunks),
                text=self.doc.text[start:end],
                start=start,
                end=end,
                headings=self.chunk_headings,
            )
        )
        self.current = []


def _line_spans(text: str) -> list[Span]:
    spans, pos = [], 0
    for line in text.split("\n"):
        spans.append(Span(pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def chunk_document(doc: Document, cfg: ChunkConfig) -> list[Chunk]:
    """Cut a document into chunks of whole sentences; ``doc.text[c.start:c.end] == c.text``."""
    packer = _Packer(doc, cfg, [], [])
    stack: list[tuple[int, str]] = []
    for line in _line_spans(doc.text):
        level = heading_level(doc.text[line.start : line.end])
        if level is not None:
            packer.flush()
            stack = [(lv, h) for lv, h in stack if lv < level]
            packer.headings = tuple(h for _, h in stack)
            stack.append((level, doc.text[line.start : line.end].strip()))
        for span in split_sentences(doc.text, line.start, line.end):
            packer.add(span)
        if level is not None:
            # The heading line itself is text of this chunk; the chunks after it carry it as context.
            packer.headings = tuple(h for _, h in stack)
    packer.flush()
    return packer.chunks
