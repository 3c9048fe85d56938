"""Read the files staff receive (.txt .md .html .htm .pdf .docx, scans) into clean, offset-stable text.

``read_document(filename, data)`` never touches the file system; only the extension of the name's
last component picks a reader. Every failure is a ``DocumentError`` in Chinese and English naming
the file. The text has no ``\\r``, no blank lines, no control characters and only stripped lines;
it is not NFC-normalised (it is shown as the source has it).

* .txt/.md: decoded (BOM, strict UTF-8, else the most Chinese-looking of charset-normalizer's guess,
  GB18030 and Big5), broken lines joined (``_tidy``), then ``clean_text``. Markdown loses only line
  syntax: ``#`` marks, ``>`` marks, ``- * +`` bullets, fences, rules, table separator rows.
* .html/.htm: trafilatura's main content (else the ``<body>`` text), then the same as .txt.
* .pdf: ``ingest.pdf_worker`` (OCR for pages without a text layer). .png/.jpg/.jpeg/.tif/.tiff: one
  page read by OCR in the same worker; neither goes through ``clean_text``.
* .docx: ``ingest.docx_reader``'s lines, then ``clean_text``: a Word copy of a news page keeps its
  byline (``来源：贵州日报``), which becomes the document's source instead of a line of its text.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import PureWindowsPath

import charset_normalizer
import lxml.html
import trafilatura
from lxml import etree
from trafilatura.settings import Document as ExtractedPage

from ingest.clean import clean_text
from ingest.docx_reader import read_docx
from ingest.errors import DocumentError
from ingest.metadata import guess_title
from ingest.ocr import MAX_PAGES as MAX_OCR_PAGES
from ingest.ocr import OcrConfig
from ingest.pdf_worker import WorkerLimits, read_image, read_pdf

logger = logging.getLogger(__name__)

_IMAGES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
_FORMATS = {
    ".txt": "txt", ".md": "md", ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx",
    **dict.fromkeys(_IMAGES, "image"),
}  # fmt: skip
SUPPORTED = frozenset(_FORMATS)
_NAME_MAX_CHARS = 120  # of a file name shown in an error message
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Before decoding, C0 controls but \t\n\v\f\r; after, also C1, U+FFFD, private use: rare in real text.
_CONTROL_BYTES = bytes([*range(0x09), *range(0x0E, 0x20), 0x7F])
_BAD_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd\ue000-\uf8ff]")
# The most control bytes (before decoding) or bad characters (after) that text may have.
_MAX_JUNK_SHARE = 0.01
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Decode with the superset a legacy name stands for in practice.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030", "big5": "big5hkscs", "cp950": "big5hkscs"}
# The most frequent Chinese characters, simplified and traditional: a right decoding of Chinese
# text is full of them, GBK read as Big5 (or the reverse) is not.
_COMMON_CJK = frozenset(
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后"
    "多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把這為個國來們"
)
_CJK_RANGE = re.compile(r"[\u4e00-\u9fff]")
# Characters a Chinese document is made of; a wrong decoding brings kana, hangul, radicals, rare forms.
_USUAL_CHARS = re.compile(r"[\s\x20-\x7e\u00b7\u2010-\u206f\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_SITE_SUFFIX = re.compile(r"(?<=\S{4})\s*(?:[_|｜]|\s[-–—]\s).*$")  # "标题_栏目_某市人民政府门户网站"
_HTML_DROP_TAGS = ("script", "style", "noscript", "template")
_HTML_BLOCK_TAGS = ("p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol")
_MD_DROP = re.compile(r"^\s*(?:```.*|~~~.*|(?:[-*_]\s*){3,}|={3,}|\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?)$")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_MD_PREFIX = re.compile(r"^\s{0,3}(?:(?:>\s?)+|[-*+]\s+)")
# Chinese typesetting never starts a line with these marks nor ends one with those: a line break
# next to them is a broken sentence (gov_work_reports: a linked title on its own line).
_NO_LINE_START = tuple("，。、；：！？）」』》”’】〕")
_NO_LINE_END = tuple("《“（「『【〔‘")


class UnsupportedFormatError(DocumentError):
    """The file's extension is not one of ``SUPPORTED``."""


@dataclass(frozen=True, slots=True)
class PageSpan:
    """The part ``text[start:end]`` of a PDF's text that comes from page ``page`` (1-based)."""

    start: int
    end: int
    page: int


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    r"""A file read into clean text; every offset (``pages``, later chunks) refers to ``text``.

    Attributes:
        text: Stripped, non-empty lines joined by ``"\n"``.
        title: The best guess at the title, ``""`` if none.
        pages: For a PDF or an image, the span of each page with text, in order; empty otherwise.
        author: The author named by the text's byline, ``""`` if none.
        published: The date on the byline (or in HTML metadata), ``None`` if none.
        fmt: ``"txt"``, ``"md"``, ``"html"``, ``"pdf"``, ``"docx"`` or ``"image"``.
        source: The ``来源`` the byline names, ``""`` if none.
        ocr_pages: The 1-based pages whose text was read by OCR.
    """

    text: str
    title: str
    pages: tuple[PageSpan, ...]
    author: str
    published: date | None
    fmt: str
    source: str = ""
    ocr_pages: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """Resource limits for reading one upload; the defaults suit a policy-document service."""

    max_bytes: int = 50 * 2**20
    max_inflated_bytes: int = 200 * 2**20
    max_zip_entries: int = 2000
    pdf_timeout_s: float = 30.0
    max_pages: int = 2000
    # Added to pdf_timeout_s for each page without a text layer (OCR of a page takes 3-10 s here).
    ocr_page_timeout_s: float = 60.0
    max_ocr_pages: int = MAX_OCR_PAGES  # a scan needing more is refused (see OcrConfig)


_DEFAULT_LIMITS = ReadLimits()


def read_document(
    filename: str,
    data: bytes,
    limits: ReadLimits = _DEFAULT_LIMITS,
    progress: Callable[[int, int], None] | None = None,
) -> ParsedDocument:
    """Read an uploaded file into clean text.

    Args:
        filename: The client's file name; only its last component's extension is used.
        data: The file's bytes.
        limits: Size, time and page limits.
        progress: For a scan, called with ``(pages done, pages to OCR)``: ``(0, n)`` when the pages to OCR
            are known, then after each (``ingest.pdf_worker.run_worker``); never for a file without them.

    Returns:
        The clean text and what could be found about the document.

    Raises:
        UnsupportedFormatError: If the extension is not in ``SUPPORTED``.
        DocumentError: If the file is empty, too large, unreadable, or has no text.
    """
    name, fmt = check_upload(filename, data, limits)
    binary = fmt in ("pdf", "docx", "image")
    document = _read_binary(name, data, fmt, limits, progress) if binary else _read_text(name, data, fmt)
    if not document.text:
        raise DocumentError(f"{name!r}: 没有可检索的正文 / no text left to search in the file; check its content")
    logger.debug("read %s as %s: %d chars, title %r", name, fmt, len(document.text), document.title)
    return document


def check_upload(filename: str, data: bytes, limits: ReadLimits) -> tuple[str, str]:
    """The name (for messages) and format of a file that may be read: supported, not empty, not too large.

    Cheap enough to refuse an upload before anything is stored.

    Raises:
        UnsupportedFormatError: the extension is not in ``SUPPORTED``.
        DocumentError: the file is empty, blank, or larger than ``limits.max_bytes``.
    """
    name, fmt = format_of(filename)
    if len(data) > limits.max_bytes:
        raise DocumentError(
            f"{name!r}: 文件过大 / the file is too large: {len(data)} bytes, more than max_bytes={limits.max_bytes}; "
            "split it into smaller files"
        )
    if not data.strip():
        raise DocumentError(f"{name!r}: 文件为空 / the file is empty; upload a file that has text")
    return name, fmt


def format_of(filename: str) -> tuple[str, str]:
    """The file's name for messages (its last path component) and its format.

    Raises:
        UnsupportedFormatError: the extension is not in ``SUPPORTED``.
    """
    name, suffix = _name_and_suffix(filename)
    fmt = _FORMATS.get(suffix)
    if fmt is None:
        raise UnsupportedFormatError(
            f"{name!r}: 不支持的文件类型 / unsupported file type {suffix or '(none)'!r}; "
            f"upload one of {', '.join(sorted(SUPPORTED))}"
        )
    return name, fmt


def _name_and_suffix(filename: str) -> tuple[str, str]:
    """The last path component (``/`` or ``\\`` separated) for messages, and its lowercased extension."""
    name = PureWindowsPath(_CONTROL_CHARS.sub("", filename)).name.strip()
    _, dot, ext = name.rpartition(".")
    return name[:_NAME_MAX_CHARS], (dot + ext).lower() if dot else ""


def _read_binary(
    name: str, data: bytes, fmt: str, limits: ReadLimits, progress: Callable[[int, int], None] | None
) -> ParsedDocument:
    """Read .pdf (page spans, metadata title, OCR'd pages), an image (OCR) or .docx (Heading/Title-styled title)."""
    worker = WorkerLimits(
        limits.pdf_timeout_s,
        limits.max_pages,
        OcrConfig(page_timeout_s=limits.ocr_page_timeout_s, max_pages=limits.max_ocr_pages),
    )
    if fmt == "pdf":
        text, spans, title, ocr = read_pdf(name, data, worker, progress)
        pages = tuple(PageSpan(*s) for s in spans)
        return ParsedDocument(text, guess_title(text, title), pages, "", None, fmt, ocr_pages=ocr)
    if fmt == "image":
        text, spans = read_image(name, data, worker, progress)
        pages = tuple(PageSpan(*s) for s in spans)
        return ParsedDocument(text, guess_title(text), pages, "", None, fmt, ocr_pages=(1,))
    lines, title = read_docx(name, data, limits.max_zip_entries, limits.max_inflated_bytes)
    return _cleaned(name, "\n".join(lines), title, fmt)


def _read_text(name: str, data: bytes, fmt: str) -> ParsedDocument:
    """Read .txt, .md or .html: decode, extract, drop Markdown line syntax, remove page chrome."""
    if fmt == "html":
        return _read_html(name, data)
    raw = _decode(name, data)
    md_title = ""
    if fmt == "md":
        raw, md_title = _strip_markdown(raw)
    return _cleaned(name, raw, md_title, fmt)


def _cleaned(name: str, raw: str, title_hint: str, fmt: str) -> ParsedDocument:
    """``raw`` with its broken lines joined and its page chrome removed; the byline's author, date and source."""
    cleaned = clean_text(_tidy(raw))
    logger.debug("%s: clean_text removed %d lines", name, len(cleaned.removed))
    title = guess_title(cleaned.text, title_hint)
    return ParsedDocument(cleaned.text, title, (), cleaned.author, cleaned.published, fmt, cleaned.source)


def _read_html(name: str, data: bytes) -> ParsedDocument:
    """Read .html: main content via trafilatura (else the body text), then remove page chrome."""
    declared = _META_CHARSET.search(data[:4096])
    html = _XML_DECLARATION.sub("", _decode(name, data, declared.group(1).decode("ascii") if declared else None))
    page = trafilatura.bare_extraction(
        html, include_comments=False, include_tables=True, favor_precision=True, with_metadata=True
    )
    page = page if isinstance(page, ExtractedPage) else None
    raw = page.text or "" if page else ""
    if not raw.strip():
        logger.debug("%s: trafilatura found no main content; using the body text", name)
        raw = _body_text(html)
    cleaned = clean_text(_tidy(raw))
    title = _SITE_SUFFIX.sub("", " ".join((page.title or "").split())) if page else ""
    published = cleaned.published or (_iso_date(page.date) if page else None)
    author = cleaned.author or (page.author or "" if page else "")
    title = guess_title(cleaned.text, title)
    return ParsedDocument(cleaned.text, title, (), author, published, "html", cleaned.source)


def _decode(name: str, data: bytes, declared: str | None = None) -> str:
    """Decode text bytes: by BOM, else strict UTF-8, the declared charset, or the most Chinese-looking guess."""
    not_text = f"{name!r}: 不是文本文件 / not a text file"
    for bom, bom_codec in _BOMS:
        if data.startswith(bom):
            with_bom = _try_decode(data, bom_codec)
            if with_bom is None:
                raise DocumentError(f"{not_text}: it starts with a {bom_codec} mark but does not decode as such")
            return with_bom
    if b"\x00" in data or len(data) - len(data.translate(None, _CONTROL_BYTES)) > _MAX_JUNK_SHARE * len(data):
        raise DocumentError(f"{not_text}: it has NUL or control bytes; upload the document itself, not binary data")
    for codec in ("utf-8", declared):  # UTF-8 first: GBK bytes never pass as UTF-8, the reverse does
        text = _try_decode(data, codec) if codec else None
        if text is not None:
            return text
    guess = charset_normalizer.from_bytes(data).best()
    candidates = [guess.encoding] if guess else []
    decoded = [t for t in (_try_decode(data, c) for c in (*candidates, "gb18030", "big5hkscs")) if t is not None]
    if not decoded:
        raise DocumentError(f"{not_text}: its encoding could not be detected; save it as UTF-8 and upload it again")
    # max() keeps the first of equal scores, so charset-normalizer's guess wins a tie.
    return max(decoded, key=_chinese_score)


def _try_decode(data: bytes, codec: str) -> str | None:
    """``data`` decoded strictly with ``codec`` if that works and looks like text, else ``None``."""
    try:
        text = data.decode(_SUPERSETS.get(codecs.lookup(codec).name, codecs.lookup(codec).name))
    except (LookupError, UnicodeDecodeError):
        return None
    return text if len(_BAD_CHARS.findall(text)) <= _MAX_JUNK_SHARE * len(text) else None


def _chinese_score(text: str) -> tuple[float, float]:
    """How Chinese a decoding looks: the share of usual characters, then of the most frequent ideographs."""
    cjk = _CJK_RANGE.findall(text)
    usual = len(_USUAL_CHARS.findall(text)) / len(text) if text else 0.0
    return usual, sum(ch in _COMMON_CJK for ch in cjk) / len(cjk) if cjk else 0.0


def _strip_markdown(text: str) -> tuple[str, str]:
    """Drop Markdown's line-level syntax; return the text and the first heading."""
    lines: list[str] = []
    title = ""
    for line in text.splitlines():
        if _MD_DROP.match(line):
            continue
        heading = _MD_HEADING.match(line)
        title = title or (heading.group(1).strip() if heading else "")
        lines.append(heading.group(1) if heading else _MD_PREFIX.sub("", line))
    return "\n".join(lines), title


def _body_text(html: str) -> str:
    """The text of ``<body>`` with one line per block element, without scripts and styles."""
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return ""
    for element in list(root.iter(*_HTML_DROP_TAGS)):
        element.drop_tree()
    for element in root.iter(*_HTML_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    body = root.find("body")
    return str((body if body is not None else root).text_content())


def _iso_date(value: str | None) -> date | None:
    """A ``YYYY-MM-DD`` date, or ``None``."""
    with contextlib.suppress(ValueError):
        return date.fromisoformat(value[:10]) if value else None
    return None


def _tidy(text: str) -> str:
    """Stripped non-empty lines without control characters; a break next to a no-break mark is joined."""
    lines: list[str] = []
    for line in (_CONTROL_CHARS.sub("", line).strip() for line in text.splitlines()):
        if line and lines and (line.startswith(_NO_LINE_START) or lines[-1].endswith(_NO_LINE_END)):
            lines[-1] += line
        elif line:
            lines.append(line)
    return "\n".join(lines)
