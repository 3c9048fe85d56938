"""Read a .docx into lines: body paragraphs and tables in document order, after a zip-bomb check.

The zip is checked before python-docx sees it: the entry count, the declared sizes, and the size
each entry really inflates to (its raw deflate stream is inflated with a running cap, because the
sizes a zip declares can lie). A table becomes one line per row, ``header：value；header：value``,
so a row keeps its column headers; the first row is the header (after title rows merged across the
table, which become lines of their own), horizontally merged cells count once, and a vertically
merged cell repeats its value in every row it spans.

Not read: headers and footers, footnotes, comments, text boxes, nested tables, and the numbers
Word's automatic numbering draws in front of a paragraph (they are not in the text).
"""

from __future__ import annotations

import io
import logging
import struct
import zipfile
import zlib
from collections.abc import Iterator

from docx import Document
from docx.document import Document as DocxDocument
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn
from docx.table import Table, _Row
from docx.text.paragraph import Paragraph
from lxml import etree

from ingest.errors import DocumentError

logger = logging.getLogger(__name__)

_LOCAL_HEADER = struct.Struct("<4s22xHH")
_LOCAL_HEADER_MAGIC = b"PK\x03\x04"
_INFLATE_CHUNK = 1 << 16
_HEADING_STYLES = ("Heading", "标题", "Title")
_TEXT_TAGS = {qn("w:t"): None, qn("w:tab"): "\t", qn("w:br"): "\n", qn("w:cr"): "\n", qn("w:noBreakHyphen"): "-"}
_TEXTBOX = qn("w:txbxContent")


def read_docx(name: str, data: bytes, max_entries: int, max_inflated: int) -> tuple[list[str], str]:
    """Read a .docx into stripped, non-empty lines and a title.

    Args:
        name: The file name, for error messages.
        data: The .docx bytes.
        max_entries: The most zip entries allowed.
        max_inflated: The most bytes all entries together may inflate to.

    Returns:
        The lines in document order, and the text of the first Title- or Heading-styled
        paragraph (``""`` if none).

    Raises:
        DocumentError: If the file is not a zip or not a Word document, or inflates too much.
    """
    check_zip(name, data, max_entries, max_inflated)
    try:
        document = Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, etree.XMLSyntaxError) as e:
        raise DocumentError(
            f"{name!r}: DOCX 文件损坏或不是 Word 文档 / the DOCX is corrupt or not a Word document ({e}); "
            "open it in Word and save it again as .docx"
        ) from e
    lines: list[str] = []
    title = ""
    body = document.element.body
    for block in _blocks(document, body) if body is not None else ():
        if isinstance(block, Table):
            lines.extend(_table_lines(block))
            continue
        text = _paragraph_lines(block)
        lines.extend(text)
        style = block.style.name if block.style is not None else None
        if text and not title and (style or "").startswith(_HEADING_STYLES):
            title = " ".join(text)
    return lines, title


def check_zip(name: str, data: bytes, max_entries: int, max_inflated: int) -> None:
    """Refuse a zip with too many entries, or whose entries inflate to more than ``max_inflated``.

    Raises:
        DocumentError: If the data is not a zip, or is a (possible) zip bomb.
    """
    bomb = f"{name!r}: DOCX 解压后过大（疑似压缩炸弹）/ the DOCX inflates too much (possible zip bomb)"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as e:
        raise DocumentError(
            f"{name!r}: DOCX 不是有效的 zip 文件 / the DOCX is not a valid zip file ({e}); save it again as .docx"
        ) from e
    if len(infos) > max_entries:
        raise DocumentError(f"{bomb}: {len(infos)} entries, more than max_zip_entries={max_entries}")
    declared = sum(info.file_size for info in infos)
    if declared > max_inflated:
        raise DocumentError(f"{bomb}: declares {declared} bytes, more than max_inflated_bytes={max_inflated}")
    total = 0
    for info in infos:
        total += _inflated_size(name, data, info, max_inflated - total)
        if total > max_inflated:
            raise DocumentError(f"{bomb}: {info.filename!r} inflates past max_inflated_bytes={max_inflated}")
    logger.debug("%s: %d zip entries inflate to %d bytes", name, len(infos), total)


def _inflated_size(name: str, data: bytes, info: zipfile.ZipInfo, budget: int) -> int:
    """Inflate one entry's raw stream and count the bytes, stopping once past ``budget``."""
    corrupt = f"{name!r}: DOCX 文件损坏 / the DOCX is corrupt"
    header = data[info.header_offset : info.header_offset + _LOCAL_HEADER.size]
    if len(header) < _LOCAL_HEADER.size or _LOCAL_HEADER.unpack(header)[0] != _LOCAL_HEADER_MAGIC:
        raise DocumentError(f"{corrupt}: entry {info.filename!r} has no local header; save it again as .docx")
    name_len, extra_len = _LOCAL_HEADER.unpack(header)[1:]
    start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
    raw = memoryview(data)[start : start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        return len(raw)
    if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x1:
        raise DocumentError(f"{corrupt}: entry {info.filename!r} is encrypted or uses an unusual compression")
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    size = 0
    try:
        for offset in range(0, len(raw), _INFLATE_CHUNK):
            pending = bytes(raw[offset : offset + _INFLATE_CHUNK])
            while pending and size <= budget:
                size += len(inflater.decompress(pending, _INFLATE_CHUNK))
                pending = inflater.unconsumed_tail
            if size > budget:
                break
    except zlib.error as e:
        raise DocumentError(f"{corrupt}: entry {info.filename!r} does not inflate ({e}); save it again") from e
    return size


def _blocks(document: DocxDocument, parent: etree._Element) -> Iterator[Paragraph | Table]:
    """Body paragraphs and tables in document order, including those inside content controls."""
    for child in parent.iterchildren():
        if child.tag == qn("w:p"):
            yield Paragraph(child, document)
        elif child.tag == qn("w:tbl"):
            yield Table(child, document)
        elif child.tag == qn("w:sdt"):
            for content in child.iterchildren(qn("w:sdtContent")):
                yield from _blocks(document, content)


def _paragraph_lines(paragraph: Paragraph) -> list[str]:
    """The stripped, non-empty lines of a paragraph, with tracked insertions, without text boxes."""
    parts: list[str] = []
    for element in paragraph._p.iter(*_TEXT_TAGS):
        if any(True for _ in element.iterancestors(_TEXTBOX)):
            continue
        fixed = _TEXT_TAGS[element.tag]
        parts.append(element.text or "" if fixed is None else fixed)
    return [line.strip() for line in "".join(parts).splitlines() if line.strip()]


def _table_lines(table: Table) -> list[str]:
    """One line per row (``header：value；…``); a one-column table gives its cells' lines.

    A row merged across the whole table at the top is the table's title, not its header: it
    becomes a line of its own before the rows (the chunker keeps it as the rows' heading).
    """
    rows = [row for row in (_row_cells(row) for row in table.rows) if any(text for _, text in row)]
    if not rows:
        return []
    if max(len(row) for row in rows) == 1:
        return [row[0][1] for row in rows]
    titles = []
    while len(rows[0]) == 1:
        titles.append(rows.pop(0)[0][1])
    header, *body = rows
    if not body:
        return [*titles, "；".join(text for _, text in header if text)]
    return [*titles, *("；".join(_pair(header, column, text) for column, text in row if text) for row in body)]


def _pair(header: list[tuple[int, str]], column: int, text: str) -> str:
    """``key：text``, the key being the header cell over grid ``column``; just ``text`` if none."""
    key = next((key for start, key in reversed(header) if start <= column), "")
    return f"{key}：{text}" if key else text


def _row_cells(row: _Row) -> list[tuple[int, str]]:
    """``(grid column, text)`` of each distinct cell of a row; a merged cell counts once."""
    cells: list[tuple[int, str]] = []
    previous = None
    for column, cell in enumerate(row.cells):
        if cell._tc is previous:  # python-docx repeats a horizontally merged cell per grid column
            continue
        previous = cell._tc
        cells.append((column, " ".join(line for p in cell.paragraphs for line in _paragraph_lines(p))))
    return cells
