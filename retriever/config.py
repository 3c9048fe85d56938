"""Retrieval settings, passed as arguments; the fitted ones are read from ``calibration.json``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

CALIBRATION_PATH = Path(__file__).with_name("calibration.json")
MAX_QUESTION_CHARS = 500


@dataclass(frozen=True, slots=True)
class Abstention:
    """A logistic model over evidence features; answer when its probability reaches ``threshold``.

    An answer whose probability is below ``confident`` is shown marked 请核对原文 (check the
    source); ``confident`` at or below ``threshold`` means no such band. ``rules`` turns on the
    evidence-of-absence refusals (``retriever.answer.absence``); evals switch them off with the
    threshold to judge every answer.
    """

    weights: tuple[float, ...] = (0.0,)
    bias: float = 0.0
    threshold: float = 0.0
    features: tuple[str, ...] = ("coverage",)
    confident: float = 0.0
    rules: bool = True

    def level(self, probability: float) -> Literal["high", "check", "none"]:
        """Refuse below ``threshold``, mark below ``confident``, else answer."""
        if probability < self.threshold:
            return "none"
        return "check" if probability < self.confident else "high"


@dataclass(frozen=True, slots=True)
class SentenceRanker:
    """A linear model over sentence features (``retriever.answer.SENTENCE_FEATURES``): higher is better.

    Fitted as a logistic regression of "this sentence holds the gold answer" on labelled reading
    comprehension data (``zhengce eval --fit``); empty ``weights`` mean the hand-set score instead.
    """

    weights: tuple[float, ...] = ()
    bias: float = 0.0
    features: tuple[str, ...] = ()

    def score(self, values: tuple[float, ...]) -> float:
        """The model's logit for a sentence's feature values (in ``features`` order)."""
        return self.bias + sum(w * v for w, v in zip(self.weights, values, strict=True))


@dataclass(frozen=True, slots=True)
class AnswerConfig:
    """How sentences are scored and joined into an answer (chosen on the seed set's dev half).

    A sentence scores its idf-weighted coverage of the question, plus ``rank_weight`` times its
    chunk's fused score (plus ``number_weight`` times its number fit for a quantity question). Another
    sentence of the same document joins the answer when it adds at least ``join_gain`` coverage
    (``join_gain_far`` when it is not next to the answer), at most ``max_parts`` parts in all.
    """

    rank_weight: float = 0.1
    join_gain: float = 0.15
    join_gain_far: float = 0.25
    max_parts: int = 3
    # Weight of retriever.number_questions.number_score for questions asking for a quantity.
    number_weight: float = 0.5
    # The answer of one sentence is cut to its answering clause(s); see answer.answer_clauses.
    clauses: bool = True
    # A list question on an enumeration (一是…二是…, （一）…) is answered with all of its items.
    enumerations: bool = True
    # Measures, requirements, lists, reasons, definitions, and answers under a heading or a Q&A
    # document's question are answered by the passage that follows, up to this many characters.
    passages: bool = True
    passage_chars: int = 300
    # The fitted sentence ranker; without one, the hand-set score above.
    ranker: SentenceRanker = field(default_factory=SentenceRanker)


@dataclass(frozen=True, slots=True)
class RetrievalConfig:
    """How candidates are gathered, fused, and turned into an answer.

    ``dense_weight`` and ``abstention`` are fitted on data by ``zhengce eval --fit`` and stored in
    ``calibration.json``; the defaults here only apply when that file is absent.
    """

    candidates: int = 50
    dense_weight: float = 0.3
    # Added to a candidate's fused score times its document title's share of the question's terms.
    title_weight: float = 4.0
    # Added to a candidate's fused score times how well its document's scope fits the question's:
    # its region the places named (retriever.fusion.region_fit) plus its title's years the years named
    # (retriever.fusion.year_fit), in [-2, 2].
    scope_weight: float = 0.0
    # Weight of the BM25 of a question's synonyms (retriever/data/synonyms.txt) next to its own words.
    synonym_weight: float = 0.5
    answer_hits: int = 3
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    abstention: Abstention = field(default_factory=Abstention)

    def to_json(self) -> dict[str, Any]:
        """The fitted part, as stored in ``calibration.json``."""
        a = self.abstention
        return {
            "dense_weight": self.dense_weight,
            "title_weight": self.title_weight,
            "scope_weight": self.scope_weight,
            "answer": {k: v for k, v in asdict(self.answer).items() if k != "ranker"},
            "sentence_ranker": {
                "weights": list(self.answer.ranker.weights),
                "bias": self.answer.ranker.bias,
                "features": list(self.answer.ranker.features),
            },
            "abstention": {
                "weights": list(a.weights),
                "bias": a.bias,
                "threshold": a.threshold,
                "confident": a.confident,
                "features": list(a.features),
            },
        }


def load_config(path: Path = CALIBRATION_PATH) -> RetrievalConfig:
    """The default config with the fitted values of ``path`` applied, when it exists."""
    cfg = RetrievalConfig()
    if not path.is_file():
        return cfg
    raw = json.loads(path.read_text(encoding="utf-8"))
    a = raw.get("abstention", {})
    abstention = Abstention(
        weights=tuple(a.get("weights", (0.0,))),
        bias=float(a.get("bias", 0.0)),
        threshold=float(a.get("threshold", 0.0)),
        features=tuple(a.get("features", ("coverage",))),
        confident=float(a.get("confident", a.get("threshold", 0.0))),
    )
    r = raw.get("sentence_ranker", {})
    ranker = SentenceRanker(tuple(r.get("weights", ())), float(r.get("bias", 0.0)), tuple(r.get("features", ())))
    answer = AnswerConfig(**raw.get("answer", {}), ranker=ranker)
    return replace(
        cfg,
        dense_weight=float(raw.get("dense_weight", cfg.dense_weight)),
        title_weight=float(raw.get("title_weight", cfg.title_weight)),
        scope_weight=float(raw.get("scope_weight", cfg.scope_weight)),
        answer=answer,
        abstention=abstention,
    )
