"""PNG plots for the eval report, drawn with matplotlib's Agg backend (no display needed) (I/O)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from evals.metrics import OperatingPoint

logger = logging.getLogger(__name__)


def coverage_precision_plot(
    points: Sequence[OperatingPoint], marks: dict[str, OperatingPoint], title: str, path: Path
) -> Path:
    """Draw precision against coverage as the confidence threshold sweeps, with named points marked.

    Args:
        points: the curve, one point per distinct confidence (see ``metrics.coverage_precision``).
        marks: labelled operating points to mark, such as the committed threshold.
        title: the plot's title (ASCII: the default fonts have no CJK glyphs).
        path: the PNG to write.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.0), dpi=100)
    try:
        ax.plot([p.coverage for p in points], [p.precision for p in points], lw=1.5, label="all thresholds")
        for i, (label, p) in enumerate(marks.items()):
            text = f"{label}: t={p.threshold:.3f}, coverage {p.coverage:.2f}, precision {p.precision:.2f}"
            ax.scatter([p.coverage], [p.precision], s=40, zorder=3, color=f"C{i + 1}", label=text)
        ax.legend(loc="lower left", fontsize=7)
        ax.set(xlabel="coverage (share of questions answered)", ylabel="precision (share answered rightly)")
        ax.set(xlim=(0, 1.02), ylim=(0, 1.02), title=title)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    logger.debug("wrote %s", path)
    return path
