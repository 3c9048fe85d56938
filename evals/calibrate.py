"""``zhengce eval --fit``: fit the dense weight, the answer settings and abstention on the dev splits.

The dev splits are the odd-numbered questions of the written sets (seed, policy, notices) and
DRCD's dev half of paragraphs. The written sets mix answerable and out-of-scope questions as staff
ask them (15–22 % unanswerable); DRCD, which has no unanswerable questions, adds questions asked
without their own paragraph in the same proportion (``UNANSWERABLE_SHARE``), not one for one: a pool
that is half unanswerable makes the fitted threshold far too shy. The result is written to the
calibration file with what it was fitted on; ``retriever.config.load_config`` reads it back.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals import fit
from evals import run as runner
from evals.dataset import EvalCase, without_own_paragraph
from retriever.config import RetrievalConfig
from retriever.pipeline import Retriever

logger = logging.getLogger(__name__)

# How many DRCD dev questions the answer settings are fitted on (all of them would take minutes per setting).
ANSWER_FIT_DRCD = 400
# The share of a benchmark's fit pool asked without its own paragraph: about what staff ask out of scope.
UNANSWERABLE_SHARE = 0.15


@dataclass(frozen=True, slots=True)
class Corpus:
    """One dev split to fit on: its retriever and cases; a benchmark also gets unanswerable twins."""

    name: str
    retriever: Retriever
    cases: Sequence[EvalCase]
    benchmark: bool = False

    def pool(self) -> list[EvalCase]:
        """The cases, plus for a benchmark ``UNANSWERABLE_SHARE`` of twins asked without their paragraph."""
        if not self.benchmark:
            return list(self.cases)
        n = round(len(self.cases) * UNANSWERABLE_SHARE / (1 - UNANSWERABLE_SHARE))
        twins = random.Random(7).sample(without_own_paragraph(list(self.cases)), n)
        return [*self.cases, *twins]


def _use(config: RetrievalConfig, corpora: Sequence[Corpus]) -> None:
    for c in corpora:
        c.retriever.config = config


def abstention_examples(corpora: Sequence[Corpus]) -> tuple[list[fit.Example], dict[str, tuple[int, int]]]:
    """Labelled examples of every corpus's pool, and each corpus's (answerable, unanswerable) counts.

    Each corpus weighs as much as the first in total, so the small seed set is not drowned.
    """
    data: list[fit.Example] = []
    sizes: dict[str, tuple[int, int]] = {}
    first = 0
    for i, c in enumerate(corpora):
        results = runner.evaluate(c.retriever, c.pool(), modes=())
        first = first or len(results)
        answerable = sum(r.case.answerable for r in results)
        sizes[c.name] = (answerable, len(results) - answerable)
        data += fit.examples(results, weight=first / len(results), corpus=i)
    return data, sizes


def describe(sizes: dict[str, tuple[int, int]]) -> str:
    """What the abstention model was fitted on, in words."""
    parts = [f"{name} ({a} answerable + {u} unanswerable)" for name, (a, u) in sizes.items()]
    return (
        " + ".join(parts) + "; written sets: odd ids; DRCD: its dev half of paragraphs, "
        f"{UNANSWERABLE_SHARE:.0%} of the pool asked without its own paragraph; each corpus weighs the same in total"
    )


def fit_all(
    corpora: Sequence[Corpus],
    target_precision: float | None,
    index_tag: str,
    reading: Sequence[tuple[Retriever, Sequence[EvalCase]]] = (),
) -> tuple[RetrievalConfig, fit.AbstentionFit, dict[str, Any]]:
    """Fit dense and region weights, the sentence ranker, answer settings, then abstention, on dev splits.

    Args:
        corpora: the dev splits the weights, answer settings and abstention are fitted on.
        target_precision: the precision of answers that are not marked 请核对原文.
        index_tag: the index the fit was made on, for the record.
        reading: labelled reading-comprehension dev data (CMRC 2018 dev, DRCD dev half) for the
            sentence ranker; without it the hand-set sentence score stays.

    Returns:
        The fitted config (also set on every retriever), the abstention fit, and a record of the fit.
    """
    curves = {c.name: fit.weight_curve(c.retriever, c.cases) for c in corpora}
    config = replace(corpora[0].retriever.config, **fit.best_weight(list(curves.values())))  # type: ignore[arg-type]
    logger.info("dense weight %.2f (MRR@5 by weight: %s)", config.dense_weight, curves)
    _use(config, corpora)
    # Title and scope weights on the written sets: benchmarks' paragraphs have neither real titles nor regions.
    written = [c for c in corpora if not c.benchmark]
    doc_curves = {c.name: fit.weight_curve(c.retriever, c.cases, fit.DOCUMENT_GRID) for c in written}
    config = replace(config, **fit.best_weight(list(doc_curves.values()), fit.DOCUMENT_GRID))  # type: ignore[arg-type]
    logger.info("title weight %.2f, scope weight %.2f", config.title_weight, config.scope_weight)
    _use(config, corpora)
    if reading:
        for r, _ in reading:
            r.config = config
        ranker = fit.fit_sentence_ranker(reading)
        logger.info("sentence ranker %s", dict(zip(ranker.features, ranker.weights, strict=True)))
        config = replace(config, answer=replace(config.answer, ranker=ranker))
        _use(config, corpora)
    answer_cfg, answer_score = fit.fit_answer([(c.retriever, c.cases[:ANSWER_FIT_DRCD]) for c in corpora])
    logger.info("answer settings %s (dev score %.3f)", answer_cfg, answer_score)
    config = replace(config, answer=answer_cfg)
    _use(config, corpora)
    data, sizes = abstention_examples(corpora)
    fitted_abstention = fit.fit_abstention(data, target_precision)
    if target_precision is not None and fitted_abstention.at_confident.coverage == 0.0:
        logger.warning(
            "no threshold reaches precision %.2f on the fit data; every answer will be marked 请核对原文",
            target_precision,
        )
    config = replace(config, abstention=fitted_abstention.abstention)
    _use(config, corpora)
    record = {
        "date": datetime.now(UTC).date().isoformat(),
        "data": describe(sizes),
        "answer_fit_score": round(answer_score, 4),
        "threshold_rule": f"refuse below the highest threshold that refuses at most {fit.MAX_REFUSED:.0%} of "
        "each corpus's answerable questions; mark 请核对原文 below "
        + (
            f"the lowest threshold with precision of right answers >= {target_precision}"
            if target_precision is not None
            else "the best mean F1 threshold (answerable = positive)"
        ),
        "mrr_by_dense_weight": {k: {w: round(v, 4) for w, v in c.items()} for k, c in curves.items()},
        "title_weight": "fitted with the scope weight on the written dev sets (MRR@5 grid below)",
        "mrr_by_title_and_scope_weight": {k: {w: round(v, 4) for w, v in c.items()} for k, c in doc_curves.items()},
        "index": index_tag,
        "sentence_ranker": f"logistic regression of 'holds a gold answer' over every sentence of the answering "
        f"hits, each question weighing 1, each corpus the same; fitted on {len(reading)} reading-comprehension "
        "dev sets (CMRC 2018 dev, DRCD dev half)"
        if reading
        else "hand-set score",
    }
    return config, fitted_abstention, record


def write_calibration(
    path: Path, config: RetrievalConfig, fitted_abstention: fit.AbstentionFit, record: dict[str, Any]
) -> None:
    """Write the fitted config with its abstention operating point and what it was fitted on.

    Notes of the file's old ``fitted_on`` that this fit does not redo (such as how a hand-chosen
    setting was chosen) are kept.
    """
    old = json.loads(path.read_text(encoding="utf-8")).get("fitted_on", {}) if path.is_file() else {}
    body = {**config.to_json(), "fitted_on": {**old, **record}}
    body["abstention"] |= {**fitted_abstention.to_json(), "fit_data": record["data"]}
    path.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    logger.info("wrote %s", path)


def committed_operating_point(path: Path) -> dict[str, Any]:
    """The abstention entry of a calibration file (threshold, target precision, coverage), or {}."""
    if not path.is_file():
        return {}
    entry = json.loads(path.read_text(encoding="utf-8")).get("abstention", {})
    return {k: v for k, v in entry.items() if k not in ("weights", "bias", "features")}
