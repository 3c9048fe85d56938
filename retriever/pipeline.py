"""The retriever: opens an index generation once and answers questions. Wiring, no ranking logic."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from ingest.config import EngineConfig
from ingest.embed import Embedder, SentenceEmbedder
from ingest.index_store import IndexData, read_index
from ingest.regions import find_places, lineage
from ingest.tokenize import normalize_for_search
from ingest.types import Chunk, Document, IndexManifest, Span
from ingest.unicode import check_unicode
from retriever.allocator import keep_freed_memory
from retriever.answer import (
    Evidence,
    NumberFit,
    Sentence,
    absence,
    answer_parts,
    answer_probability,
    answer_spans,
    cite,
    evidence_features,
    score_sentences,
    supporting,
)
from retriever.config import MAX_QUESTION_CHARS, RetrievalConfig, load_config
from retriever.errors import QuestionError
from retriever.fusion import fuse, region_fit, section_fit, year_fit
from retriever.lexical import LexicalSearcher
from retriever.number_questions import states_asked
from retriever.numbers import unsupported_numbers
from retriever.question import Question, parse_question, question_years
from retriever.search_index import EmbeddedSearch, Hits, MilvusSearch, SearchIndex
from retriever.spans import without_title
from retriever.synonyms import default_synonyms
from retriever.types import Answer, Citation, Hit

logger = logging.getLogger(__name__)

Mode = Literal["lexical", "dense", "fused"]
ABSTAIN_TEXT = "未在已收录的文档中找到相关内容。"
NO_DOCUMENTS_TEXT = "没有文档符合所选的筛选条件（地区、发文机关、类型、日期或文档），请放宽筛选后再问。"


def check_question(question: str) -> str:
    """The question without surrounding blanks.

    Raises:
        QuestionError: it is empty, blank, longer than ``MAX_QUESTION_CHARS``, or not valid Unicode.
    """
    try:
        check_unicode(question, "the question")
    except ValueError as e:
        raise QuestionError(str(e)) from None
    q = question.strip()
    if not q:
        raise QuestionError("the question is empty; type a question such as 脱贫人口收入是多少")
    if len(q) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question has {len(q)} characters; at most {MAX_QUESTION_CHARS} are allowed")
    return q


_CACHED_DOCS = 4096
T = TypeVar("T")


def _cached(cache: dict[str, T], key: str, make: Callable[[], T]) -> T:
    """``cache[key]``, made and kept (within ``_CACHED_DOCS``) on a miss; read once, so another thread
    emptying the cache meanwhile cannot make it a KeyError."""
    if (found := cache.get(key)) is None:
        _bound(cache)
        found = cache[key] = make()
    return found


def _bound(cache: dict[str, Any]) -> None:
    """Empty a per-document cache that has reached ``_CACHED_DOCS`` entries (memory stays bounded)."""
    if len(cache) >= _CACHED_DOCS:
        cache.clear()


@dataclass(slots=True)
class _Timer:
    marks: dict[str, float]
    last: float

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.marks[name] = round((now - self.last) * 1000, 2)
        self.last = now


@dataclass(frozen=True, slots=True)
class Signals:
    """Candidate rows (the union of both top lists) with their raw lexical and dense scores.

    ``title`` is the share of the question's idf weight (terms of two characters or more) that
    the candidate's document title holds: "四川…目标" should prefer 四川's report to its near-twins.
    ``scope`` is how well the candidate's document fits the question's place and time: its region
    the places the question names (:func:`retriever.fusion.region_fit`: a question about 江西省
    prefers a 九江市 notice to a 吉林 one) plus its title's years the years named
    (:func:`retriever.fusion.year_fit`: a 2025 question prefers the 2025 report to the 2024 one).
    """

    rows: npt.NDArray[np.int64]
    lexical: npt.NDArray[np.float32]
    dense: npt.NDArray[np.float32]
    title: npt.NDArray[np.float64]
    scope: npt.NDArray[np.float64]


@lru_cache(maxsize=65_536)  # a document's chunks share a few heading paths
def _years_named(headings: tuple[str, ...]) -> tuple[str, ...]:
    """The years a heading path names."""
    return question_years(normalize_for_search(" ".join(headings)))


class Retriever:
    """Answers questions from one index generation with the model that built it."""

    def __init__(
        self,
        data: IndexData,
        embedder: Embedder,
        config: RetrievalConfig,
        previous: Retriever | None = None,
        index: SearchIndex | None = None,
    ) -> None:
        keep_freed_memory()  # questions on a large library reuse their arrays' memory instead of faulting it in
        self.data = data
        self.embedder = embedder
        self.config = config
        # The segments' postings: the tokenizer and idf that weigh a question's terms, on either engine.
        self.lexical = LexicalSearcher([s.postings for s in data.segments], data.live, data.manifest.tokenizer)
        self.index: SearchIndex = index or EmbeddedSearch(data, self.lexical)
        self.texts = {d.doc_id: d.text for d in data.docs.values()}
        self.synonyms = default_synonyms()
        # What each document needs for ranking and answering, worked out when a question first needs it
        # (opening a large library stays cheap) and kept for the last few thousand documents asked about;
        # concurrent questions may both fill an entry, with equal values.
        self._folded: dict[str, str] = {}
        self._places: dict[str, frozenset[str]] = {}
        self._titles: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {}
        if previous is not None:
            self._inherit(previous)

    def _inherit(self, previous: Retriever) -> None:
        """Keep what the previous generation's retriever worked out for documents this one serves unchanged
        (the very same document objects: their segments are shared), so questions after a small update do
        not pay for it again."""
        same = {d for d, doc in self.docs.items() if previous.docs.get(d) is doc}
        for name in ("_folded", "_places", "_titles"):
            mine, theirs = getattr(self, name), dict(getattr(previous, name))
            mine.update((d, v) for d, v in theirs.items() if d in same)

    @classmethod
    def open(
        cls,
        index_root: Path,
        embedder: Embedder | None = None,
        config: RetrievalConfig | None = None,
        previous: Retriever | None = None,
        engine: EngineConfig | None = None,
    ) -> Retriever:
        """Open the current generation under ``index_root``.

        Args:
            index_root: the index directory of a data directory.
            embedder: the query embedder; by default the model named in the index manifest is loaded.
            config: retrieval settings; by default the committed calibration.
            previous: the retriever this one replaces, whose per-document work is kept where still valid.
            engine: where to reach the Milvus collection of a generation searched in Milvus (by default
                ``milvus.db`` in the data directory).

        Raises:
            IndexFormatError: the index is missing, corrupt, or was built with another model.
        """
        if embedder is None:
            from ingest.index_store import current_dir, read_manifest

            embedder = SentenceEmbedder(read_manifest(current_dir(index_root)).embedder.name)
        data = read_index(index_root, embedder.info)
        index = None
        if data.manifest.engine == "milvus":
            from ingest.milvus_index import milvus_index

            collection = milvus_index(
                engine or EngineConfig(), index_root.parent, embedder.info, data.manifest.tokenizer
            )
            collection.open_collection()
            index = MilvusSearch(data, collection)
        return cls(data, embedder, config or load_config(), previous, index)

    @property
    def manifest(self) -> IndexManifest:
        """The manifest of the open generation."""
        return self.data.manifest

    @property
    def docs(self) -> dict[str, Document]:
        """The documents of the open generation by doc_id."""
        return self.data.docs

    def _title(self, doc_id: str) -> tuple[frozenset[str], tuple[str, ...]]:
        """A document title's search tokens and the years it names."""
        title = self.docs[doc_id].title
        return _cached(
            self._titles,
            doc_id,
            lambda: (frozenset(self.lexical.tokens(title)), question_years(normalize_for_search(title))),
        )

    def _asked_years(self, q: Question, doc_id: str) -> tuple[str, ...]:
        """The years a question asks about in one document: those it names (but not the year of a document it
        names: 2025年政府工作报告指出… asks about the report, which reviews 2024 too), and those it says relative
        to the document's year (今年 in a 2025 report is 2025), when the title names one year."""
        titled = self._title(doc_id)[1]
        own = [str(int(titled[0]) + offset) for offset in q.relative_years] if len(titled) == 1 else []
        return tuple(dict.fromkeys([*(y for y in q.years if y not in q.source_years), *own]))

    def _heading_years(self, row: int) -> tuple[str, ...]:
        """The years the headings of a row's chunk name."""
        return _years_named(self.data.chunk(row).headings)

    def parse(self, question: str) -> Question:
        """The question parsed once, its terms weighted by this index's idf.

        Raises:
            QuestionError: the question is empty or too long.
        """
        return parse_question(check_question(question), self.lexical.tokens, self.lexical.idf)

    def signals(
        self, question: Question, exclude: Collection[str] = (), only: Collection[str] | None = None
    ) -> Signals:
        """The candidate rows of both lists with both raw scores for each.

        Args:
            question: the parsed question.
            exclude: leave these documents' chunks out (deleted ones still in the served generation;
                in evals, a question's own paragraph, to make it unanswerable).
            only: search these documents' chunks only (a question's filters, ``retriever.filters``);
                both lists are drawn from them, so a narrow filter still gets its full candidate lists.
        """
        allowed = self.index.allowed(only)
        lexical = self._lexical(question, allowed)
        query = self.embedder.embed_query(question.text)
        return self._signals(question, lexical, query, exclude, allowed)

    def _lexical(self, question: Question, allowed: Any) -> Hits:
        """The best candidates by BM25 of the question's tokens plus ``synonym_weight`` times BM25 of its
        synonyms' new tokens."""
        tokens = self.lexical.tokens(question.search_text)
        queries: list[tuple[list[str], float]] = [(tokens, 1.0)]
        if self.config.synonym_weight and (extra := self.synonyms.expand(question.search_text)):
            new = [t for t in dict.fromkeys(self.lexical.tokens(" ".join(extra))) if t not in set(tokens)]
            if new:
                queries.append((new, self.config.synonym_weight))
        return self.index.lexical(queries, self.config.candidates, allowed)

    def _signals(
        self, question: Question, lexical: Hits, query: np.ndarray, exclude: Collection[str], allowed: Any = None
    ) -> Signals:
        dense = self.index.dense(query, self.config.candidates, allowed)
        dense_rows, lex_rows = dense.rows, lexical.rows
        candidates = list(dict.fromkeys([*lex_rows.tolist(), *dense_rows.tolist()]))
        merged = dict(zip(candidates, self.data.doc_ids(candidates), strict=True))
        kept = {r: d for r, d in merged.items() if d not in exclude}
        rows = np.array(list(kept), dtype=np.int64)
        cover = {d: question.title_terms.coverage(self._title(d)[0], min_len=2) for d in set(kept.values())}
        fits = {
            d: self._region_fit(question, d) + year_fit(question.years, self._title(d)[1]) for d in set(kept.values())
        }
        title = np.array([cover[d] for d in kept.values()], dtype=np.float64)
        scope = np.array([fits[d] for d in kept.values()], dtype=np.float64)
        if question.years or question.relative_years:
            scope += [section_fit(self._asked_years(question, d), self._heading_years(r)) for r, d in kept.items()]
        return Signals(rows, lexical.at(rows), dense.at(rows), title, scope)

    def rank(
        self,
        signals: Signals,
        k: int,
        mode: Mode = "fused",
        dense_weight: float | None = None,
        titles: bool = True,
        title_weight: float | None = None,
        scope_weight: float | None = None,
    ) -> list[Hit]:
        """The ``k`` best candidates by one signal or by their fusion, plus the title and region match
        unless ``titles`` is off; a weight given here replaces the configured one."""
        if mode == "fused":
            weight = self.config.dense_weight if dense_weight is None else dense_weight
            ranking = fuse(signals.lexical, signals.dense, weight)
            if titles:
                by_title = self.config.title_weight if title_weight is None else title_weight
                by_scope = self.config.scope_weight if scope_weight is None else scope_weight
                ranking = ranking + by_title * signals.title + by_scope * signals.scope
        else:
            ranking = np.asarray(signals.lexical if mode == "lexical" else signals.dense, dtype=np.float64)
        order = np.argsort(-ranking, kind="stable")[:k]
        return [
            Hit(
                self.data.chunk(int(signals.rows[i])),
                float(ranking[i]),
                rank,
                float(signals.lexical[i]),
                float(signals.dense[i]),
                mode,
            )
            for rank, i in enumerate(order)
        ]

    def search(
        self,
        question: str,
        k: int,
        mode: Mode = "fused",
        exclude: Collection[str] = (),
        only: Collection[str] | None = None,
    ) -> list[Hit]:
        """The ``k`` best chunks for a question by one signal or both (among the ``only`` documents, if given)."""
        return self.rank(self.signals(self.parse(question), exclude, only), k, mode)

    def ask(
        self, question: str, top_k: int = 5, exclude: Collection[str] = (), only: Collection[str] | None = None
    ) -> Answer:
        """Answer a question with verbatim citations, or abstain and offer related passages.

        ``only`` restricts the answer and every citation to those documents (a question's filters); when
        it is empty, the answer says that no document fits them.

        Raises:
            QuestionError: the question is empty or too long.
        """
        timer = _Timer({}, time.perf_counter())
        q = self.parse(question)
        timer.lap("parse")
        if only is not None and not only:
            return Answer(q.text, NO_DOCUMENTS_TEXT, True, (), (), 0.0, confidence_level="none")
        allowed = self.index.allowed(only)
        lexical = self._lexical(q, allowed)
        timer.lap("lexical")
        query = self.embedder.embed_query(q.text)
        timer.lap("embed")
        hits = self.rank(self._signals(q, lexical, query, exclude, allowed), max(top_k, self.config.answer_hits))
        timer.lap("fuse")
        answer = self.answer_from(q, hits, top_k)
        timer.lap("answer")
        answer.timings_ms.update(timer.marks)
        answer.timings_ms["total"] = round(sum(timer.marks.values()), 2)
        return answer

    def answer_from(self, q: Question, hits: list[Hit], top_k: int) -> Answer:
        """The answer, citations and abstention decision for already retrieved hits."""
        if not hits:
            return Answer(q.text, ABSTAIN_TEXT, True, (), (), 0.0, confidence_level="none")
        cfg = self.config.answer
        # Every sentence of the hits answered from or cited, scored once; a sentence keeps its first hit.
        scored = score_sentences(q, hits[: max(top_k, self.config.answer_hits)], self.texts, self.lexical.tokens, cfg)
        answering = {h.chunk.chunk_id for h in hits[: self.config.answer_hits]}
        sentences = [s for s in scored if s.hit.chunk.chunk_id in answering]
        best = sentences[0]
        doc = self.docs[best.hit.chunk.doc_id]
        joined = answer_spans(q.terms, sentences, doc.text, cfg)
        spans, joiner = answer_parts(q, best.span, joined, doc.text, self.lexical.tokens, cfg)
        spans = [without_title(doc.text, s, doc.title) for s in spans]
        answer_tokens = set().union(*(self.lexical.tokens(doc.text[s.start : s.end]) for s in [*joined, *spans]))
        chunk_tokens = set(self.lexical.tokens(best.hit.chunk.context))
        fit = NumberFit.of(q)
        text = joiner.join(doc.text[s.start : s.end] for s in spans)  # the answer: its quotes, joined
        # A place the document's region holds is there even when its text says only 全市 (a 宁波 notice for 浙江).
        named = [e for e in q.entities if not (chain := lineage(e)) or region_fit((chain,), doc.region) <= 0]
        evidence = Evidence(
            answer_tokens, chunk_tokens, named, self._search_form(doc.doc_id) if named else "",
            number_fit=1.0 if fit is None else max(fit.score(doc.text[s.start : s.end]) for s in spans),
            region=region_fit(q.places, doc.region),
            missing_named=self._missing_named(q, doc),
            states_asked=states_asked(q, text),
        )  # fmt: skip
        features = evidence_features(q.terms, hits, evidence)
        absent = absence(q, features) if self.config.abstention.rules else None
        features["absent"] = float(absent is not None)
        confidence = answer_probability(features, self.config.abstention)
        source = self.texts[doc.doc_id]
        cited = [cite(doc, s, self._chunk_for(doc.doc_id, s, best.hit.chunk), best.score, source, True) for s in spans]
        shown = {h.chunk.chunk_id for h in hits[:top_k]}
        others = [s for s in scored if s.hit.chunk.chunk_id in shown]
        cited += [self._cite(s) for s in supporting(others, [(doc.doc_id, s) for s in spans], top_k - len(cited))]
        unsupported = unsupported_numbers(text, [c.quote for c in cited[: len(spans)]])
        if unsupported:  # the number fidelity check: never state a number the cited quotes do not
            logger.error("abstaining: %r states numbers its quotes do not: %s", text, [n.raw for n in unsupported])
        if absent:
            logger.debug("refusing %r: %s", q.text, absent)
        level = "none" if unsupported or absent else self.config.abstention.level(confidence)
        if level == "none":
            related = tuple(replace(c, answer_part=False) for c in cited)
            return Answer(q.text, ABSTAIN_TEXT, True, (), related, confidence, tuple(hits), features, {}, "none")
        return Answer(q.text, text, False, tuple(cited), (), confidence, tuple(hits), features, {}, level)

    def _missing_named(self, q: Question, doc: Document) -> bool:
        """Whether a place, year, quoted name or office the question names is not in the document (its
        region holds a place too), or the document is not the one it names: its title has years, and not the
        year of the named document (a 2024 report does not answer 2023年政府工作报告提出的赤字率是多少)."""
        titled = self._title(doc.doc_id)[1]
        if q.source_years and titled and not set(q.source_years) & set(titled):
            return True
        if not q.places and not q.years and not q.names and not q.offices and not q.counted:
            return False
        folded = self._search_form(doc.doc_id)
        places = self._places_named(doc.doc_id)
        absent = [c for c in q.places if c[-1] not in places and region_fit((c,), doc.region) <= 0]
        # What a quantity question counts, when the document has not one word of it (消费券 in a notice
        # about medical insurance): a document that never names the thing cannot say how many there are.
        uncounted = q.counted is not None and not any(q.counted[i : i + 2] in folded for i in range(len(q.counted) - 1))
        return bool(absent) or uncounted or any(n not in folded for n in (*q.years, *q.names, *q.offices))

    def _places_named(self, doc_id: str) -> frozenset[str]:
        """The full names of the places a document's title and text name."""
        return _cached(self._places, doc_id, lambda: frozenset(p.name for p in find_places(self._search_form(doc_id))))

    def _region_fit(self, q: Question, doc_id: str) -> float:
        """:func:`retriever.fusion.region_fit`, and -0.5 for a document without a region that never names a
        place the question asks about: it cannot answer (refusal rests on the place being there), so a
        document about the place, or one naming it, comes first (湖北2024年… from the 湖北 report, not from
        the national one)."""
        fit = region_fit(q.places, self.docs[doc_id].region)
        if fit == 0.0 and q.places and not self.docs[doc_id].region:
            named = self._places_named(doc_id)
            return 0.0 if any(chain[-1] in named for chain in q.places) else -0.5
        return fit

    def _search_form(self, doc_id: str) -> str:
        """A document's title and text folded for search (computed once per document, when first needed)."""
        doc = self.docs[doc_id]
        return _cached(self._folded, doc_id, lambda: normalize_for_search(f"{doc.title}\n{doc.text}"))

    def _cite(self, sentence: Sentence) -> Citation:
        doc_id = sentence.hit.chunk.doc_id
        return cite(self.docs[doc_id], sentence.span, sentence.hit.chunk, sentence.score, self.texts[doc_id])

    def _chunk_for(self, doc_id: str, span: Span, fallback: Chunk) -> Chunk:
        """The chunk that holds the whole span (chunks overlap, so one usually does), else the one holding its start."""
        return self.data.chunk_holding(doc_id, span.start, span.end) or fallback
