"""Structure-aware chunking of Chinese government documents, with offsets into the document's text.

A sentence ends at ``。！？；`` (full or half width) or a line break, and takes along the closing
quotes and brackets right after it; an end mark inside a quotation does not end the sentence. A
table row as the .docx reader writes it (``指标：常住人口；2024年：3190``) is one sentence, so a
value never loses its row and column headers.

A line that starts with a marker (``附件``, ``第X编/章/节/条``, ``一、``, ``（一）``, ``1.``, ``（1）``,
``一是``) opens a unit; a line ending in a colon over a list, or a short line over a table, is a
lead-in whose unit is that list or table. Chunks are runs of whole sentences packed up to
``max_chars`` with one sentence of overlap from the same unit, and

* a heading line or a section (``附件`` … ``第X条``, ``一、``) starts a new chunk, unless the chunk
  holds nothing but heading lines yet (``第一章 总则`` stays with its first 条);
* an item or a lead-in starts a new chunk unless its unit (an item's line, a heading's part, a
  lead-in's list) still fits whole into the current one: a list takes as few chunks as it can;
* a chunk shorter than a third of ``max_chars`` takes along the next sentence, however long;
* a chunk carries the headings it starts under (heading lines, the lead-in of its list, its
  article's number, its table's caption) as ``headings``: retrieval context, never its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.config import ChunkConfig
from ingest.types import Chunk, Document, Span

_END = frozenset("。！？；!?;")
_CLOSERS = frozenset("”’」』）)》】")
_OPENERS = {"“": "”", "「": "」", "『": "』", "‘": "’"}
_N = "一二三四五六七八九十百零〇两"
# Unit markers, outermost first; the index is the rank. Ranks below _SECTION open sections.
_MARKERS = (
    re.compile(r"^附\s*件\s*[\d一二三四五六七八九十]*(?=$|[\s:：])"),
    re.compile(rf"^第[{_N}\d]+(?:编|部分)"),
    re.compile(rf"^第[{_N}\d]+章"),
    re.compile(rf"^第[{_N}\d]+节"),
    re.compile(rf"^第[{_N}\d]+条"),
    re.compile(r"^[一二三四五六七八九十]+、"),
    re.compile(r"^[（(][一二三四五六七八九十]+[）)]"),
    re.compile(r"^\d+[.、．](?!\d)"),
    re.compile(r"^[（(]\d+[）)]"),
    re.compile(r"^[一二三四五六七八九十]+是"),
)
_ARTICLE = 4
_SECTION = 6
_LEAD_IN = len(_MARKERS)
# Longer lines are body text, not headings; a longer lead-in or item title is cut to a clause.
_MAX_HEADING_CHARS = 40
# A longer line is prose that happens to look like ``key：value；key：value``, not a table row.
_MAX_ROW_CHARS = 300
_ROW_FIELD = re.compile(r"[^：:，,。；;]{1,30}：")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Spans of the sentences of ``text[start:end]``, in document offsets, without blank space.

    Args:
        text: the whole document text.
        start: where to begin; a sentence never starts before it.
        end: where to stop (default: the end of ``text``).
    """
    stop = len(text) if end is None else end
    spans: list[Span] = []
    begin = start
    while begin < stop:
        newline = text.find("\n", begin, stop)
        line = trim_span(text, Span(begin, stop if newline < 0 else newline))
        if _is_table_row(text[line.start : line.end]):
            spans.append(line)
        else:
            spans.extend(_line_sentences(text, line))
        begin = stop if newline < 0 else newline + 1
    return spans


def _line_sentences(text: str, line: Span) -> list[Span]:
    spans: list[Span] = []
    begin, depth, closer = line.start, 0, ""
    i, stop = line.start, line.end
    while i < stop:
        ch = text[i]
        if ch in _OPENERS and depth == 0:
            depth, closer = 1, _OPENERS[ch]
        elif depth and ch == closer:
            depth = 0
        cut = ch in _END and depth == 0
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
    return [s for s in (trim_span(text, s) for s in spans) if s.end > s.start]


def trim_span(text: str, span: Span) -> Span:
    """``span`` without the blank space at its ends."""
    piece = text[span.start : span.end]
    start = span.start + len(piece) - len(piece.lstrip())
    return Span(start, max(start, span.end - (len(piece) - len(piece.rstrip()))))


def _is_table_row(line: str) -> bool:
    fields = [f for f in line.split("；") if f]
    keyed = sum(1 for f in fields if _ROW_FIELD.match(f))  # a cell under an empty header cell has no key
    return keyed >= 2 and 2 * keyed >= len(fields) and len(line) <= _MAX_ROW_CHARS


def _marker(line: str) -> int | None:
    return next((rank for rank, pattern in enumerate(_MARKERS) if pattern.match(line)), None)


def heading_level(line: str) -> int | None:
    """The level of a heading line (0 is outermost), or None when the line is body text.

    A heading is short and holds no sentence (``一、总体要求``, not ``一、总体要求。正文……``).
    Levels: 0 附件, 1 第X编/部分, 2 章, 3 节, 4 条, 5 ``一、``, 6 ``（一）``, 7 ``1.``, 8 ``（1）``,
    9 ``一是``; 10 is a lead-in line ending in a colon (``六项重点任务具体为:``).
    """
    line = line.strip()
    if not line or len(line) > _MAX_HEADING_CHARS or any(ch in _END for ch in line):
        return None
    rank = _marker(line)
    if rank is None and line[-1] in ":：":
        return _LEAD_IN
    return rank


@dataclass(frozen=True, slots=True)
class _Kind:
    """What a line means for the outline: the rank and title of the unit it opens, and what closes it."""

    rank: int | None  # a marker's rank, _LEAD_IN, or None for body text and table rows
    title: str = ""
    closed_by: int | None = None  # a marker of this rank or above closes it; None: a line that is no table row
    heading: bool = False  # the whole line is a heading


def _classify(line: str, nxt: str) -> _Kind:
    level = heading_level(line)
    rank = _marker(line) if level is None else level
    heading = level is not None
    if rank is not None and rank != _LEAD_IN:
        return _Kind(rank, _item_title(line, rank), rank, heading)
    lead_in = line[-1] in ":："
    if _is_table_row(nxt) and not _is_table_row(line) and (lead_in or len(line) <= _MAX_HEADING_CHARS):
        return _Kind(_LEAD_IN, _lead_in_title(line), None, heading)  # a table's caption
    item = _marker(nxt)
    if lead_in and item is not None and item >= _SECTION:
        return _Kind(_LEAD_IN, _lead_in_title(line), item - 1, heading)  # a list's lead-in: ends with the list
    if heading:
        return _Kind(_LEAD_IN, line, _LEAD_IN, heading)  # "各位代表：": ends at the next marker
    return _Kind(None)


def _item_title(line: str, rank: int) -> str:
    """An item's heading: the line if it is a heading or a short lead-in, an article's number, else none.

    The first sentence of an item is not made a heading: on the evals it cost more than it helped.
    """
    if heading_level(line) is not None or (line[-1] in ":：" and len(line) <= _MAX_HEADING_CHARS):
        return line
    marker = _MARKERS[rank].match(line)
    return marker.group() if marker and rank == _ARTICLE else ""


def _lead_in_title(line: str) -> str:
    """A lead-in's heading: its last sentence, or that sentence's last clause if it is long."""
    last = line[split_sentences(line)[-1].start :]
    if len(last) > _MAX_HEADING_CHARS:
        last = last[max(last.rfind("，"), last.rfind(",")) + 1 :]
    return last[-_MAX_HEADING_CHARS:]


@dataclass(frozen=True, slots=True)
class _Unit:
    """A non-blank line placed in the outline."""

    span: Span
    kind: _Kind
    before: tuple[str, ...]  # the heading path where the line starts
    after: tuple[str, ...]  # the heading path after it
    end: int  # where the unit the line opens ends (its own end for body text)


def _close(stack: list[tuple[int, _Kind]], kind: _Kind, row: bool) -> list[int]:
    """Pop the units a line closes, giving their lines; a lead-in replaces the innermost lead-in and its list."""
    closed: list[tuple[int, _Kind]] = []
    if kind.rank == _LEAD_IN and kind.closed_by is not None and any(k.rank == _LEAD_IN for _, k in stack):
        while not closed or closed[-1][1].rank != _LEAD_IN:
            closed.append(stack.pop())
    while stack and (
        not row if stack[-1][1].closed_by is None else kind.rank is not None and kind.rank <= stack[-1][1].closed_by
    ):
        closed.append(stack.pop())
    return [line for line, _ in closed]


def _outline(text: str) -> list[_Unit]:
    spans = [s for s in (trim_span(text, Span(*m.span())) for m in re.finditer(r"[^\n]+", text)) if s.end > s.start]
    lines = [text[s.start : s.end] for s in spans]
    kinds = [_classify(line, nxt) for line, nxt in zip(lines, [*lines[1:], ""], strict=False)]
    ends = [s.end for s in spans]
    stack: list[tuple[int, _Kind]] = []
    paths: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for i, kind in enumerate(kinds):
        for opened in _close(stack, kind, _is_table_row(lines[i])):
            ends[opened] = spans[i - 1].end
        before = tuple(k.title for _, k in stack)
        if kind.title:  # an item without a title is a unit of its own line only
            stack.append((i, kind))
        paths.append((before, tuple(k.title for _, k in stack)))
    for opened, _ in stack:
        ends[opened] = spans[-1].end
    return [_Unit(s, k, b, a, e) for s, k, (b, a), e in zip(spans, kinds, paths, ends, strict=True)]


@dataclass(slots=True)
class _Packer:
    """Accumulates sentences into chunks for one document."""

    doc: Document
    cfg: ChunkConfig
    chunks: list[Chunk]
    current: list[Span]
    headings: tuple[str, ...] = ()
    chunk_headings: tuple[str, ...] = ()
    unit_start: int = 0
    unit_before: tuple[str, ...] = ()
    heading_only: bool = False

    def starts_chunk(self, unit: _Unit) -> bool:
        """Whether a line that opens a unit must start a new chunk."""
        if not self.current or self.heading_only:
            return False
        if unit.kind.heading or (unit.kind.rank is not None and unit.kind.rank < _SECTION):
            return True
        # Tiny chunks are worse than an item sharing a chunk with the text before it.
        return not self.tiny() and unit.end - self.current[0].start > self.cfg.max_chars

    def add(self, span: Span, heading: bool) -> None:
        n = self.cfg.overlap_sentences
        if self.current and not self.tiny() and span.end - self.current[0].start > self.cfg.max_chars:
            overlap = self.current[-n:] if n else []
            overlap = overlap if overlap and overlap[0].start >= self.unit_start else []
            self.flush()
            if overlap and span.end - overlap[0].start <= self.cfg.max_chars:
                self.start(overlap[0])
                self.current, self.heading_only = list(overlap), False
        if not self.current:
            self.start(span)
        self.current.append(span)
        self.heading_only = self.heading_only and heading

    def start(self, span: Span) -> None:
        # A chunk that starts with a unit's title (its first line; a lead-in's last sentence) holds it as text.
        headings = self.unit_before if span.start == self.unit_start else self.headings
        repeated = headings and self.doc.text.startswith(headings[-1], span.start)
        self.chunk_headings, self.heading_only = headings[:-1] if repeated else headings, True

    def tiny(self) -> bool:
        # Headings or a few words are never a chunk of their own: they take along the next sentence.
        return self.heading_only or self.current[-1].end - self.current[0].start < self.cfg.max_chars // 3

    def flush(self) -> None:
        if not self.current:
            return
        start, end, doc_id = self.current[0].start, self.current[-1].end, self.doc.doc_id
        text, headings = self.doc.text[start:end], self.chunk_headings
        self.chunks.append(Chunk(f"{doc_id}:{start}-{end}", doc_id, len(self.chunks), text, start, end, headings))
        self.current = []


def chunk_document(doc: Document, cfg: ChunkConfig) -> list[Chunk]:
    """Cut a document into chunks of whole sentences along its outline; ``doc.text[c.start:c.end] == c.text``."""
    packer = _Packer(doc, cfg, [], [])
    for unit in _outline(doc.text):
        if unit.kind.rank is not None:
            if packer.starts_chunk(unit):
                packer.flush()
            packer.unit_start, packer.unit_before = unit.span.start, unit.before
        packer.headings = unit.after
        for span in split_sentences(doc.text, unit.span.start, unit.span.end):
            packer.add(span, unit.kind.heading)
    packer.flush()
    return packer.chunks
