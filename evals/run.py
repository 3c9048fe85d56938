"""Run eval cases through a retriever and summarise them (the I/O-free part of the CLI)."""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from evals.dataset import EvalCase
from evals.metrics import abstention_quality, auroc, contains_all, contains_any, first_relevant_rank, hit_at_k, mrr
from ingest.types import Span
from retriever.pipeline import Mode, Retriever
from retriever.types import Answer, Citation, Hit

MODES: tuple[Mode, ...] = ("lexical", "dense", "fused")


@dataclass(frozen=True, slots=True)
class CaseResult:
    """What the system did with one case."""

    case: EvalCase
    answer: Answer
    cite_rank: int | None
    chunk_ranks: dict[str, int | None]
    verified: int
    n_citations: int
    answer_ok: bool
    latency_ms: float


def citation_passages(citations: Sequence[Citation]) -> list[tuple[str, Span, str]]:
    return [(c.doc_id, Span(c.start, c.end), c.quote) for c in citations]


def hit_passages(hits: Sequence[Hit]) -> list[tuple[str, Span, str]]:
    return [(h.chunk.doc_id, Span(h.chunk.start, h.chunk.end), h.chunk.text) for h in hits]


def _answer_ok(case: EvalCase, answer: Answer) -> bool:
    if not case.answerable:
        return answer.abstained
    if answer.abstained:
        return False
    # DRCD lists alternative answers (any will do); the seed set lists required strings (all of them).
    check = contains_any if case.kind == "drcd" else contains_all
    return check(answer.text, case.must_contain)


def judge(case: EvalCase, answer: Answer) -> tuple[int | None, bool]:
    """The rank of the first relevant citation (or related passage) and whether the answer is right."""
    return first_relevant_rank(case, citation_passages(answer.citations or answer.related)), _answer_ok(case, answer)


def evaluate_case(retriever: Retriever, case: EvalCase, top_k: int = 5, modes: Sequence[Mode] = MODES) -> CaseResult:
    """Ask one case, and rank its gold among citations and among each mode's chunks."""
    started = time.perf_counter()
    answer = retriever.ask(case.question, top_k=top_k, exclude=case.excluded)
    latency = (time.perf_counter() - started) * 1000
    chunk_ranks: dict[str, int | None] = {}
    if modes:
        signals = retriever.signals(case.question, case.excluded)
        chunk_ranks = {m: first_relevant_rank(case, hit_passages(retriever.rank(signals, top_k, m))) for m in modes}
    shown = [*answer.citations, *answer.related]
    verified = sum(1 for c in shown if retriever.docs[c.doc_id].text[c.start : c.end] == c.quote)
    cite_rank, answer_ok = judge(case, answer)
    return CaseResult(case, answer, cite_rank, chunk_ranks, verified, len(shown), answer_ok, latency)


def evaluate(
    retriever: Retriever, cases: Sequence[EvalCase], top_k: int = 5, modes: Sequence[Mode] = MODES
) -> list[CaseResult]:
    """Evaluate every case; ``modes`` are the retrieval modes whose chunk ranking is also measured."""
    return [evaluate_case(retriever, c, top_k, modes) for c in cases]


def _ranks(results: Sequence[CaseResult], mode: str | None) -> list[int | None]:
    return [r.cite_rank if mode is None else r.chunk_ranks[mode] for r in results]


def summarize(results: Sequence[CaseResult]) -> dict[str, float]:
    """The headline metrics of a run.

    Citation metrics (``hit@1``, ``hit@5``, ``mrr``) rank the gold among the answer's citations (or
    the related passages, when it abstained); ``chunk_*`` metrics rank it among each mode's top chunks.
    """
    answerable = [r for r in results if r.case.answerable]
    latencies = sorted(r.latency_ms for r in results)
    out: dict[str, float] = {
        "n": len(results),
        "n_answerable": len(answerable),
        "hit@1": hit_at_k(_ranks(answerable, None), 1),
        "hit@5": hit_at_k(_ranks(answerable, None), 5),
        "mrr": mrr(_ranks(answerable, None)),
        "answer_correct": sum(r.answer_ok for r in answerable) / len(answerable) if answerable else 0.0,
        "citations_verified": sum(r.verified for r in results) / max(1, sum(r.n_citations for r in results)),
        "latency_p50_ms": statistics.median(latencies) if latencies else 0.0,
        "latency_p95_ms": latencies[int(0.95 * (len(latencies) - 1))] if latencies else 0.0,
    }
    for mode in MODES:
        out[f"chunk_hit@1_{mode}"] = hit_at_k(_ranks(answerable, mode), 1)
        out[f"chunk_hit@5_{mode}"] = hit_at_k(_ranks(answerable, mode), 5)
        out[f"chunk_mrr_{mode}"] = mrr(_ranks(answerable, mode))
    if len(answerable) < len(results):
        out.update(abstention_quality([r.answer.abstained for r in results], [r.case.answerable for r in results]))
        out["confidence_auroc"] = auroc([r.answer.confidence for r in results], [r.case.answerable for r in results])
        out["unanswerable_abstained"] = sum(r.answer.abstained for r in results if not r.case.answerable) / (
            len(results) - len(answerable)
        )
    return {k: round(v, 4) for k, v in out.items()}


def by_kind(results: Sequence[CaseResult]) -> dict[str, dict[str, float]]:
    """Per kind of question: how many, citation hit@1, and answer correctness."""
    groups: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        groups[r.case.kind].append(r)
    return {
        kind: {
            "n": len(rs),
            "hit@1": round(hit_at_k(_ranks(rs, None), 1), 4) if rs[0].case.answerable else float("nan"),
            "answer_correct": round(sum(r.answer_ok for r in rs) / len(rs), 4),
        }
        for kind, rs in sorted(groups.items())
    }


def failures(results: Sequence[CaseResult]) -> list[dict[str, object]]:
    """The cases whose answer is wrong, with what was cited, for the report."""
    return [
        {
            "id": r.case.id,
            "question": r.case.question,
            "answerable": r.case.answerable,
            "abstained": r.answer.abstained,
            "confidence": round(r.answer.confidence, 3),
            "answer": r.answer.text[:200],
            "expected": list(r.case.must_contain) or "abstain",
            "cited": [c.quote[:80] for c in (r.answer.citations or r.answer.related)[:3]],
        }
        for r in results
        if not r.answer_ok
    ]


def check_floors(metrics: dict[str, dict[str, float]], floors: dict[str, dict[str, float]]) -> list[str]:
    """Every metric below its floor, as a message; empty when the gate passes."""
    problems = []
    for suite, wanted in floors.items():
        got = metrics.get(suite, {})
        for name, floor in wanted.items():
            value = got.get(name)
            if value is None or value < floor:
                problems.append(f"{suite}.{name} = {value} is below the floor {floor}")
    return problems
