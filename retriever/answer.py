"""Pure answer extraction: from ranked hits to the sentences that answer, with verbatim offsets.

No language model is assumed. Every sentence of the top hits is scored by how much of the
question's idf weight it covers, the rank of its chunk, and whether it has what the question asks
for (a number for 多少/几, an enumeration for 哪些). The best sentence is the answer; an adjacent
sentence joins it only when it covers question terms the best one lacks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ingest.chunk import split_sentences
from ingest.types import Document, Span
from retriever.config import Abstention
from retriever.types import Citation, Hit

Tokenizer = Callable[[str], list[str]]

NUMBER_QUESTION = re.compile(r"多少|几[个项大年次倍名家所条]?|比例|比重|百分|增长|增速|多大|多高|多长|多久|金额|规模|数量|第几")
LIST_QUESTION = re.compile(r"哪些|哪几|包括|包含|有什么|分别|主要内容|具体")
# Question words and particles: they ask, they do not describe what to find.
QUESTION_WORDS = re.compile(r"请问|是多少|多少|是什么|什么|有哪些|哪些|哪几|哪个|哪里|怎么样|怎么|怎样|如何|为什么|是否|吗|呢|吧|[？?。！!，,]")
_HAS_NUMBER = re.compile(r"\d|[一二两三四五六七八九十百千万亿]+[个项大万亿元人倍年次%]")
_ENUMERATION = re.compile(r"、.+、|[一二三四五六七八九十]是|[一二三四五六七八九十]大|“[^”]+”和“")
_LEAD_IN = ":："
# Weights of the sentence score; chosen on the seed eval set's dev questions (see evals/README).
RANK_WEIGHT = 0.3
INTENT_BONUS = 0.25
JOIN_GAIN = 0.15


@dataclass(frozen=True, slots=True)
class Terms:
    """The question's search terms with their idf weights."""

    weights: Mapping[str, float]

    @property
    def total(self) -> float:
        """The sum of all weights."""
        return sum(self.weights.values())

    def coverage(self, tokens: set[str]) -> float:
        """The share of the question's idf weight found among ``tokens``, in [0, 1]."""
        total = self.total
        return sum(w for t, w in self.weights.items() if t in tokens) / total if total else 0.0


@dataclass(frozen=True, slots=True)
class Sentence:
    """A scored sentence of a hit's chunk."""

    span: Span
    hit: Hit
    tokens: frozenset[str]
    score: float


def question_terms(question: str, tokenize: Tokenizer, idf: Callable[[str], float]) -> Terms:
    """The idf-weighted terms of a question, without its question words."""
    core = QUESTION_WORDS.sub(" ", question)
    return Terms({t: idf(t) for t in tokenize(core)})


def _intent_bonus(question: str, text: str) -> float:
    if NUMBER_QUESTION.search(question) and _HAS_NUMBER.search(text):
        return INTENT_BONUS
    if LIST_QUESTION.search(question) and _ENUMERATION.search(text):
        return INTENT_BONUS
    return 0.0


def score_sentences(question: str, terms: Terms, hits: Sequence[Hit], text_of: Mapping[str, str], tokenize: Tokenizer) -> list[Sentence]:
    """Every sentence of the given hits, scored, best first."""
    scored = []
    for hit in hits:
        text = text_of[hit.chunk.doc_id]
        for span in split_sentences(text, hit.chunk.start, hit.chunk.end):
            sentence = text[span.start : span.end]
            tokens = frozenset(tokenize(sentence))
            score = terms.coverage(set(tokens)) + RANK_WEIGHT / (1 + hit.rank) + _intent_bonus(question, sentence)
            scored.append(Sentence(span, hit, tokens, score))
    return sorted(scored, key=lambda s: -s.score)


def _neighbours(best: Sentence, sentences: Sequence[Sentence]) -> list[Sentence]:
    same_doc = [s for s in sentences if s.hit.chunk.doc_id == best.hit.chunk.doc_id and s.span != best.span]
    return sorted(same_doc, key=lambda s: abs(s.span.start - best.span.start))


def answer_spans(terms: Terms, sentences: Sequence[Sentence], text: str) -> list[Span]:
    """The best sentence, extended by adjacent sentences that add coverage or follow a lead-in."""
    best = sentences[0]
    chosen = [best.span]
    tokens = set(best.tokens)
    for other in _neighbours(best, sentences)[:2]:
        first, last = min(chosen, key=lambda s: s.start), max(chosen, key=lambda s: s.end)
        adjacent = text[last.end : other.span.start].strip() == "" or text[other.span.end : first.start].strip() == ""
        if not adjacent:
            continue
        gain = terms.coverage(tokens | other.tokens) - terms.coverage(tokens)
        lead_in = text[last.end - 1] in _LEAD_IN and other.span.start >= last.end
        if gain >= JOIN_GAIN or lead_in:
            chosen.append(other.span)
            tokens |= other.tokens
    return _merge(sorted(chosen, key=lambda s: s.start), text)


def _merge(spans: Sequence[Span], text: str) -> list[Span]:
    merged: list[Span] = []
    for span in spans:
        if merged and text[merged[-1].end : span.start].strip() == "":
            merged[-1] = Span(merged[-1].start, span.end)
        else:
            merged.append(span)
    return merged


def cite(doc: Document, span: Span, hit: Hit, score: float) -> Citation:
    """A citation of ``doc`` at ``span``; its quote is the document text there, verbatim."""
    return Citation(
        doc_id=doc.doc_id,
        title=doc.title,
        chunk_id=hit.chunk.chunk_id,
        quote=doc.text[span.start : span.end],
        start=span.start,
        end=span.end,
        score=round(score, 4),
        doc_number=doc.doc_number,
        published=doc.published,
    )


def supporting(sentences: Sequence[Sentence], taken: Sequence[Span], limit: int) -> list[Sentence]:
    """The best sentence of each further hit, one per chunk, not overlapping what is taken."""
    seen_chunks: set[str] = set()
    picked: list[Sentence] = []
    for s in sorted(sentences, key=lambda s: (s.hit.rank, -s.score)):
        if s.hit.chunk.chunk_id in seen_chunks or any(s.span.start < t.end and t.start < s.span.end for t in taken):
            continue
        seen_chunks.add(s.hit.chunk.chunk_id)
        picked.append(s)
        if len(picked) == limit:
            break
    return picked


def evidence_features(terms: Terms, hits: Sequence[Hit], answer_tokens: set[str], chunk_tokens: set[str]) -> dict[str, float]:
    """Features for the abstention decision, each comparable across questions."""
    top = hits[0]
    return {
        "coverage": terms.coverage(chunk_tokens),
        "answer_coverage": terms.coverage(answer_tokens),
        "dense": top.dense,
        "lexical": top.lexical / terms.total if terms.total else 0.0,
    }


def answer_probability(features: Mapping[str, float], model: Abstention) -> float:
    """The logistic model's probability that the evidence answers the question."""
    z = model.bias + sum(w * features[f] for w, f in zip(model.weights, model.features, strict=True))
    return 1.0 / (1.0 + math.exp(-z))
