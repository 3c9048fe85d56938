"""Write the eval report: JSON for machines, Markdown and PNG plots for people (I/O).

The Markdown puts what needs attention first (regressions against the committed baseline, then the
gate), then the summary per suite, per kind, coverage–precision with its plots, the retrieval and
abstention ablations, and every failure with what was retrieved for it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.metrics import OperatingPoint, point_at, point_for_precision
from evals.plots import coverage_precision_plot
from evals.run import FULL, MODES
from evals.summary import LOWER_IS_BETTER, TARGET_PRECISIONS

# The Markdown lists at most this many failures per suite; report.json has all of them.
MAX_LISTED = 100
SUMMARY_COLUMNS = [
    "n",
    "hit@1",
    "hit@5",
    "mrr",
    "answer_correct",
    "char_f1",
    "rouge_l",
    "citations_verified",
    "coverage",
    "precision",
    "unsupported_number_rate",
    "latency_p50_ms",
]
USER_COLUMNS = [
    "answered_right",
    "answered_wrong",
    "refused_answerable",
    "refused_unanswerable",
    "answered_unanswerable",
    "refused_answerable_rate",
    "answered_unanswerable_rate",
    "unmarked_unanswerable_rate",
    "checked_answers",
]
RETRIEVAL_COLUMNS = ["chunk_hit@1", "chunk_hit@5", "chunk_mrr", "doc_hit@1", "doc_hit@5"]
SIDE_BY_SIDE = ["hit@1", "answered_right", "answered_wrong", "refused_answerable", "doc_hit@5"]
ABSTAIN_COLUMNS = ["abstain_precision", "abstain_recall", "confidence_auroc"]
MODE_COLUMNS = ["chunk_hit@1", "chunk_hit@5", "chunk_mrr", "hit@1", "answer_correct", "char_f1", "rouge_l"]
KIND_COLUMNS = ["n", "hit@1", "hit@5", "answer_correct", "char_f1", "rouge_l"]
DEFINITIONS = (
    "Ranking and answer metrics are over answerable questions. **hit@k / MRR** rank the first citation "
    "of the answer overlapping a gold quote; a refusal scores 0 (the related passages it offers are not "
    "an answer). **answer_correct**: answered, and the answer holds every part of a gold answer "
    "(NFKC, whitespace removed; written sets: all `must_contain` strings, DRCD/CMRC: one of its answers). "
    "**char_f1 / rouge_l**: character F1 and LCS F-measure against the gold answer (written sets: the gold "
    "quotes, which are the passages a person wants; DRCD/CMRC: the best of its short answers) after dropping "
    "whitespace and punctuation; a refusal scores 0. "
    "**coverage**: share of all questions answered; **precision**: share of answers that are right. "
    "**coverage@pX**: the most coverage any confidence threshold reaches with precision ≥ X. "
    "**unsupported_number_rate**: share of answers with a number none of their citations holds."
)


def _compared(metric: str) -> bool:
    """Whether two runs are compared on a metric: shares and rates, not latencies, counts or thresholds."""
    return "latency" not in metric and not metric.startswith("n") and not metric.startswith("threshold")


def regressions(
    metrics: dict[str, dict[str, float]], baseline: dict[str, dict[str, float]], tolerance: float = 0.005
) -> list[str]:
    """Metrics that got worse by more than ``tolerance`` against the committed baseline.

    Latencies, counts and thresholds are not compared; ``LOWER_IS_BETTER`` metrics regress upwards.
    """
    out = []
    for suite, values in baseline.items():
        for name, before in values.items():
            now = metrics.get(suite, {}).get(name)
            if now is None or not _compared(name):
                continue
            worse = now > before + tolerance if name in LOWER_IS_BETTER else now < before - tolerance
            if worse:
                out.append(f"{suite}.{name}: {before} → {now}")
    return out


def differences(metrics: dict[str, dict[str, float]], other: dict[str, dict[str, float]], within: float) -> list[str]:
    """Metrics (shares and rates, not latencies, counts or thresholds) more than ``within`` away from another
    run's: the same suites answered by another search engine must score alike."""
    out = []
    for suite, values in other.items():
        for name, theirs in values.items():
            mine = metrics.get(suite, {}).get(name)
            if not _compared(name) or (mine is None and theirs is None):
                continue
            if mine is None or theirs is None:
                out.append(f"{suite}.{name}: {mine} here, {theirs} there (run in one only)")
            elif abs(mine - theirs) > within + 1e-9:
                out.append(f"{suite}.{name}: {mine} here, {theirs} there (more than {within} apart)")
    return out


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) >= 2 else str(round(value, 4))
    return str(value)


def _table(rows: dict[str, dict[str, Any]], columns: Sequence[str]) -> list[str]:
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    return [*lines, ""]


def _attention(report: dict[str, Any]) -> list[str]:
    lines = ["## Regressions against evals/baseline.json", ""]
    lines += [f"- {r}" for r in report["regressions"]] or ["None."]
    lines += ["", "## Gate: floors and ceilings of evals/thresholds.json", ""]
    lines += [f"- {r}" for r in report["gate_failures"]] or ["All met."]
    return [*lines, ""]


def _side_by_side(report: dict[str, Any]) -> list[str]:
    """With ``--against``: this run's user-facing figures beside the other run's, suite by suite."""
    against = report.get("against")
    if not against:
        return []
    lines = [f"## This run beside {against['report']} (the gate allows {against['within']} apart)", ""]
    rows = {}
    for suite, theirs in against["metrics"].items():
        mine = report["metrics"].get(suite, {})
        rows[suite] = {f"{c} {who}": m.get(c) for c in SIDE_BY_SIDE for who, m in (("here", mine), ("there", theirs))}
    return [*lines, *_table(rows, [f"{c} {who}" for c in SIDE_BY_SIDE for who in ("here", "there")])]


def _answering(report: dict[str, Any]) -> list[str]:
    lines = ["## Coverage and precision of answering", ""]
    lines += [
        "Each suite's questions (answerable and not) sorted by confidence; answering those at or above a "
        f"threshold gives one point. The committed threshold is {_cell(report['calibration'].get('threshold'))}.",
        "",
    ]
    targets = [f"{k}@p{t}" for t in TARGET_PRECISIONS for k in ("coverage", "threshold")]
    lines += _table(report["metrics"], ["coverage", "precision", *targets, *ABSTAIN_COLUMNS])
    for suite, png in report.get("plots", {}).items():
        lines += [f"![coverage–precision, {suite}]({png})", ""]
    return lines


def _ablations(report: dict[str, Any]) -> list[str]:
    metrics = report["metrics"]
    rows = {}
    for suite, m in metrics.items():
        for mode in (*MODES, FULL):
            suffix = "" if mode == FULL else f"_{mode}"
            if f"chunk_mrr{suffix}" in m:
                label = "full system (+ title match)" if mode == FULL else f"{mode} retrieval"
                rows[f"{suite} / {label}"] = {c: m.get(c + suffix) for c in MODE_COLUMNS}
    lines = ["## Retrieval ablation: each mode's top 5 chunks through the same answer extraction", ""]
    lines += _table(rows, MODE_COLUMNS)
    ablation = report.get("abstention_ablation") or {}
    if ablation:
        lines += ["## Abstention feature ablation: AUROC of the model refitted on the dev splits without each", ""]
        lines += _table(ablation, list(next(iter(ablation.values()))))
    return lines


def _flat(text: str) -> str:
    """Text on one line, so that it stays inside its Markdown list item."""
    return " ".join(text.split())


def _failure_lines(f: dict[str, Any]) -> list[str]:
    got = "abstention" if f["abstained"] else repr(_flat(f["answer"][:80]))
    lines = [
        f"- **{f['id']}** {_flat(f['question'])} — expected {f['expected']}, got {got} (confidence {f['confidence']})"
    ]
    if f.get("unsupported_numbers"):
        lines.append(f"  - numbers not in the citations: {', '.join(f['unsupported_numbers'])}")
    lines += [f"  - cited: {_flat(q)}" for q in f["cited"]]
    lines += [
        f"  - retrieved: {h['doc_id']} [{h['span'][0]}–{h['span'][1]}] {_flat(h['text'])}" for h in f["retrieved"]
    ]
    return lines


def _failures(report: dict[str, Any]) -> list[str]:
    lines = ["## Failures", ""]
    for suite, listed in report["failures"].items():
        lines += [f"### {suite} ({len(listed)} wrong)", ""]
        for f in listed[:MAX_LISTED]:
            lines += _failure_lines(f)
        if len(listed) > MAX_LISTED:
            lines.append(f"- … and {len(listed) - MAX_LISTED} more in report.json")
        lines.append("")
    return lines


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: regressions and gate first, then summary, per kind, curves, ablations, failures."""
    cal = report["calibration"]
    lines = [
        "# zhengce-qa eval report",
        "",
        f"Index {report['index']}; calibration {cal.get('path')} (threshold {_cell(cal.get('threshold'))}, "
        f"target precision {_cell(cal.get('target_precision'))}); the run took {report['elapsed_s']:.0f} s.",
        "",
        *_attention(report),
        *_side_by_side(report),
        "## Summary",
        "",
        *_table(report["metrics"], SUMMARY_COLUMNS),
        DEFINITIONS,
        "",
        "## What users saw (shares of each suite's questions; the rates over answerable / unanswerable ones)",
        "",
        *_table(report["metrics"], USER_COLUMNS),
        "## Retrieval only (the gold passage / document among the retrieved chunks, whatever was answered)",
        "",
        *_table(report["metrics"], RETRIEVAL_COLUMNS),
    ]
    for suite, kinds in report["by_kind"].items():
        lines += [f"## {suite} by kind", "", *_table(kinds, KIND_COLUMNS)]
    lines += [*_answering(report), *_ablations(report), *_failures(report)]
    return "\n".join(lines) + "\n"


def plot_curves(out_dir: Path, curves: dict[str, list[OperatingPoint]], threshold: float) -> dict[str, str]:
    """One coverage–precision PNG per suite in ``out_dir``, the committed threshold and the targets marked.

    Returns:
        suite → file name (relative to ``out_dir``, as the Markdown links it).
    """
    names = {}
    for suite, points in curves.items():
        if not points:
            continue
        marks = {"committed threshold": point_at(points, threshold)}
        for target in TARGET_PRECISIONS:
            chosen = point_for_precision(points, target)
            if chosen is not None:
                marks[f"precision >= {target}"] = chosen
        name = f"coverage_precision_{suite}.png"
        coverage_precision_plot(points, marks, f"{suite}: coverage vs precision", out_dir / name)
        names[suite] = name
    return names


def write_report(
    out_dir: Path, report: dict[str, Any], curves: dict[str, list[OperatingPoint]], threshold: float
) -> Path:
    """Write the plots, ``report.json`` and ``report.md`` into ``out_dir``; returns the Markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {
        **report,
        "plots": plot_curves(out_dir, curves, threshold),
        "curves": {
            s: [[round(p.threshold, 5), round(p.coverage, 4), round(p.precision, 4)] for p in c]
            for s, c in curves.items()
        },
    }
    (out_dir / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    path = out_dir / "report.md"
    path.write_text(markdown(report), encoding="utf-8")
    return path
