"""Staff feedback on answers: stored in SQLite with the full trace, exported as eval cases.

A thumbs-down says what went wrong (数字错误, 引用不对, 应该拒答, 没找到答案, 其他). Each stored
case keeps what the staff member saw: the question, the answer, its citations with their scores
and offsets, the abstention features and the index generation. ``zhengce feedback export``
turns them into lines of the eval-set format, so a reviewer can promote them into
``evals/eval_set.jsonl`` after checking the gold quotes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

Rating = Literal["up", "down"]
Reason = Literal["数字错误", "引用不对", "应该拒答", "没找到答案", "其他"]
REASONS: tuple[str, ...] = get_args(Reason)
FEEDBACK_DB = "feedback.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    reason TEXT, comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL, answer TEXT NOT NULL, abstained INTEGER NOT NULL,
    confidence REAL NOT NULL, index_generation INTEGER NOT NULL,
    trace TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Feedback:
    """One judgement of one answer; ``trace`` is the answer exactly as the API returned it."""

    rating: Rating
    reason: Reason | None
    comment: str
    trace: dict[str, Any]
    id: int = 0
    created_at: str = ""

    @property
    def question(self) -> str:
        """The question that was asked."""
        return str(self.trace["question"])


class FeedbackStore:
    """The feedback table of a data directory (its own SQLite file, apart from the documents)."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(root / FEEDBACK_DB, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def add(self, feedback: Feedback) -> int:
        """Store one judgement (committed when this returns) and return its id."""
        t = feedback.trace
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO feedback (rating, reason, comment, question, answer, abstained, confidence,"
                " index_generation, trace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (feedback.rating, feedback.reason, feedback.comment, t["question"], t["answer"], int(t["abstained"]),
                 float(t["confidence"]), int(t["index_generation"]), json.dumps(t, ensure_ascii=False)),
            )  # fmt: skip
        return int(cursor.lastrowid or 0)

    def all(self) -> Iterator[Feedback]:
        """Every stored judgement, oldest first."""
        rows = self._db.execute("SELECT id, created_at, rating, reason, comment, trace FROM feedback ORDER BY id")
        for id_, created_at, rating, reason, comment, trace in rows.fetchall():
            yield Feedback(rating, reason, comment, json.loads(trace), id_, created_at)


def eval_case(feedback: Feedback) -> dict[str, Any]:
    """The eval-set line a judgement suggests, for a reviewer to check and promote.

    A thumbs-up of an answer makes its answer-part citations the gold quotes; a thumbs-up of an
    abstention, or 应该拒答, makes the question unanswerable. Any other thumbs-down is
    answerable with the gold left for the reviewer to fill in (``needs_review``).
    """
    t = feedback.trace
    unanswerable = feedback.reason == "应该拒答" or (feedback.rating == "up" and t["abstained"])
    gold: list[dict[str, str]] = []
    if feedback.rating == "up" and not t["abstained"]:
        parts = [c for c in t["citations"] if c.get("answer_part", True)] or t["citations"][:1]
        gold = [{"doc_id": c["doc_id"], "quote": c["quote"]} for c in parts]
    return {
        "id": f"feedback-{feedback.id:06d}",
        "question": feedback.question,
        "kind": "unanswerable" if unanswerable else "feedback",
        "answerable": not unanswerable,
        "gold": gold,
        "must_contain": [],
        "needs_review": feedback.rating == "down" and not unanswerable,
        "feedback": {
            "rating": feedback.rating,
            "reason": feedback.reason,
            "comment": feedback.comment,
            "created_at": feedback.created_at,
            "answer": t["answer"],
            "abstained": t["abstained"],
            "confidence": t["confidence"],
            "index_generation": t["index_generation"],
            "citations": [{k: c.get(k) for k in ("doc_id", "quote", "start", "end", "score")} for c in t["citations"]],
        },
    }
