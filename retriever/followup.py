"""A follow-up question made whole from the conversation: 那贵州呢, after 重庆脱贫人口收入是多少, asks
贵州脱贫人口收入是多少.

Deterministic rules on the questions' text, no language model. The conversation is read turn by turn,
oldest first, each turn against the one before as it was resolved, so a third turn builds on the
second's reading. A turn is read as

- an ellipsis (…呢): the place, year or 全国 it names replaces the previous question's (那贵州呢,
  2024年呢, 那全国呢), or is added when that one named none; anything else it names replaces the
  previous question's subject (城镇新增就业呢);
- a reference (它, 其, 该政策, 这项措施, 上述): the pronoun stands for the previous question's subject,
  该市/该省 for its place;
- a detail of the previous answer (第二项…, 其中…, 具体…, 为什么): unless it names its own place or year,
  it is asked of the previous question's subject (重庆2025年重点任务 + 第二项是什么);
- a fragment without a subject of its own (比全国高多少, 拉动了多少消费, 2024年提高了多少: it starts with
  a verb, an adverb or a preposition): it is asked of the previous question's subject, in its own year
  when it names one;
- anything else that names no place or year of its own, after a question that did: it keeps that
  question's place and year (停车位要建多少个 after 北京今年要打通多少条断头路);
- anything else: a new question, taken as asked; nothing is carried into it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingest.regions import place_mentions
from ingest.tokenize import tagged
from retriever.config import MAX_QUESTION_CHARS
from retriever.question import QUESTION_WORDS

MAX_HISTORY = 10  # the turns read: a conversation's subject does not reach further back

_END = "[？?。！!，,\\s]*$"
_ELLIPSIS = re.compile(f"^(?:那么|那|还有|再看|换成|如果是)?(?P<x>.{{1,16}}?)(?:的情况|的|方面)?呢{_END}")
_YEAR = re.compile(r"(?:19|20)\d\d年?|[今去明上本]年")
_NATION = re.compile(r"全国")
_PLACE_PRONOUN = re.compile(r"该[省市县区州地]|当地|本[省市]")
_PRONOUN = re.compile(
    r"它们|它|上述\w{0,4}?(?=[的是有要在如怎为])|该(?:政策|文件|项目|措施|举措|计划|目标|指标|报告|通知|项|工程)"
    r"|这一?(?:些|项|个|条)(?:政策|措施|举措|目标|指标|计划|工程|任务|工作)?|此项|其(?![中他它实余次])"
)
_DETAIL = re.compile(
    r"^(?:那么?)?(?:第[一二三四五六七八九十\d]+[项条点个类批]|其中|具体|为什么|为何|原因|怎么|如何|分别)"
)
_SUBJECT_TAIL = "的是有要将在了都还共"
_ASKS = {
    "多少": "是多少",
    "是多少": "是多少",
    "哪些": "有哪些",
    "有哪些": "有哪些",
    "什么": "是什么",
    "是什么": "是什么",
}
_NO_SUBJECT = frozenset("vdpc")  # jieba's verbs, adverbs, prepositions and conjunctions


def resolve(question: str, history: Sequence[str] = ()) -> str:
    """``question`` as a standalone question, read against ``history`` (the previous questions,
    oldest first); ``question`` itself when it needs nothing from them (or when made whole it would be
    longer than a question may be)."""
    previous = ""
    for turn in history[-MAX_HISTORY:]:
        if turn.strip():
            previous = _resolve_turn(turn.strip(), previous)
    resolved = _resolve_turn(question.strip(), previous)
    if not QUESTION_WORDS.sub("", resolved).strip() or len(resolved) > MAX_QUESTION_CHARS:
        return question.strip()  # made into nothing (其中 after 哪些？) or too long: asked as typed
    return resolved


def _resolve_turn(question: str, previous: str) -> str:
    if not previous:
        return question
    if _PLACE_PRONOUN.search(question) and (spans := _scope_spans(previous, years=False)):
        start, end = spans[0]
        question = _PLACE_PRONOUN.sub(previous[start:end], question, count=1)
    if (m := _ELLIPSIS.match(question)) is not None:
        return _ellipsis(m.group("x"), previous)
    if (m := _PRONOUN.search(question)) is not None:
        return question[: m.start()] + _subject(previous, question) + question[m.end() :]
    if (m := _DETAIL.match(question)) is not None:
        rest = question[m.end() :] if m.group().endswith("其中") else question
        return rest if _scope_spans(rest) else _subject(previous, rest) + rest
    if _fragment(question):
        return _subject(previous, question) + question
    if _scope_spans(question) or not _scope_spans(previous):
        return question  # a question of its own
    return "".join(_scope_texts(previous)) + question


def _ellipsis(said: str, previous: str) -> str:
    """The previous question about the place, year or subject ``said`` (the part before 呢)."""
    new = _scope_spans(said)
    rest = _without(said, new).strip("的 ")
    if rest and rest not in previous:  # another subject (城镇新增就业呢, 九江市的公积金政策呢)
        kept = {
            k: [t for t in _scope_texts(said) if _kind(t) == k] or [t for t in _scope_texts(previous) if _kind(t) == k]
            for k in ("place", "year")
        }
        return "".join(kept["place"] + kept["year"]) + rest + _ask(previous)
    resolved = previous
    for kind in ("place", "year"):
        wanted = [said[s:e] for s, e in new if _kind(said[s:e]) == kind]
        if not wanted:
            continue
        old = [(s, e) for s, e in _scope_spans(resolved) if _kind(resolved[s:e]) == kind]
        if old:
            s, e = old[0]
            resolved = resolved[:s] + wanted[0] + resolved[e:]
        else:
            resolved = wanted[0] + resolved
    return resolved


def _kind(text: str) -> str:
    return "year" if _YEAR.fullmatch(text) else "place"


def _scope_spans(text: str, years: bool = True) -> list[tuple[int, int]]:
    """Where ``text`` names a place (全国 included) or, with ``years``, a year, in order."""
    spans = [(s, e) for s, e, _ in place_mentions(text)]
    spans += [m.span() for m in _NATION.finditer(text)]
    if years:
        spans += [m.span() for m in _YEAR.finditer(text)]
    return sorted(spans)


def _scope_texts(text: str) -> list[str]:
    """The places and years ``text`` names, as written, in order (重庆, 2025年)."""
    return [text[s:e] for s, e in _scope_spans(text)]


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with ``spans`` cut out."""
    kept, at = [], 0
    for s, e in spans:
        kept.append(text[at:s])
        at = max(at, e)
    return "".join(kept) + text[at:]


def _subject(text: str, asking: str) -> str:
    """What a question asks about: its text without question words (重庆脱贫人口收入 of 重庆脱贫人口收入是多少,
    贵州打造全国算力高地 of 贵州怎样打造全国算力高地), without its year when the question ``asking`` about it
    names its own (它今年的目标是多少)."""
    if _YEAR.search(asking):
        text = _YEAR.sub("", text)
    bare = QUESTION_WORDS.sub("", text)
    return bare.rstrip(_SUBJECT_TAIL) or bare


def _ask(text: str) -> str:
    """How a question asks (是多少, 有哪些 …): its question word, with what follows it when that is short
    (怎么样了), as 是多少/有哪些 for 多少/哪些 followed by their noun (多少个工业技改项目)."""
    m = QUESTION_WORDS.search(text)
    if m is None or m.start() == 0:
        return "是什么"
    tail = text[m.start() :]
    if len(QUESTION_WORDS.sub("", tail)) <= 2:
        return tail
    return _ASKS.get(m.group(), m.group())


def _fragment(question: str) -> bool:
    """Whether a question has no subject of its own: it starts with a verb, adverb or preposition
    (比全国高多少, 去年产了多少 after its year, 拉动了多少消费), or is a bare question word or two."""
    bare = _YEAR.sub("", question)
    if len(QUESTION_WORDS.sub("", bare)) <= 2:
        return True
    first = next(iter(tagged(bare)), ("", "x"))
    return first[1][:1] in _NO_SUBJECT
