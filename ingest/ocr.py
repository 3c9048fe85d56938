"""Optical character recognition of page images with Tesseract (runs inside ``ingest.pdf_worker``).

Tesseract is called through its command line (Debian's ``tesseract-ocr`` with the ``chi-sim`` and
``chi-tra`` language data): a PNG on stdin, plain text on stdout, one process per page with its own
timeout. Pages are rendered with pypdfium2; an uploaded image is opened with Pillow, whose
decompression-bomb check refuses images with more than ``MAX_PIXELS`` pixels before they are decoded.

``tidy_ocr_text`` is pure: Tesseract puts spaces between Chinese characters and after Chinese
punctuation and writes ASCII ``,`` ``;`` ``:`` where the page has full-width marks; a quote taken from
OCR text reads as normal Chinese only without them.
"""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image
    from pypdfium2 import PdfPage

logger = logging.getLogger(__name__)


MAX_PAGES = 50  # the most pages one document may need read (OcrConfig.max_pages)


@dataclass(frozen=True, slots=True)
class OcrConfig:
    """How pages are recognised.

    ``languages`` is ``chi_sim`` alone: on the real PDF's pages ``chi_sim+chi_tra`` tripled the
    character error rate of simplified text (stray traditional forms; ``make bench-ocr``) and took
    twice as long, while ``chi_sim`` still reads a traditional page (into simplified characters,
    which the search folds to anyway). ``psm`` 3 is Tesseract's automatic page segmentation: a
    page has a title, a body and a footer, not one uniform block. ``dpi`` is what a PDF page is
    rendered at: 200 read as well as 150 on clean scans and best on noisy, skewed ones; 300 was
    worse than both (Tesseract's models expect smaller glyphs). ``max_pages`` bounds the pages one document
    may need read (at 4–7 s a page, 50 take about five minutes of the indexer, during which nothing else
    it has to do is published): a longer scan is refused, with the advice to send it in parts.
    """

    languages: str = "chi_sim"
    psm: int = 3
    dpi: int = 200
    page_timeout_s: float = 60.0
    max_pages: int = MAX_PAGES


# A page rendered larger than this is rendered at a lower resolution (an A4 page at 300 dpi is
# 8.7 M pixels, A0 at 150 dpi 35 M); an uploaded image larger than this is refused.
MAX_PIXELS = 40_000_000
_POINTS_PER_INCH = 72
# A page whose text layer has fewer visible characters than this is OCR'd (a scan may carry a stamp).
_MIN_LAYER_CHARS = 10
_CJK = r"\u2e80-\u2fff\u3001-\u303f\u3040-\u9fff\uf900-\ufaff\uff01-\uff60\u201c\u201d\u2018\u2019"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])[ \t]+(?=[{_CJK}])")
_ASCII_MARK = re.compile(rf"(?<=[{_CJK}])[ \t]*([,;:?!()])[ \t]*(?=[{_CJK}0-9A-Za-z]|$)", re.MULTILINE)
_FULL_WIDTH = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"}


class OcrError(RuntimeError):
    """Tesseract is missing, failed or took too long; the message says which and what to do."""


def tidy_ocr_text(text: str) -> str:
    """Tesseract's text as a Chinese reader writes it: no gaps between Chinese characters or marks.

    An ASCII ``,;:?!()`` right after a Chinese character becomes its full-width form; spaces
    between Latin words and digits stay.
    """
    lines = (_CJK_GAP.sub("", line.strip()) for line in text.splitlines())
    fixed = (_ASCII_MARK.sub(lambda m: _FULL_WIDTH[m.group(1)], line) for line in lines)
    return "\n".join(_CJK_GAP.sub("", line) for line in fixed if line)


def recognize(image: Image, config: OcrConfig) -> str:
    """The text Tesseract reads on ``image``, tidied (see ``tidy_ocr_text``).

    The image's own ``dpi`` (from its file, or set by ``render_page``) tells Tesseract the type size.

    Raises:
        OcrError: Tesseract is not installed, exits with an error, or exceeds ``config.page_timeout_s``.
    """
    png = io.BytesIO()
    dpi = image.info.get("dpi")
    image.save(png, "PNG", **({"dpi": dpi} if dpi else {}))
    command = ["tesseract", "stdin", "stdout", "-l", config.languages, "--psm", str(config.psm)]
    # One OpenMP thread: on two cores Tesseract's own threads made a page ~1.5× slower, not faster.
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(  # fixed argv; the image only goes to stdin
            command, input=png.getvalue(), capture_output=True, timeout=config.page_timeout_s, env=env, check=False
        )
    except FileNotFoundError as e:
        raise OcrError(
            "OCR 不可用 / tesseract is not installed; "
            "apt-get install tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-chi-tra"
        ) from e
    except subprocess.TimeoutExpired as e:
        raise OcrError(f"OCR 超时 / OCR of a page took longer than {config.page_timeout_s:g}s") from e
    if done.returncode != 0:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
        raise OcrError(f"OCR 失败 / tesseract failed: {last}")
    return tidy_ocr_text(done.stdout.decode("utf-8", "replace"))


def render_page(page: PdfPage, dpi: int) -> Image:
    """A PDF page as a grayscale image at ``dpi``, or smaller so that it has at most ``MAX_PIXELS`` pixels."""
    width, height = page.get_size()
    scale = min(dpi / _POINTS_PER_INCH, (MAX_PIXELS / max(width * height, 1.0)) ** 0.5)
    image: Image = page.render(scale=scale, grayscale=True).to_pil()
    image.info["dpi"] = (round(scale * _POINTS_PER_INCH),) * 2
    return image


def open_image(data: bytes) -> Image:
    """An uploaded image of one page, upright (a phone's EXIF orientation applied), in grayscale.

    Raises:
        OcrError: the bytes are no image Pillow reads, it has more than ``MAX_PIXELS`` pixels, or it holds
            several pages (a multi-page TIFF, which would otherwise lose all but its first).
    """
    from PIL import Image as PilImage
    from PIL import ImageOps, UnidentifiedImageError

    PilImage.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PilImage.DecompressionBombWarning)
            image = PilImage.open(io.BytesIO(data))
            frames = getattr(image, "n_frames", 1)
            if frames > 1:
                raise OcrError(
                    f"多页图片（{frames} 页）请转为 PDF 后上传 / the image holds {frames} pages: "
                    "convert it to one PDF and upload that"
                )
            return ImageOps.exif_transpose(image).convert("L")
    except (PilImage.DecompressionBombError, PilImage.DecompressionBombWarning) as e:
        raise OcrError(f"图片像素过多 / the image has too many pixels (more than {MAX_PIXELS:,}): {e}") from e
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise OcrError(f"图片无法读取 / the image could not be read ({e})") from e


def visible_chars(text: str) -> int:
    """How many characters of ``text`` are not whitespace."""
    return len(text) - sum(ch.isspace() for ch in text)


def needs_ocr(layer_text: str) -> bool:
    """Whether a page's text layer is too thin to be the page's text (a scan, perhaps with a stamp)."""
    return visible_chars(layer_text) < _MIN_LAYER_CHARS


def ocr_pdf_pages(data: bytes, pages: list[str], config: OcrConfig, progress: Callable[[int], None]) -> list[int]:
    """OCR the pages of a PDF whose text layer ``needs_ocr``, in place; the 1-based pages whose text it replaced.

    A page keeps its layer's text when OCR reads fewer characters. ``progress(k)`` is called after
    the k-th page.

    Raises:
        OcrError: a page could not be rendered or recognised in time.
    """
    import pypdfium2 as pdfium

    todo = [n for n, text in enumerate(pages, 1) if needs_ocr(text)]
    if not todo:
        return []
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        raise OcrError(f"PDF 页面无法渲染 / the PDF's pages could not be rendered for OCR ({e})") from e
    replaced = []
    for k, number in enumerate(todo, 1):
        text = recognize(render_page(pdf[number - 1], config.dpi), config)
        if visible_chars(text) > visible_chars(pages[number - 1]):
            pages[number - 1] = text
            replaced.append(number)
        progress(k)
    pdf.close()
    return replaced


def ocr_image(data: bytes, config: OcrConfig) -> str:
    """The text of an uploaded image (its first frame).

    Raises:
        OcrError: the image cannot be opened, is too large, or cannot be recognised in time.
    """
    return recognize(open_image(data), config)
