"""OCR quality on the shared documents rendered as scans (a benchmark, not a test): ``make bench-ocr``.

Pages: the 5 pages of the real PDF (``pdf_sample/397.pdf``, reference: its text layer) and the first
pages of a national and a provincial 2025 report (their text typeset in Noto Sans CJK SC, 12 pt,
A4 width). Each page is scanned at 150, 200 and 300 dpi, clean and degraded (Gaussian noise σ=25 and a
1° skew), and read by ``ingest.ocr.recognize``; the character error rate is the edit distance over
the reference's length, whitespace removed from both, summed over the pages of a condition.

Then the library questions whose gold is the PDF (``library_set.jsonl``, ``policy_set.jsonl``) are
asked of two libraries of the ``evals.library`` corpus: one with the text PDF, one with an
image-only copy of it (its pages scanned at 300 dpi). Right: not abstained, the answer holds every
``must_contain`` part, and the first citation is the PDF. Written to ``evals/reports/ocr.json``
and ``ocr.md`` (``--out``). ``chi_sim+chi_tra`` is measured on the clean scans at the first ``--dpi``.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import re
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ingest.ocr import OcrConfig, recognize

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
REPORTS = REPO / "evals" / "reports"
PDF = "pdf_sample/397.pdf"
REPORT_PAGES = {
    "national": "gov_work_reports/2025_2025年中华人民共和国国务院政府工作报告.txt",
    "provincial": "provincial_reports_2025_docx/2025年四川省政府工作报告.docx",
}
NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
_NOTO_SC = 2  # the Simplified Chinese face of the collection
_LINE_CHARS, _PAGE_LINES = 38, 30  # a 12-pt A4 page of Chinese body text
NOISE_SIGMA, SKEW_DEGREES = 25.0, 1.0
_Page = tuple[str, Callable[[int], Image.Image], str]  # name, render at dpi, reference text


def cer(reference: str, hypothesis: str) -> tuple[int, int]:
    """Edit distance and reference length, whitespace removed from both."""
    from rapidfuzz.distance import Levenshtein

    ref, hyp = re.sub(r"\s", "", reference), re.sub(r"\s", "", hypothesis)
    return Levenshtein.distance(ref, hyp), len(ref)


def degrade(image: Image.Image, seed: int) -> Image.Image:
    """A worse scan: Gaussian noise and a small skew (white fill), deterministic for ``seed``."""
    pixels = np.asarray(image, dtype=np.float32)
    noisy = pixels + np.random.default_rng(seed).normal(0.0, NOISE_SIGMA, pixels.shape)
    out = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "L")
    out = out.rotate(SKEW_DEGREES, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
    out.info["dpi"] = image.info.get("dpi")
    return out


def typeset(text: str, dpi: int) -> Image.Image:
    """One page of ``text`` typeset in 12-pt Noto Sans CJK SC at ``dpi``, wrapped at ``_LINE_CHARS``."""
    size = round(12 * dpi / 72)
    font = ImageFont.truetype(str(NOTO_CJK), size, index=_NOTO_SC)
    lines = [text[i : i + _LINE_CHARS] for i in range(0, len(text), _LINE_CHARS)]
    margin, leading = dpi, round(size * 1.8)
    image = Image.new("L", (round(8.27 * dpi), round(11.69 * dpi)), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * leading), line, font=font, fill=0)
    image.info["dpi"] = (dpi, dpi)
    return image


def pdf_pages(path: Path) -> list[_Page]:
    """Each page of a text PDF: rendered by pdfium, its text layer as the reference."""
    import pypdfium2 as pdfium
    from pypdf import PdfReader

    data = path.read_bytes()
    layers = [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]

    def render(index: int) -> Callable[[int], Image.Image]:
        def at(dpi: int) -> Image.Image:
            image: Image.Image = pdfium.PdfDocument(data)[index].render(scale=dpi / 72, grayscale=True).to_pil()
            image.info["dpi"] = (dpi, dpi)
            return image

        return at

    return [(f"397.pdf p{i + 1}", render(i), layer) for i, layer in enumerate(layers)]


def report_pages(shared: Path, n_pages: int) -> list[_Page]:
    """The first pages of the national and provincial reports, typeset from their clean text."""
    from ingest.readers import read_document

    pages: list[_Page] = []
    for kind, name in REPORT_PAGES.items():
        text = "".join(read_document(Path(name).name, (shared / name).read_bytes()).text.split())
        per_page = _LINE_CHARS * _PAGE_LINES
        for i in range(n_pages):
            chunk = text[i * per_page : (i + 1) * per_page]
            pages.append((f"{kind} p{i + 1}", partial(typeset, chunk), chunk))
    return pages


def measure(pages: list[_Page], conditions: list[tuple[int, bool, str]]) -> list[dict[str, Any]]:
    """CER and seconds per page for each (dpi, degraded, languages) condition."""
    rows = []
    for dpi, degraded, languages in conditions:
        config = OcrConfig(languages=languages, dpi=dpi)
        errors = length = 0
        seconds = 0.0
        per_page = {}
        for n, (name, render, reference) in enumerate(pages):
            image = render(dpi)
            image = degrade(image, n) if degraded else image
            started = time.perf_counter()
            text = recognize(image, config)
            seconds += time.perf_counter() - started
            e, m = cer(reference, text)
            errors, length, per_page[name] = errors + e, length + m, round(e / max(m, 1), 4)
        row: dict[str, Any] = {"dpi": dpi, "scan": "noise+skew" if degraded else "clean", "languages": languages}
        row |= {"cer": round(errors / length, 4), "s_per_page": round(seconds / len(pages), 2), "pages": per_page}
        logger.info("%s", {k: v for k, v in row.items() if k != "pages"})
        rows.append(row)
    return rows


def scanned_copy(path: Path, out: Path, dpi: int = 300) -> Path:
    """An image-only PDF of ``path``'s pages rendered at ``dpi`` (the same name, in ``out``), as a scanner writes it."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(path.read_bytes())
    images = [document[i].render(scale=dpi / 72, grayscale=True).to_pil() for i in range(len(document))]
    out.mkdir(parents=True, exist_ok=True)
    images[0].save(out / path.name, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return out / path.name


def pdf_questions() -> list[dict[str, Any]]:
    """The library and policy set questions whose gold quotes are in the PDF."""
    from evals.library import LIBRARY_SET, POLICY_SET

    rows = [json.loads(line) for path in (LIBRARY_SET, POLICY_SET) for line in path.read_text("utf-8").splitlines()]
    return [r for r in rows if line_cites_pdf(r)]


def line_cites_pdf(row: dict[str, Any]) -> bool:
    """Whether an eval row's gold is in the PDF."""
    return bool(row.get("answerable")) and any(g.get("file") == Path(PDF).name for g in row.get("gold", []))


def answered_right(data_dir: Path, files: list[Path], pdf: Path, questions: list[dict[str, Any]]) -> dict[str, Any]:
    """How many questions a library of ``files`` answers right from ``pdf`` (see the module docstring)."""
    from evals.library import file_doc_ids, library_retriever
    from evals.metrics import contains_gold
    from ingest.config import BuildConfig
    from ingest.embed import SentenceEmbedder
    from retriever.config import load_config

    cfg = BuildConfig()
    retriever = library_retriever(data_dir, files, cfg, SentenceEmbedder(cfg.embedder), load_config())
    pdf_id = file_doc_ids([pdf], retriever.docs)[pdf.name]
    right = []
    for row in questions:
        answer = retriever.ask(row["question"])
        ok = not answer.abstained and contains_gold(answer.text, [row["must_contain"]])
        if ok and answer.citations[0].doc_id == pdf_id:
            right.append(row["id"])
    ocr_pages = list(retriever.docs[pdf_id].ocr_pages)
    return {"right": len(right), "of": len(questions), "ids": right, "ocr_pages": ocr_pages}


def markdown(out: dict[str, Any]) -> str:
    """The report's tables."""
    lines = ["# OCR benchmark", "", f"Pages: {', '.join(out['pages'])}.", ""]
    lines += ["| dpi | scan | languages | CER | s/page |", "|---|---|---|---|---|"]
    for r in out["cer"]:
        lines.append(f"| {r['dpi']} | {r['scan']} | {r['languages']} | {r['cer']:.4f} | {r['s_per_page']:.2f} |")
    if "answers" in out:
        a = out["answers"]
        lines += ["", "| library with | right / questions on the PDF |", "|---|---|"]
        lines += [f"| {k} | {v['right']} / {v['of']} |" for k, v in a.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; the report's JSON on stdout."""
    parser = argparse.ArgumentParser(prog="python -m evals.bench_ocr", description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared data directory")
    parser.add_argument("--report-pages", type=int, default=2, help="pages of each report to typeset")
    parser.add_argument("--data", type=Path, default=REPO / "var" / "bench-ocr", help="libraries built here")
    parser.add_argument("--no-answers", action="store_true", help="skip the two libraries and their questions")
    parser.add_argument("--dpi", type=int, nargs="+", default=[150, 200, 300], help="scan resolutions to measure")
    parser.add_argument("--out", default="ocr", help="report file stem in evals/reports/")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    pages = pdf_pages(args.shared / PDF) + report_pages(args.shared, args.report_pages)
    conditions = [(dpi, degraded, "chi_sim") for dpi in args.dpi for degraded in (False, True)]
    conditions += [(args.dpi[0], False, "chi_sim+chi_tra")]
    out: dict[str, Any] = {"pages": [p[0] for p in pages], "cer": measure(pages, conditions)}
    if not args.no_answers:
        from evals.library import library_files

        files, questions = library_files(args.shared), pdf_questions()
        text_pdf = args.shared / PDF
        scan = scanned_copy(text_pdf, args.data / "scan")
        out["answers"] = {
            "text PDF": answered_right(args.data / "text", files, text_pdf, questions),
            "scanned PDF (300 dpi, OCR)": answered_right(
                args.data / "scanned", [scan if f == text_pdf else f for f in files], scan, questions
            ),
        }
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{args.out}.json").write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (REPORTS / f"{args.out}.md").write_text(markdown(out), encoding="utf-8")
    sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
