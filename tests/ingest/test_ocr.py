"""OCR of scanned PDFs and images with the real Tesseract, on scans made in the test from known text.

A scan is text drawn with a real CJK font (or a real PDF page rendered) as a 150-dpi grayscale image,
wrapped as an image-only PDF where a PDF is wanted. Hostile files (a decompression bomb, a PDF of huge
blank pages) must end in a clear bilingual reason, by its limits, not by hanging.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from fixtures.ocr.scans import cer, image_pdf, needs_ocr, png, png_bomb, rendered_page, text_image
from pypdf import PdfReader, PdfWriter

from ingest.errors import DocumentError
from ingest.ocr import tidy_ocr_text
from ingest.readers import SUPPORTED, ReadLimits, read_document
from ingest.types import Document

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
PDF_397 = SHARED / "pdf_sample" / "397.pdf"
needs_shared = pytest.mark.skipif(not PDF_397.is_file(), reason="the shared PDF is not on this machine")
pytestmark = needs_ocr

NOTICE = [
    "关于加强个人所得税纳税信用建设的通知",
    "各省、自治区、直辖市人民政府，国务院各部委：",
    "一、建立健全个人所得税纳税信用记录，完善守信激励与失信惩戒机制。",
    "二、对个人所得税纳税信用记录存在异议的，纳税人可向税务机关提出异议申请。",
    "三、本通知自2019年8月20日起施行。",
]
# Measured on these scans: 0.00-0.02; Tesseract misreads a few rare characters at 150 dpi.
MAX_CER = 0.05


def _bilingual(message: str, zh: str, en: str) -> None:
    assert zh in message and en in message, message
    assert re.search(r"[\u4e00-\u9fff]", message.split("/")[0]), message


def test_tidy_ocr_text_joins_chinese_characters_and_makes_marks_full_width() -> None:
    raw = "关 于 加 强 纳 税 信 用 建 设 的 通 知\n各 地 区 , 各 部 门 : 第 3 条 (试行)\n\nPage 3 of 10 , 2019 年"
    assert tidy_ocr_text(raw).splitlines() == [
        "关于加强纳税信用建设的通知",
        "各地区，各部门：第 3 条（试行）",
        "Page 3 of 10 , 2019 年",
    ]


def test_a_scanned_pdf_is_read_by_ocr_and_matches_its_source_text() -> None:
    document = read_document("扫描件.pdf", image_pdf([text_image(NOTICE)]))
    assert cer("".join(NOTICE), document.text) <= MAX_CER, document.text
    assert (document.fmt, document.ocr_pages) == ("pdf", (1,))
    assert [(p.start, p.end, p.page) for p in document.pages] == [(0, len(document.text), 1)]
    assert " " not in document.text, "Tesseract's gaps between Chinese characters are removed"
    assert "2019年8月20日" in document.text


@needs_shared
def test_a_real_pdf_page_rendered_as_a_scan_reads_like_its_text_layer() -> None:
    source = PDF_397.read_bytes()
    scanned = read_document("397-scan.pdf", image_pdf([rendered_page(source, 1)]))
    layer = PdfReader(io.BytesIO(source)).pages[1].extract_text()
    assert scanned.ocr_pages == (1,)
    assert cer(layer, scanned.text) <= MAX_CER


@needs_shared
def test_a_mixed_pdf_keeps_its_text_layer_pages_and_ocrs_the_scanned_one() -> None:
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(PDF_397.read_bytes())), pages=[0])
    writer.append(PdfReader(io.BytesIO(image_pdf([text_image(NOTICE)]))))
    out = io.BytesIO()
    writer.write(out)
    document = read_document("mixed.pdf", out.getvalue())
    assert [p.page for p in document.pages] == [1, 2]
    assert document.ocr_pages == (2,)
    first, second = (document.text[p.start : p.end] for p in document.pages)
    original = read_document("397.pdf", PDF_397.read_bytes())
    assert first[:150] == original.text[:150], "page 1 is its text layer, not OCR"
    assert cer("".join(NOTICE), second) <= MAX_CER


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tiff"])
def test_an_uploaded_image_is_one_ocr_page(suffix: str) -> None:
    image = text_image(NOTICE)
    if suffix == ".png":
        data = png(image)
    else:
        out = io.BytesIO()
        image.save(out, "JPEG" if suffix == ".jpg" else "TIFF", dpi=(150, 150))
        data = out.getvalue()
    document = read_document(f"通知{suffix}", data)
    assert suffix in SUPPORTED
    assert (document.fmt, document.ocr_pages) == ("image", (1,))
    assert [(p.start, p.end, p.page) for p in document.pages] == [(0, len(document.text), 1)]
    assert cer("".join(NOTICE), document.text) <= MAX_CER
    assert document.title == NOTICE[0]


def test_a_decompression_bomb_image_is_refused_before_it_is_decoded() -> None:
    with pytest.raises(DocumentError) as err:
        read_document("bomb.png", png_bomb(100_000, 100_000))
    _bilingual(str(err.value), "图片像素过多", "the image has too many pixels")
    assert "'bomb.png'" in str(err.value)


def test_an_image_that_is_not_an_image_is_refused_with_a_reason() -> None:
    with pytest.raises(DocumentError) as err:
        read_document("photo.jpg", b"\xff\xd8\xff\xe0 not really a jpeg")
    _bilingual(str(err.value), "图片无法读取", "the image could not be read")


def test_a_blank_scan_is_refused_as_having_no_text() -> None:
    with pytest.raises(DocumentError) as err:
        read_document("blank.png", png(text_image([])))
    _bilingual(str(err.value), "图片中没有识别出文字", "OCR read no text")


def test_a_pdf_of_huge_blank_pages_fails_within_its_ocr_time_limit() -> None:
    writer = PdfWriter()
    for _ in range(20):
        writer.add_blank_page(width=14_400, height=14_400)  # 200 × 200 inches, the largest a PDF page may be
    out = io.BytesIO()
    writer.write(out)
    limits = ReadLimits(pdf_timeout_s=10, ocr_page_timeout_s=0.05)
    with pytest.raises(DocumentError) as err:
        read_document("huge.pdf", out.getvalue(), limits)
    _bilingual(str(err.value), "PDF 无法解析", "the PDF could not be parsed")
    assert "OCR 超时 / OCR of a page took longer than 0.05s" in str(err.value)


def test_a_scan_with_more_pages_to_read_than_a_file_may_have_is_refused_saying_so() -> None:
    scan = image_pdf([text_image(NOTICE)] * 3)
    with pytest.raises(DocumentError) as err:
        read_document("三页扫描件.pdf", scan, ReadLimits(max_ocr_pages=2))
    assert "有 3 页扫描页需要识别，超过每个文件 2 页的上限" in str(err.value)
    assert "split the scan and upload the parts" in str(err.value)
    assert read_document("三页扫描件.pdf", scan, ReadLimits(max_ocr_pages=3)).ocr_pages == (1, 2, 3)


def test_a_multi_page_tiff_is_refused_rather_than_read_as_its_first_page() -> None:
    from PIL import Image

    frames = [Image.open(io.BytesIO(png(text_image(NOTICE)))) for _ in range(2)]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:])
    with pytest.raises(DocumentError, match="多页图片（2 页）请转为 PDF 后上传"):
        read_document("两页.tif", out.getvalue())


def test_a_phone_photo_is_read_upright_by_its_exif_orientation() -> None:
    from PIL import Image

    upright = Image.open(io.BytesIO(png(text_image(NOTICE))))
    sideways = upright.transpose(Image.Transpose.ROTATE_90)  # stored turned, as phones do, with the tag to undo it
    exif = sideways.getexif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    out = io.BytesIO()
    sideways.convert("RGB").save(out, format="JPEG", exif=exif, quality=95)
    text = read_document("手机拍照.jpg", out.getvalue()).text
    assert cer(text, "".join(NOTICE)) <= 0.05


def test_the_time_limit_grows_with_the_pages_to_ocr() -> None:
    # Reading and OCR of these four pages take ~3 s on a 2-core machine, more than pdf_timeout_s alone
    # allows; the worker names the pages to OCR within it, and each adds ocr_page_timeout_s (60 s).
    document = read_document("四页扫描件.pdf", image_pdf([text_image(NOTICE)] * 4), ReadLimits(pdf_timeout_s=1.5))
    assert document.ocr_pages == (1, 2, 3, 4)
    assert [p.page for p in document.pages] == [1, 2, 3, 4]


def test_ocr_pages_round_trip_through_a_row_and_old_rows_still_load() -> None:
    doc = Document(doc_id="d", title="t", text="正文", pages=((0, 2, 1),), ocr_pages=(1,))
    assert Document.from_row(doc.to_row()) == doc
    old = {k: v for k, v in doc.to_row().items() if k != "ocr_pages"}
    assert Document.from_row(old).ocr_pages == ()
