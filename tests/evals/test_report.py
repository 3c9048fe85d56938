"""The eval report: what needs attention comes first, plots are real PNGs, failures show what was retrieved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evals.metrics import coverage_precision
from evals.report import MAX_LISTED, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _failure(i: int) -> dict[str, Any]:
    return {
        "id": f"seed-{i:03d}",
        "question": "脱贫人口\n收入是多少",
        "kind": "number",
        "answerable": True,
        "abstained": False,
        "confidence": 0.7,
        "answer": "高出全国脱贫人口收入1776元。",
        "expected": ["16118元"],
        "unsupported_numbers": ["16119元"] if i == 0 else [],
        "cited": ["高出全国脱贫人口收入1776元。"],
        "retrieved": [{"doc_id": "cq", "span": [377, 461], "text": "目前,重庆出台衔接政策130余个,\n打造产业帮扶基地"}],
    }


def _report(n_failures: int = 2) -> dict[str, Any]:
    seed = {"n": 4.0, "hit@1": 0.75, "answer_correct": 0.5, "char_f1": 0.3, "rouge_l": 0.28, "coverage": 0.5}
    seed |= {"chunk_mrr": 0.8, "chunk_mrr_lexical": 0.7, "char_f1_lexical": 0.2, "unsupported_number_rate": 0.25}
    return {
        "index": "usem3-char12-150",
        "elapsed_s": 12.3,
        "calibration": {"path": "retriever/calibration.json", "threshold": 0.6, "target_precision": 0.95},
        "metrics": {"seed": seed},
        "regressions": ["seed.hit@1: 0.9 → 0.75"],
        "gate_failures": ["seed.unsupported_number_rate = 0.25 is above the ceiling 0.0"],
        "by_kind": {"seed": {"number": {"n": 4, "hit@1": 0.75, "answer_correct": 0.5}, "unanswerable": {"n": 1}}},
        "abstention_ablation": {"all features": {"seed_test": 0.8}, "without dense": {"seed_test": 0.7}},
        "failures": {"seed": [_failure(i) for i in range(n_failures)]},
    }


def _write(tmp_path: Path, n_failures: int = 2) -> tuple[str, Path]:
    curves = {"seed": coverage_precision([0.9, 0.7, 0.5, 0.2], [True, True, False, False]), "empty": []}
    path = write_report(tmp_path / "out", _report(n_failures), curves, threshold=0.6)
    return path.read_text(encoding="utf-8"), path.parent


def test_the_report_starts_with_the_regressions_then_the_gate(tmp_path: Path) -> None:
    md, _ = _write(tmp_path)
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings[:3] == [
        "## Regressions against evals/baseline.json",
        "## Gate: floors and ceilings of evals/thresholds.json",
        "## Summary",
    ]
    assert "- seed.hit@1: 0.9 → 0.75" in md
    assert md.index("## Coverage and precision") < md.index("## Retrieval ablation") < md.index("## Failures")


def test_the_report_has_a_valid_png_per_suite_with_a_curve(tmp_path: Path) -> None:
    md, out = _write(tmp_path)
    png = out / "coverage_precision_seed.png"
    assert png.read_bytes().startswith(PNG_MAGIC) and png.stat().st_size > 5000
    assert "![coverage–precision, seed](coverage_precision_seed.png)" in md
    assert not (out / "coverage_precision_empty.png").exists()
    saved = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert saved["plots"] == {"seed": "coverage_precision_seed.png"}
    assert saved["curves"]["seed"][0] == [0.9, 0.25, 1.0]


def test_failures_list_the_retrieved_chunks_each_on_one_line(tmp_path: Path) -> None:
    md, _ = _write(tmp_path)
    assert "  - retrieved: cq [377–461] 目前,重庆出台衔接政策130余个, 打造产业帮扶基地" in md
    assert "- **seed-000** 脱贫人口 收入是多少 — expected ['16118元']" in md
    assert "  - numbers not in the citations: 16119元" in md


def test_long_failure_lists_are_cut_in_the_markdown_but_kept_in_the_json(tmp_path: Path) -> None:
    md, out = _write(tmp_path, n_failures=MAX_LISTED + 3)
    assert f"### seed ({MAX_LISTED + 3} wrong)" in md
    assert "- … and 3 more in report.json" in md
    assert len(json.loads((out / "report.json").read_text(encoding="utf-8"))["failures"]["seed"]) == MAX_LISTED + 3
