"""Pure answer extraction: from ranked hits to the sentences that answer, with verbatim offsets.

No language model is assumed. Every sentence of the top hits is scored by how much of the
question's idf weight it covers, its chunk's fused score, and whether it has what the question
asks for (a number for 多少/几, an enumeration for 哪些). The best sentence is the answer; another
sentence of the same document joins it only when it covers question terms the answer lacks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ingest.chunk import split_sentences
from ingest.tokenize import normalize_for_search
from ingest.types import Chunk, Document, Span
from retriever.config import Abstention, AnswerConfig
from retriever.number_questions import number_score
from retriever.question import Question, Terms
from retriever.spans import (
    clauses,
    context_span,
    enumeration,
    front_matter_end,
    is_front_matter,
    is_heading,
    is_question_line,
    merge_adjacent,
    not_the_answer,
    passage,
)
from retriever.types import Citation, Hit

Tokenizer = Callable[[str], list[str]]

_DIGITS = re.compile(r"^\d")
_YEAR = re.compile(r"(?:19|20)\d\d")
_LEAD_IN = ":："


@dataclass(frozen=True, slots=True)
class Sentence:
    """A scored sentence of a hit's chunk, with the feature values it was scored on."""

    span: Span
    hit: Hit
    tokens: frozenset[str]
    score: float
    features: tuple[float, ...] = ()


# What the sentence ranker looks at, in this order (retriever.config.SentenceRanker).
SENTENCE_FEATURES = (
    "coverage",  # share of the question's idf weight among the sentence's tokens
    "bigram_coverage",  # the same over terms of two characters or more
    "entity_coverage",  # share of the places, organisations and years the question names that it holds
    "chunk_score",  # the chunk's fused score (title match included)
    "chunk_lexical",  # the chunk's BM25 over the question's total idf
    "chunk_dense",  # the chunk's cosine similarity with the question
    "chunk_rank",  # 1 / (1 + rank of the chunk)
    "number_fit",  # quantity questions: how well its best number fits (unit, subject); else 0
    "no_number",  # a quantity question and no number that could answer
    "time_fit",  # a time question and it holds a time
    "heading",  # a bare heading or title line
    "question_line",  # a Q&A document's own question
    "lead_in",  # ends in a colon
    "short",  # fewer than 12 characters
)
_SHORT = 12


@dataclass(frozen=True, slots=True)
class NumberFit:
    """How well a text's numbers answer a question that asks for a quantity (texts folded for search)."""

    question: str
    subjects: frozenset[str]

    @classmethod
    def of(cls, question: Question) -> NumberFit | None:
        """The fit for ``question``, or None when it does not ask for a quantity."""
        return cls(question.folded, question.subjects) if question.asks_quantity else None

    def score(self, text: str) -> float:
        """In [0, 1]: 0 when ``text`` has no number that could answer."""
        return number_score(self.question, normalize_for_search(text), self.subjects)


def sentence_features(
    question: Question, text: str, span: Span, tokens: frozenset[str], hit: Hit, numbers: NumberFit | None
) -> tuple[float, ...]:
    """The values of ``SENTENCE_FEATURES`` for the sentence ``text[span]`` of ``hit``'s chunk."""
    sentence = text[span.start : span.end]
    terms = question.terms
    folded = normalize_for_search(sentence) if question.entities or question.asks_time else ""
    fit = numbers.score(sentence) if numbers else 0.0
    return (
        terms.coverage(tokens),
        terms.coverage(tokens, min_len=2),
        sum(e in folded for e in question.entities) / len(question.entities) if question.entities else 1.0,
        hit.score,
        hit.lexical / terms.total if terms.total else 0.0,
        hit.dense,
        1.0 / (1 + hit.rank),
        fit,
        float(numbers is not None and fit == 0.0),
        float(question.asks_time and bool(_TIME.search(folded))),
        float(is_heading(text, span)),
        float(is_question_line(text, span)),
        float(sentence.rstrip()[-1:] in _LEAD_IN),
        float(len(sentence) < _SHORT),
    )


def score_sentences(
    question: Question, hits: Sequence[Hit], text_of: Mapping[str, str], tokenize: Tokenizer, cfg: AnswerConfig
) -> list[Sentence]:
    """Every sentence of the given hits, scored, best first; a sentence in two chunks counts once.

    With a fitted ranker (``cfg.ranker``) the score is its logit over ``SENTENCE_FEATURES``.
    Otherwise the hand-set score: coverage of the question, plus ``rank_weight`` times the chunk's
    score, plus, for a quantity question, ``number_weight`` times how well one of its numbers fits:
    the asked unit, the question's subject right before it, no foreign qualifier (``三级医院床位``
    is not ``二、三级医院床位``); see :func:`retriever.number_questions.number_score`. The front
    matter of a long text (:func:`retriever.spans.is_front_matter`) comes after every other sentence.
    """
    numbers = NumberFit.of(question)
    fitted = bool(cfg.ranker.weights) and cfg.ranker.features == SENTENCE_FEATURES
    scored: dict[tuple[str, Span], Sentence] = {}
    for hit in hits:
        text = text_of[hit.chunk.doc_id]
        for span in split_sentences(text, hit.chunk.start, hit.chunk.end):
            if (hit.chunk.doc_id, span) in scored:
                continue
            tokens = frozenset(tokenize(text[span.start : span.end]))
            values = sentence_features(question, text, span, tokens, hit, numbers)
            if fitted:
                score = cfg.ranker.score(values)
            else:
                score = values[0] + cfg.rank_weight * hit.score + cfg.number_weight * values[7]
            scored[(hit.chunk.doc_id, span)] = Sentence(span, hit, tokens, score, values)
    # A long text's front matter matches the question's words (its title) but answers nothing: it goes last.
    front = {doc_id: front_matter_end(text_of[doc_id]) for doc_id, _ in scored}  # once per document

    def rank(s: Sentence) -> tuple[bool, float]:
        doc_id = s.hit.chunk.doc_id
        return is_front_matter(text_of[doc_id], s.span, front[doc_id]), -s.score

    return sorted(scored.values(), key=rank)


def _adjacent(a: Span, b: Span, text: str) -> bool:
    first, second = (a, b) if a.start < b.start else (b, a)
    return text[first.end : second.start].strip() == ""


@dataclass(frozen=True, slots=True)
class _Joiner:
    """Decides whether a sentence joins the answer so far."""

    terms: Terms
    text: str
    cfg: AnswerConfig

    def gain(self, candidate: Sentence, chosen: Sequence[Span], tokens: set[str]) -> float:
        """The coverage the candidate adds (1 when it follows a lead-in), or 0 when too little."""
        text = self.text
        for c in chosen:
            if text[c.end - 1] in _LEAD_IN and candidate.span.start > c.start and _adjacent(c, candidate.span, text):
                return 1.0
        extra = self.terms.coverage(tokens | candidate.tokens) - self.terms.coverage(tokens)
        near = any(_adjacent(candidate.span, c, text) for c in chosen)
        return extra if extra >= (self.cfg.join_gain if near else self.cfg.join_gain_far) else 0.0


def answer_spans(terms: Terms, sentences: Sequence[Sentence], text: str, cfg: AnswerConfig) -> list[Span]:
    """The best sentence, joined by sentences of its document that add coverage or follow a lead-in.

    Args:
        terms: the question's terms.
        sentences: scored sentences, best first; only those of the best one's document are joined.
        text: the text of the best sentence's document.
        cfg: the joining rules.
    """
    best = sentences[0]
    chosen, tokens = [best.span], set(best.tokens)
    pool = [s for s in sentences[1:] if s.hit.chunk.doc_id == best.hit.chunk.doc_id]
    joiner = _Joiner(terms, text, cfg)
    while len(chosen) < cfg.max_parts:
        ranked = sorted(
            ((joiner.gain(s, chosen, tokens), s) for s in pool if s.span not in chosen), key=lambda g: -g[0]
        )
        if not ranked or ranked[0][0] <= 0.0:
            break
        chosen.append(ranked[0][1].span)
        tokens |= ranked[0][1].tokens
    return merge_adjacent(sorted(chosen, key=lambda s: s.start), text)


_QUESTION_CHARS = re.compile(r"[\u3400-\u9fff]")


def _new_chars(clause: str, question: str) -> int:
    """How many CJK characters or digits of ``clause`` the question does not have: what it tells."""
    asked = set(question)
    return sum(1 for ch in clause if (ch.isdigit() or _QUESTION_CHARS.match(ch)) and ch not in asked)


# What a clause holding a time looks like.
_TIME = re.compile(
    r"\d+\s*(?:年|月|日)|世纪|年代|时期|[早中晚]期|[一二三四五六七八九十〇零]+年|今年|去年|明年|目前|现在"
)


def answer_clauses(question: Question, sentence: Span, text: str, tokenize: Tokenizer) -> Span:
    """The clause or adjacent clauses of one sentence that answer the question, verbatim.

    The anchor is the clause covering most of the question. When the question asks for a time,
    the answer is the clause nearest the anchor that has one and says something the question does
    not; when it asks for a quantity, the clause whose number fits best (:class:`NumberFit`),
    the nearest among equals. The answer runs from the anchor to that clause. Other
    questions, and list questions, keep the whole sentence: measured on DRCD, cutting them lost
    more answers than it made shorter.
    """
    parts = clauses(text, sentence)
    if len(parts) <= 1 or question.intent == "list":
        return sentence
    pieces = [text[p.start : p.end] for p in parts]
    scores = [question.terms.coverage(frozenset(tokenize(p))) for p in pieces]
    best = max(range(len(parts)), key=lambda i: scores[i])
    near = sorted(range(len(parts)), key=lambda i: (abs(i - best), i))
    if question.asks_time:
        typed = [
            i for i in near if _TIME.search(normalize_for_search(pieces[i])) and _new_chars(pieces[i], question.text)
        ]
    elif (numbers := NumberFit.of(question)) is not None:
        fits = [(numbers.score(pieces[i]), i) for i in near]
        typed = [i for f, i in sorted(fits, key=lambda f: -f[0]) if f > 0]  # stable: nearest first among equals
    else:
        typed = []
    if not typed:
        return sentence
    i = typed[0]
    return Span(parts[min(i, best)].start, parts[max(i, best)].end)


def answer_parts(
    question: Question, best: Span, joined: list[Span], text: str, tokenize: Tokenizer, cfg: AnswerConfig
) -> tuple[list[Span], str]:
    """The spans the answer quotes, and how their quotes are joined into its text.

    Args:
        question: the parsed question.
        best: the best sentence.
        joined: the best sentence with the sentences that joined it (:func:`answer_spans`), in text order.
        text: the document's text.
        tokenize: the search tokenizer.
        cfg: the answer settings.

    A list question whose best sentence is an enumeration's lead-in gets the lead-in and every
    item, one per line. A question asking for measures, requirements, a list, a reason or a
    definition, and any question whose best sentence only leads to the answer (a heading, a Q&A
    document's own question, a byline: :func:`retriever.spans.not_the_answer`), gets the passage
    that answers (:func:`retriever.spans.passage`). Otherwise one sentence is cut to its answering
    clause(s), and several sentences stay whole, joined by an ellipsis.
    """
    if cfg.enumerations and question.wants_enumeration and (items := enumeration(text, best)):
        return [best, *items], "\n"
    if cfg.passages and (question.wants_passage or not_the_answer(text, best)):
        return passage(text, best, cfg.passage_chars), "……"
    if cfg.clauses and len(joined) == 1 and joined[0] == best:
        return [answer_clauses(question, best, text, tokenize)], "……"
    return joined, "……"


def cite(
    doc: Document, span: Span, chunk: Chunk, score: float, text: str | None = None, answer_part: bool = False
) -> Citation:
    """A citation of ``doc`` at ``span`` in ``chunk``; its quote is the text there, verbatim.

    ``text`` is the text the span was found in (by default the document's); the server checks the
    quote against the text it serves, so the two can never silently disagree.
    """
    source = doc.text if text is None else text
    context = context_span(source, span, chunk)
    return Citation(
        doc_id=doc.doc_id,
        title=doc.title,
        chunk_id=chunk.chunk_id,
        quote=source[span.start : span.end],
        start=span.start,
        end=span.end,
        score=round(score, 4),
        doc_number=doc.doc_number,
        published=doc.published,
        page=(page := doc.page_at(span.start)),
        context=source[context.start : context.end],
        context_start=context.start,
        answer_part=answer_part,
        ocr=page is not None and page in doc.ocr_pages,
    )


def supporting(sentences: Sequence[Sentence], taken: Sequence[tuple[str, Span]], limit: int) -> list[Sentence]:
    """The best sentence of each further hit, one per chunk, overlapping nothing already cited."""
    seen_chunks: set[str] = set()
    cited = list(taken)
    picked: list[Sentence] = []
    for s in sorted(sentences, key=lambda s: (s.hit.rank, -s.score)):
        doc_id = s.hit.chunk.doc_id
        if len(picked) >= limit:
            break
        if s.hit.chunk.chunk_id in seen_chunks or any(d == doc_id and s.span.overlaps(t) for d, t in cited):
            continue
        seen_chunks.add(s.hit.chunk.chunk_id)
        cited.append((doc_id, s.span))
        picked.append(s)
    return picked


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the abstention decision looks at besides the hits."""

    answer_tokens: set[str]
    chunk_tokens: set[str]
    entities: Sequence[str]
    doc_text: str
    number_fit: float = 1.0
    region: float = 0.0
    missing_named: bool = False
    states_asked: bool = True


def evidence_features(terms: Terms, hits: Sequence[Hit], evidence: Evidence) -> dict[str, float]:
    """Features for the abstention decision, each comparable across questions.

    ``missing_number`` is 1 when a number of the question other than a year is in neither the answer
    nor its chunk; ``missing_entity`` is 1 when a place, organisation or year the question names is
    nowhere in the answering document (a place also counts as there when the document's region
    holds it): a question about 上海 or 2024 must not be answered from a text about 重庆 in 2023.
    ``number_fit`` is, for a question asking for a quantity, how well the answer's
    best number fits it (unit, subject; :class:`NumberFit`), and 1 for any other question.
    ``region`` is how the answering document's region fits the places the question names
    (:func:`retriever.fusion.region_fit`; -1: it is about somewhere else). ``missing_named`` is 1
    when a place of the gazetteer, a year or a quoted name (a programme: “黔货出山2.0”) the question
    names, or an office it names (市长, 市委书记), is not in the document (nor, for a place, in its region):
    the strict form of ``missing_entity`` that refusal rests on. ``states_asked`` is 0 when a quantity
    question's answer states no number in the unit it asks for, or none beside the noun it counts, or a
    which-year question's answer no year
    (:func:`retriever.number_questions.states_asked`).
    """
    answer_tokens, chunk_tokens = evidence.answer_tokens, evidence.chunk_tokens
    both = answer_tokens | chunk_tokens
    numbers = [t for t in terms.weights if _DIGITS.match(t) and not _YEAR.fullmatch(t)]
    folded = evidence.doc_text
    top = hits[0]
    return {
        "coverage": terms.coverage(chunk_tokens),
        "answer_coverage": terms.coverage(answer_tokens),
        "bigram_coverage": terms.coverage(both, min_len=2),
        "missing_number": float(any(n not in both for n in numbers)),
        "missing_entity": float(any(e not in folded for e in evidence.entities)),
        "number_fit": evidence.number_fit,
        "region": evidence.region,
        "missing_named": float(evidence.missing_named),
        "states_asked": float(evidence.states_asked),
        "dense": top.dense,
        "lexical": top.lexical / terms.total if terms.total else 0.0,
    }


def absence(question: Question, features: Mapping[str, float]) -> str | None:
    """Evidence that the documents do not hold the answer, in words; None when there is none.

    A place (of the gazetteer), a year, a quoted name or an office the question names is not in the
    answering document; it asks for a quantity in a unit and no number of the evidence fits, or its
    answer states no number, none in the unit said after 多少/几 or none beside the noun it counts, or no
    year when it asks which year; the
    answering document is about another place than the one asked. Measured on the written dev sets and DRCD's dev half:
    jieba's looser entities (东西 and 海港 are ``ns``) and the question's other numbers (3×10^23,
    31座) refused answerable questions, so they stay features of the probability, not rules.
    """
    if features["missing_named"]:
        return "a place, year, quoted name or office of the question is not in the document"
    if question.asks_quantity and question.asked_unit and not question.asks_time and features["number_fit"] == 0.0:
        return "the question asks for a quantity and no number in the evidence fits"
    if not features["states_asked"]:
        return "the answer states no year asked for, no number in the unit asked, or none beside what it counts"
    if features["region"] <= -1.0:
        return "the document is about another place than the one asked"
    return None


def answer_probability(features: Mapping[str, float], model: Abstention) -> float:
    """The logistic model's probability that the evidence answers the question."""
    z = model.bias + sum(w * features[f] for w, f in zip(model.weights, model.features, strict=True))
    return 1.0 / (1.0 + math.exp(-z))
