"""Run eval cases through a retriever and judge every answer against its gold (no file I/O).

Each question is asked once through the full system (``Retriever.ask``, what users get). Its
retrieval signals are then computed once more and ranked by each retrieval mode alone; every
mode's hits go through the same ``answer_from``, so the modes differ in retrieval only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

from evals.dataset import EvalCase
from evals.metrics import char_f1, contains_gold, first_relevant_rank, rouge_l
from ingest.types import Span
from retriever.followup import resolve
from retriever.numbers import unsupported_numbers
from retriever.pipeline import Mode, Retriever
from retriever.types import Answer, Citation, Hit

MODES: tuple[Mode, ...] = ("lexical", "dense", "fused")
FULL = "full"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one answer (the full system's, or one retrieval mode's) fared against the case's gold.

    ``chunk_rank`` ranks the gold among the retrieved chunks and ``doc_rank`` a gold document among
    them (retrieval only); ``cite_rank`` ranks the gold among the answer's citations, so a refusal
    has none (the related passages it offers are not an answer). ``correct`` is the gate's
    judgement: an answerable case answered with a gold answer, an unanswerable one refused. The
    text scores are 0 for a refusal and for unanswerable cases.
    """

    chunk_rank: int | None
    doc_rank: int | None
    cite_rank: int | None
    answered: bool
    correct: bool
    char_f1: float
    rouge_l: float


@dataclass(frozen=True, slots=True)
class CaseResult:
    """What the system did with one case.

    ``correct_if_answered`` says whether the answer would be right with abstention switched off
    (False for unanswerable cases): the coverage–precision curve sweeps the threshold over it.
    ``unsupported`` lists numbers of the answer that none of its quotes holds.
    """

    case: EvalCase
    answer: Answer
    outcomes: dict[str, Outcome]
    correct_if_answered: bool
    unsupported: tuple[str, ...]
    verified: int
    n_citations: int
    latency_ms: float

    @property
    def cite_rank(self) -> int | None:
        """The full system's citation rank of the gold."""
        return self.outcomes[FULL].cite_rank

    @property
    def answer_ok(self) -> bool:
        """Whether the full system's answer (or abstention) is right."""
        return self.outcomes[FULL].correct


def citation_passages(citations: Sequence[Citation]) -> list[tuple[str, Span, str]]:
    """Citations as ``(doc_id, span, text)`` passages for ``first_relevant_rank``."""
    return [(c.doc_id, Span(c.start, c.end), c.quote) for c in citations]


def hit_passages(hits: Sequence[Hit]) -> list[tuple[str, Span, str]]:
    """Retrieved chunks as ``(doc_id, span, text)`` passages for ``first_relevant_rank``."""
    return [(h.chunk.doc_id, Span(h.chunk.start, h.chunk.end), h.chunk.text) for h in hits]


def doc_rank(case: EvalCase, hits: Sequence[Hit]) -> int | None:
    """The 1-based rank of the first retrieved chunk from a gold document, or None."""
    gold_docs = {g.doc_id for g in case.gold}
    return next((rank for rank, h in enumerate(hits, start=1) if h.chunk.doc_id in gold_docs), None)


def gold_texts(case: EvalCase) -> list[str]:
    """What the answer's text is scored against (char F1, ROUGE-L): the gold answer a person wants.

    The gold quotes where the case has them (the policy sets' golds are whole passages); DRCD's
    alternatives are its short answer spans, scored one by one.
    """
    if not case.answerable:
        return []
    if case.kind == "drcd" or not case.gold:
        return ["".join(parts) for parts in gold_answers(case)]
    return ["".join(g.quote for g in case.gold)]


def gold_answers(case: EvalCase) -> tuple[tuple[str, ...], ...]:
    """The case's gold answers: alternatives, each a tuple of parts that must all occur.

    DRCD lists alternative answer spans, any one of which will do. The seed and library sets list
    the strings a right answer contains, all of them (``must_contain``); a case without any falls
    back on its gold quotes, all of them. Unanswerable cases have none.
    """
    if not case.answerable:
        return ()
    if case.kind == "drcd":
        return tuple((a,) for a in case.must_contain)
    parts = case.must_contain or tuple(g.quote for g in case.gold)
    return (parts,) if parts else ()


def _answer_ok(case: EvalCase, answer: Answer) -> bool:
    if not case.answerable:
        return answer.abstained
    return not answer.abstained and contains_gold(answer.text, gold_answers(case))


def judge(case: EvalCase, answer: Answer) -> tuple[int | None, bool]:
    """The rank of the first relevant citation of the answer (None for a refusal) and whether it is right."""
    return first_relevant_rank(case, citation_passages(answer.citations)), _answer_ok(case, answer)


def outcome(case: EvalCase, answer: Answer, hits: Sequence[Hit]) -> Outcome:
    """Judge one answer, and the hits it was extracted from, against the case's gold.

    Char F1 and ROUGE-L compare the answer with the gold texts (:func:`gold_texts`), best over golds.
    """
    cite_rank, correct = judge(case, answer)
    golds = gold_texts(case)
    text = "" if answer.abstained else answer.text
    return Outcome(
        first_relevant_rank(case, hit_passages(hits)),
        doc_rank(case, hits),
        cite_rank,
        not answer.abstained,
        correct,
        char_f1(text, golds),
        rouge_l(text, golds),
    )


@contextmanager
def abstention_off(retriever: Retriever) -> Iterator[Retriever]:
    """The retriever answering every question (threshold −∞) for the duration, then as before."""
    config = retriever.config
    retriever.config = replace(config, abstention=replace(config.abstention, threshold=-math.inf, rules=False))
    try:
        yield retriever
    finally:
        retriever.config = config


def correct_if_answered(retriever: Retriever, case: EvalCase, answer: Answer, top_k: int) -> bool:
    """Whether the answer, had it not abstained, would be right (re-extracted from its own hits)."""
    if not case.answerable:
        return False
    if not answer.abstained:
        return _answer_ok(case, answer)
    with abstention_off(retriever) as open_retriever:
        opened = open_retriever.answer_from(retriever.parse(answer.question), list(answer.hits), top_k)
    return _answer_ok(case, opened)


def unsupported(answer: Answer) -> tuple[str, ...]:
    """The numbers of a given answer that none of its cited quotes holds (none for an abstention)."""
    if answer.abstained:
        return ()
    return tuple(q.raw for q in unsupported_numbers(answer.text, [c.quote for c in answer.citations]))


def asked(case: EvalCase) -> str:
    """The question the system answers for a case: a dialogue turn made whole from the turns before it,
    as the server does (``retriever.followup``)."""
    return resolve(case.question, case.history)


def mode_outcomes(retriever: Retriever, case: EvalCase, top_k: int, modes: Sequence[Mode]) -> dict[str, Outcome]:
    """Each retrieval mode's hits, answered by the same extraction; the signals are computed once."""
    if not modes:
        return {}
    question = retriever.parse(asked(case))
    signals = retriever.signals(question, case.excluded)
    k = max(top_k, retriever.config.answer_hits)
    out: dict[str, Outcome] = {}
    for mode in modes:
        hits = retriever.rank(signals, k, mode, titles=False)  # the full system adds the title match
        out[mode] = outcome(case, retriever.answer_from(question, hits, top_k), hits)
    return out


def evaluate_case(retriever: Retriever, case: EvalCase, top_k: int = 5, modes: Sequence[Mode] = MODES) -> CaseResult:
    """Ask one case through the full system, then through each retrieval mode, and judge them all."""
    started = time.perf_counter()
    answer = retriever.ask(asked(case), top_k=top_k, exclude=case.excluded)
    latency = (time.perf_counter() - started) * 1000
    outcomes = {FULL: outcome(case, answer, answer.hits), **mode_outcomes(retriever, case, top_k, modes)}
    shown = [*answer.citations, *answer.related]
    verified = sum(1 for c in shown if retriever.docs[c.doc_id].text[c.start : c.end] == c.quote)
    return CaseResult(
        case,
        answer,
        outcomes,
        correct_if_answered(retriever, case, answer, top_k),
        unsupported(answer),
        verified,
        len(shown),
        latency,
    )


def evaluate(
    retriever: Retriever, cases: Sequence[EvalCase], top_k: int = 5, modes: Sequence[Mode] = MODES
) -> list[CaseResult]:
    """Evaluate every case; ``modes`` are the retrieval modes also answered from on their own."""
    return [evaluate_case(retriever, c, top_k, modes) for c in cases]
