"""Summaries of evaluated cases: headline metrics, per kind, per retrieval mode, failures, the gate (pure)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

from evals.metrics import (
    OperatingPoint,
    abstention_quality,
    auroc,
    coverage_precision,
    hit_at_k,
    mrr,
    point_for_precision,
)
from evals.run import FULL, MODES, CaseResult, Outcome

# Precision targets whose coverage every summary reports.
TARGET_PRECISIONS = (0.95, 0.9)
# Metrics where less is better: they regress upwards and are gated by ceilings.
LOWER_IS_BETTER = frozenset(
    {"unsupported_number_rate", "answered_wrong", "refused_answerable", "answered_unanswerable"}
    | {"refused_answerable_rate", "answered_unanswerable_rate", "checked_answers"}
)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def outcome_metrics(outcomes: Sequence[Outcome], suffix: str = "") -> dict[str, float]:
    """Ranking and answer metrics of answerable cases' outcomes; keys end in ``suffix``.

    ``hit@k``/``mrr`` rank the gold among the answer's citations (a refusal has none),
    ``chunk_*`` among the retrieved chunks and ``doc_*`` the gold document among them.
    """
    cite = [o.cite_rank for o in outcomes]
    chunk = [o.chunk_rank for o in outcomes]
    docs = [o.doc_rank for o in outcomes]
    values = {
        "hit@1": hit_at_k(cite, 1),
        "hit@5": hit_at_k(cite, 5),
        "mrr": mrr(cite),
        "chunk_hit@1": hit_at_k(chunk, 1),
        "chunk_hit@5": hit_at_k(chunk, 5),
        "chunk_mrr": mrr(chunk),
        "doc_hit@1": hit_at_k(docs, 1),
        "doc_hit@5": hit_at_k(docs, 5),
        "answer_correct": _mean([o.correct for o in outcomes]),
        "char_f1": _mean([o.char_f1 for o in outcomes]),
        "rouge_l": _mean([o.rouge_l for o in outcomes]),
    }
    return {k + suffix: v for k, v in values.items()}


def curve(results: Sequence[CaseResult]) -> list[OperatingPoint]:
    """Coverage and precision of answering as the confidence threshold sweeps (answer right = correct)."""
    return coverage_precision([r.answer.confidence for r in results], [r.correct_if_answered for r in results])


def user_outcomes(results: Sequence[CaseResult]) -> dict[str, float]:
    """What users saw, as shares of all questions, and the two rates the gate bounds.

    ``answered_right``/``answered_wrong``/``refused_answerable`` over answerable questions and
    ``refused_unanswerable``/``answered_unanswerable`` over the rest add up to 1. A refusal of an
    answerable question is a failure: ``refused_answerable_rate`` is its share of the answerable
    questions, ``answered_unanswerable_rate`` the share of unanswerable questions given an answer.
    ``unmarked_unanswerable_rate`` is the share of unanswerable questions answered *without* the
    请核对原文 mark, as if sure. ``checked_answers`` is the share of answers marked 请核对原文
    (answered below the confident level).
    """
    n = len(results)
    answerable = [r for r in results if r.case.answerable]
    unanswerable = [r for r in results if not r.case.answerable]
    answered = [r for r in results if not r.answer.abstained]
    counts = {
        "answered_right": sum(1 for r in answerable if not r.answer.abstained and r.answer_ok),
        "answered_wrong": sum(1 for r in answerable if not r.answer.abstained and not r.answer_ok),
        "refused_answerable": sum(1 for r in answerable if r.answer.abstained),
        "refused_unanswerable": sum(1 for r in unanswerable if r.answer.abstained),
        "answered_unanswerable": sum(1 for r in unanswerable if not r.answer.abstained),
    }
    out = {k: v / n if n else 0.0 for k, v in counts.items()}
    out["refused_answerable_rate"] = counts["refused_answerable"] / len(answerable) if answerable else 0.0
    if unanswerable:
        out["answered_unanswerable_rate"] = counts["answered_unanswerable"] / len(unanswerable)
        sure = sum(1 for r in unanswerable if not r.answer.abstained and r.answer.confidence_level == "high")
        out["unmarked_unanswerable_rate"] = sure / len(unanswerable)
    out["checked_answers"] = _mean([r.answer.confidence_level == "check" for r in answered]) if answered else 0.0
    return out


def answering_metrics(results: Sequence[CaseResult]) -> dict[str, float]:
    """Coverage and precision at the committed threshold and coverage at each target precision.

    Also the share of given answers holding a number that none of their quotes holds.
    """
    answered = [r for r in results if not r.answer.abstained]
    out = {
        "n_answered": float(len(answered)),
        "coverage": len(answered) / len(results) if results else 0.0,
        "precision": _mean([r.correct_if_answered for r in answered]) if answered else 1.0,
        "unsupported_number_rate": _mean([bool(r.unsupported) for r in answered]),
    }
    points = curve(results)
    for target in TARGET_PRECISIONS:
        chosen = point_for_precision(points, target)
        out[f"coverage@p{target}"] = chosen.coverage if chosen else 0.0
        if chosen is not None:
            out[f"threshold@p{target}"] = chosen.threshold
    return out


def summarize(results: Sequence[CaseResult]) -> dict[str, float]:
    """The headline metrics of a run; un-suffixed ones are the full system's, ``_<mode>`` a retrieval mode's.

    Ranking and answer metrics are over answerable cases; abstentions score 0 on them.
    """
    answerable = [r for r in results if r.case.answerable]
    latencies = sorted(r.latency_ms for r in results)
    out: dict[str, float] = {
        "n": len(results),
        "n_answerable": len(answerable),
        **outcome_metrics([r.outcomes[FULL] for r in answerable]),
        "citations_verified": sum(r.verified for r in results) / max(1, sum(r.n_citations for r in results)),
        "latency_p50_ms": statistics.median(latencies) if latencies else 0.0,
        "latency_p95_ms": latencies[int(0.95 * (len(latencies) - 1))] if latencies else 0.0,
        **answering_metrics(results),
        **user_outcomes(results),
    }
    for mode in MODES:
        if answerable and mode in answerable[0].outcomes:
            out |= outcome_metrics([r.outcomes[mode] for r in answerable], f"_{mode}")
    if len(answerable) < len(results):
        out.update(abstention_quality([r.answer.abstained for r in results], [r.case.answerable for r in results]))
        out["confidence_auroc"] = auroc([r.answer.confidence for r in results], [r.case.answerable for r in results])
        out["unanswerable_abstained"] = sum(r.answer.abstained for r in results if not r.case.answerable) / (
            len(results) - len(answerable)
        )
    return {k: round(v, 4) for k, v in out.items()}


def by_kind(results: Sequence[CaseResult]) -> dict[str, dict[str, float | None]]:
    """Per kind of question: how many, citation hit@k, answer correctness, char F1 and ROUGE-L.

    Ranks and text scores are None for kinds of unanswerable questions.
    """
    groups: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        groups[r.case.kind].append(r)
    table: dict[str, dict[str, float | None]] = {}
    for kind, rs in sorted(groups.items()):
        row: dict[str, float | None] = {"n": len(rs), "answer_correct": round(_mean([r.answer_ok for r in rs]), 4)}
        scored = outcome_metrics([r.outcomes[FULL] for r in rs])
        for name in ("hit@1", "hit@5", "char_f1", "rouge_l"):
            row[name] = round(scored[name], 4) if rs[0].case.answerable else None
        table[kind] = row
    return table


def _retrieved(r: CaseResult, n: int = 3) -> list[dict[str, Any]]:
    return [
        {"doc_id": h.chunk.doc_id, "span": [h.chunk.start, h.chunk.end], "text": h.chunk.text[:80]}
        for h in r.answer.hits[:n]
    ]


def failure(r: CaseResult) -> dict[str, Any]:
    """One wrong case for the report: the question, what was expected, said, cited and retrieved."""
    return {
        "id": r.case.id,
        "question": r.case.question,
        "kind": r.case.kind,
        "answerable": r.case.answerable,
        "abstained": r.answer.abstained,
        "confidence": round(r.answer.confidence, 3),
        "answer": r.answer.text[:200],
        "expected": list(r.case.must_contain) or "abstain",
        "unsupported_numbers": list(r.unsupported),
        "cited": [c.quote[:80] for c in (r.answer.citations or r.answer.related)[:3]],
        "retrieved": _retrieved(r),
    }


def failures(results: Sequence[CaseResult], skip_ids: Collection[str] = ()) -> list[dict[str, Any]]:
    """The cases answered wrongly or with an unsupported number, except those whose id is in ``skip_ids``."""
    return [failure(r) for r in results if (not r.answer_ok or r.unsupported) and r.case.id not in skip_ids]


def check_gate(metrics: dict[str, dict[str, float]], thresholds: dict[str, Any]) -> list[str]:
    """Every metric below its floor or above its ceiling, as a message; empty when the gate passes.

    ``thresholds`` maps suites to floors; its ``"ceilings"`` entry maps suites to ceilings, where the
    suite ``"*"`` stands for every suite that was run.
    """
    problems = []
    for suite, wanted in thresholds.items():
        if suite == "ceilings":
            continue
        for name, floor in wanted.items():
            value = metrics.get(suite, {}).get(name)
            if value is None or value < floor:
                problems.append(f"{suite}.{name} = {value} is below the floor {floor}")
    for suite, wanted in thresholds.get("ceilings", {}).items():
        for each in metrics if suite == "*" else [suite]:
            for name, ceiling in wanted.items():
                value = metrics.get(each, {}).get(name)
                if value is None or value > ceiling:
                    problems.append(f"{each}.{name} = {value} is above the ceiling {ceiling}")
    return problems
