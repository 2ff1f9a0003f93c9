"""The precision-coverage curve of a model, drawn as a PNG (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from affroute.ml.metrics import Report, coverage_curve


def plot_precision_coverage(
    proba: NDArray[np.float64],
    y: NDArray[Any],
    classes: NDArray[Any],
    report: Report,
    target_precision: float | None,
    path: Path,
    title: str,
) -> None:
    """Precision against coverage when acting on the most confident first, with the
    operating point the per-class thresholds give and the target precision."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    best = proba.argmax(axis=1)
    confidence = proba[np.arange(len(best)), best]
    _, coverage, precision = coverage_curve(confidence, classes[best] == np.asarray(y))
    figure, axes = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    axes.plot(coverage * 100, precision * 100, label="one threshold for all classes")
    axes.scatter(
        [report.coverage * 100],
        [report.precision_acted * 100],
        color="tab:red",
        zorder=3,
        label=(
            f"per-class thresholds: {report.coverage:.1%} covered"
            f" at {report.precision_acted:.1%} precision"
        ),
    )
    if target_precision is not None:
        axes.axhline(
            target_precision * 100,
            color="grey",
            linestyle="--",
            linewidth=1,
            label=f"target precision {target_precision:.0%}",
        )
    axes.set_xlabel("coverage: tickets the model acts on (%)")
    axes.set_ylabel("precision of those (%)")
    axes.set_xlim(0, 100)
    axes.set_ylim(max(0.0, float(precision.min()) * 100 - 2), 100.5)
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
