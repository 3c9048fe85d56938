"""The eval sets: the fixed seed set (``eval_set.jsonl``) and the public DRCD benchmark (I/O)."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ingest.types import Document, Span

EVAL_SET = Path(__file__).with_name("eval_set.jsonl")


class EvalSetError(ValueError):
    """An eval case is malformed or its gold quote is not in its document."""


@dataclass(frozen=True, slots=True)
class Gold:
    """A gold quote, located in its document."""

    doc_id: str
    quote: str
    span: Span


@dataclass(frozen=True, slots=True)
class EvalCase:
    """One question with its gold evidence (by content) and what the answer must contain."""

    id: str
    question: str
    kind: str
    answerable: bool
    gold: tuple[Gold, ...]
    must_contain: tuple[str, ...]
    exclude_doc: str | None = None
    history: tuple[str, ...] = ()  # a dialogue turn's previous questions, oldest first

    @property
    def excluded(self) -> tuple[str, ...]:
        """The documents left out of the index for this case."""
        return (self.exclude_doc,) if self.exclude_doc else ()


def _locate(row: dict[str, object], docs: dict[str, Document]) -> tuple[Gold, ...]:
    golds = []
    for g in row["gold"]:  # type: ignore[attr-defined]
        doc = docs.get(g["doc_id"])
        if doc is None:
            raise EvalSetError(f"{row['id']}: unknown doc_id {g['doc_id']!r}")
        start = doc.text.find(g["quote"])
        if start < 0:
            raise EvalSetError(f"{row['id']}: gold quote not in the cleaned text of {g['doc_id']}: {g['quote']!r}")
        golds.append(Gold(g["doc_id"], g["quote"], Span(start, start + len(g["quote"]))))
    return tuple(golds)


def load_eval_set(path: Path, docs: dict[str, Document]) -> list[EvalCase]:
    """Read a fixed eval set; every gold quote must occur in its document's cleaned text.

    Raises:
        EvalSetError: a line is malformed, names an unknown document, or a quote is not found.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    return cases_from_rows([json.loads(line) for line in lines if line.strip()], docs)


def cases_from_rows(rows: list[dict[str, Any]], docs: dict[str, Document]) -> list[EvalCase]:
    """Eval cases from parsed set lines, their gold quotes located in ``docs``.

    Raises:
        EvalSetError: a row names an unknown document, or a quote is not found.
    """
    return [
        EvalCase(
            id=row["id"],
            question=row["question"],
            kind=row["kind"],
            answerable=bool(row["answerable"]),
            gold=_locate(row, docs),
            must_contain=tuple(row["must_contain"]),
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class DrcdQuestion:
    """A DRCD question over one paragraph, with its verbatim answer strings."""

    id: str
    context_id: str
    question: str
    answers: tuple[str, ...]


def read_drcd(
    path: Path, name: str = "DRCD", source: str = "DRCD v1.3 (CC BY-SA 3.0)"
) -> tuple[dict[str, Document], list[DrcdQuestion]]:
    """DRCD's paragraphs as documents (doc_id = context_id) and its questions.

    DRCD v1.3 (Delta Electronics), CC BY-SA 3.0; CMRC 2018 (same line format), CC BY-SA 4.0:
    see ``../shared/data/README.md``.
    """
    docs: dict[str, Document] = {}
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        cid = row["context_id"]
        if cid not in docs:
            text = row["context"]
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            docs[cid] = Document(cid, row.get("title") or f"{name} {cid}", text, source=source, sha256=digest)
        questions.append(DrcdQuestion(row["id"], cid, row["question"], tuple(row["answers"])))
    return docs, questions


def split_by_doc(questions: list[DrcdQuestion], seed: int = 13) -> tuple[list[DrcdQuestion], list[DrcdQuestion]]:
    """A fixed dev/test split by paragraph, so no paragraph's questions fall on both sides."""
    contexts = sorted({q.context_id for q in questions})
    random.Random(seed).shuffle(contexts)
    dev = set(contexts[: len(contexts) // 2])
    return [q for q in questions if q.context_id in dev], [q for q in questions if q.context_id not in dev]


def drcd_cases(questions: list[DrcdQuestion], docs: dict[str, Document]) -> list[EvalCase]:
    """DRCD questions as eval cases; the gold spans are the answers' first occurrences in the paragraph.

    A blank question (CMRC 2018 trial has one) is no case: the product refuses it with a 422.
    """
    cases = []
    for q in (q for q in questions if q.question.strip()):
        text = docs[q.context_id].text
        golds = tuple(
            Gold(q.context_id, a, Span(text.find(a), text.find(a) + len(a)))
            for a in dict.fromkeys(q.answers)
            if a in text
        )
        cases.append(EvalCase(q.id, q.question, "drcd", True, golds, tuple(dict.fromkeys(q.answers))))
    return cases


def split_seed(cases: list[EvalCase]) -> tuple[list[EvalCase], list[EvalCase]]:
    """Dev/test halves of a written set by the parity of the case number (odd: dev; fixed, independent of content)."""
    dev = [c for c in cases if int(c.id.rsplit("-", 1)[1]) % 2 == 1]
    return dev, [c for c in cases if c not in dev]


def without_own_paragraph(cases: list[EvalCase]) -> list[EvalCase]:
    """The same questions with their own paragraph left out of the index: nothing can answer them.

    This is how DRCD, which has no unanswerable questions, measures abstention.
    """
    return [
        replace(
            c,
            id=c.id + "-x",
            kind="drcd_unanswerable",
            answerable=False,
            gold=(),
            must_contain=(),
            exclude_doc=c.gold[0].doc_id if c.gold else None,
        )
        for c in cases
    ]


def in_simplified(cases: list[EvalCase]) -> list[EvalCase]:
    """The same questions converted to Simplified characters (OpenCC t2s), against the Traditional text.

    The search normalises both sides to one script, so a staff member typing Simplified finds a
    Traditional document (and the reverse); DRCD, written in Traditional, measures it.
    """
    import opencc

    convert = opencc.OpenCC("t2s").convert
    return [replace(c, id=c.id + "-s", kind="drcd_simplified", question=convert(c.question)) for c in cases]
