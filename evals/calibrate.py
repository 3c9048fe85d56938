"""``zhengce eval --fit``: fit the dense weight, the answer settings and abstention on the dev splits.

The dev splits are the seed set's odd-numbered questions and DRCD's dev half of paragraphs, each
DRCD question asked with its paragraph and without it. The result is written to the calibration
file with what it was fitted on; ``retriever.config.load_config`` reads the fitted values back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals import fit
from evals import run as runner
from evals.dataset import EvalCase, without_own_paragraph
from retriever.config import RetrievalConfig
from retriever.pipeline import Retriever

logger = logging.getLogger(__name__)

Corpora = Sequence[tuple[Retriever, Sequence[EvalCase]]]
# How many DRCD dev questions the answer settings are fitted on (all of them would take minutes per setting).
ANSWER_FIT_DRCD = 400


def _use(config: RetrievalConfig, corpora: Corpora) -> None:
    for retriever, _ in corpora:
        retriever.config = config


def abstention_examples(corpora: Corpora) -> tuple[list[fit.Example], list[int]]:
    """Labelled examples of every corpus's cases, and the number of examples of each corpus.

    Every corpus after the first is a benchmark whose questions are also asked without their own
    paragraph (its unanswerable ones). Each corpus weighs as much as the first in total, so the
    small seed set is not drowned.
    """
    data: list[fit.Example] = []
    sizes: list[int] = []
    for i, (retriever, cases) in enumerate(corpora):
        pool = [*cases, *(without_own_paragraph(list(cases)) if i else [])]
        results = runner.evaluate(retriever, pool, modes=())
        sizes.append(len(results))
        data += fit.examples(results, weight=sizes[0] / len(results), corpus=i)
    return data, sizes


def describe(sizes: Sequence[int]) -> str:
    """What the abstention model was fitted on, in words."""
    text = f"seed eval set dev half ({sizes[0]} questions, odd ids)"
    if len(sizes) > 1:
        text += f" + DRCD dev half ({sizes[1]} questions: each asked with its paragraph and without it)"
    return text + "; each corpus weighs the same in total"


def fit_all(
    corpora: Corpora, target_precision: float | None, index_tag: str
) -> tuple[RetrievalConfig, fit.AbstentionFit, dict[str, Any]]:
    """Fit dense weight, then answer settings, then abstention, each on the dev splits of ``corpora``.

    Returns:
        The fitted config (also set on every retriever), the abstention fit, and a record of the fit.
    """
    names = ["seed_dev", "drcd_dev"][: len(corpora)]
    curves = {name: fit.weight_curve(r, cases) for name, (r, cases) in zip(names, corpora, strict=True)}
    config = replace(corpora[0][0].config, dense_weight=fit.best_weight(list(curves.values())))
    logger.info("dense weight %.2f (MRR@5 by weight: %s)", config.dense_weight, curves)
    _use(config, corpora)
    answer_cfg, answer_score = fit.fit_answer([(r, cases[:ANSWER_FIT_DRCD]) for r, cases in corpora])
    logger.info("answer settings %s (dev score %.3f)", answer_cfg, answer_score)
    config = replace(config, answer=answer_cfg)
    _use(config, corpora)
    data, sizes = abstention_examples(corpora)
    fitted_abstention = fit.fit_abstention(data, target_precision)
    if target_precision is not None and fitted_abstention.coverage == 0.0:
        logger.warning(
            "no threshold reaches precision %.2f on the fit data; nothing will be answered", target_precision
        )
    config = replace(config, abstention=fitted_abstention.abstention)
    _use(config, corpora)
    record = {
        "date": datetime.now(UTC).date().isoformat(),
        "data": describe(sizes),
        "answer_fit_score": round(answer_score, 4),
        "threshold_rule": f"lowest threshold with precision of right answers >= {target_precision} on the fit data"
        if target_precision is not None
        else "best mean F1 (answerable = positive) over the corpora",
        "mrr_by_dense_weight": {k: {str(w): round(v, 4) for w, v in c.items()} for k, c in curves.items()},
        "index": index_tag,
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
