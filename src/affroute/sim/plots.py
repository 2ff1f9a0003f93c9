"""PNG figures of a comparison (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from affroute.sim.report import breakdown
from affroute.sim.run import SimResult


def write_plots(runs: dict[str, list[SimResult]], directory: Path) -> list[Path]:
    """Queue length over time, resolution by deal segment, breach rate by priority."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    fig, ax = plt.subplots(figsize=(9, 4))
    for name, results in runs.items():
        first = results[0]
        ax.plot(first.queue_times, first.queue_lengths["all"], label=name, linewidth=1)
    ax.set(xlabel="hours from the first arrival", ylabel="tickets waiting",
           title="Queue length over time (first seed)")  # fmt: skip
    ax.legend()
    written.append(_save(fig, directory / "queue_length.png"))

    for by, metric, label, name in (
        ("segment", "mean_resolution_h", "mean resolution (h)", "resolution_by_segment.png"),
        ("priority", "sla_breach_rate", "SLA breach rate", "breach_by_priority.png"),
    ):
        fig, ax = plt.subplots(figsize=(9, 4))
        keys = sorted({k for results in runs.values() for k in breakdown(results[0], by)})
        width = 0.8 / max(1, len(runs))
        for n, (policy, results) in enumerate(runs.items()):
            values = [
                np.nanmean([breakdown(r, by).get(k, {}).get(metric, np.nan) for r in results])
                for k in keys
            ]
            ax.bar(np.arange(len(keys)) + n * width, values, width, label=policy)
        ax.set_xticks(np.arange(len(keys)) + 0.4 - width / 2, keys)
        ax.set(ylabel=label, title=f"{label} by {by} (mean over seeds)")
        ax.legend()
        written.append(_save(fig, directory / name))
    return written


def _save(fig: object, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return path
