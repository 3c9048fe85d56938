"""Write the eval report: JSON for machines, Markdown for people (I/O)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def regressions(
    metrics: dict[str, dict[str, float]], baseline: dict[str, dict[str, float]], tolerance: float = 0.005
) -> list[str]:
    """Metrics that fell by more than ``tolerance`` against the committed baseline (latency excluded)."""
    out = []
    for suite, values in baseline.items():
        for name, before in values.items():
            now = metrics.get(suite, {}).get(name)
            if now is None or "latency" in name or name.startswith("n"):
                continue
            if now < before - tolerance:
                out.append(f"{suite}.{name}: {before} → {now}")
    return out


def _table(rows: dict[str, dict[str, Any]], columns: list[str]) -> list[str]:
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return lines


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: regressions first, then metrics, ablation, per kind, failures."""
    lines = ["# zhengce-qa eval report", ""]
    if report["regressions"]:
        lines += ["## Regressions against evals/baseline.json", "", *[f"- {r}" for r in report["regressions"]], ""]
    if report["gate_failures"]:
        lines += ["## Below the floors of evals/thresholds.json", "", *[f"- {r}" for r in report["gate_failures"]], ""]
    metrics = report["metrics"]
    headline = [
        "n",
        "hit@1",
        "hit@5",
        "mrr",
        "answer_correct",
        "citations_verified",
        "abstain_precision",
        "abstain_recall",
        "latency_p50_ms",
    ]
    lines += ["## Metrics", "", *_table(metrics, headline), ""]
    ablation = {
        f"{suite} / {mode}": {k: metrics[suite].get(f"chunk_{k}_{mode}") for k in ("hit@1", "hit@5", "mrr")}
        for suite in metrics
        for mode in ("lexical", "dense", "fused")
        if f"chunk_mrr_{mode}" in metrics[suite]
    }
    lines += [
        "## Retrieval ablation (gold among the top 5 chunks)",
        "",
        *_table(ablation, ["hit@1", "hit@5", "mrr"]),
        "",
    ]
    for suite, kinds in report["by_kind"].items():
        lines += [f"## {suite} by kind", "", *_table(kinds, ["n", "hit@1", "answer_correct"]), ""]
    lines += ["## Failures (seed set)", ""]
    for f in report["failures"]:
        got = "abstention" if f["abstained"] else repr(f["answer"][:80])
        lines.append(
            f"- **{f['id']}** {f['question']} — expected {f['expected']}, got {got} (confidence {f['confidence']})"
        )
        lines += [f"  - cited: {q}" for q in f["cited"]]
    return "\n".join(lines) + "\n"


def write_report(out_dir: Path, report: dict[str, Any]) -> Path:
    """Write ``report.json`` and ``report.md`` into ``out_dir``; returns the Markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    path = out_dir / "report.md"
    path.write_text(markdown(report), encoding="utf-8")
    return path
