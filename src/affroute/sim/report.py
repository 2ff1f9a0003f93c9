"""What a run means to an analyst: the headline figures, breakdowns, and means with
confidence intervals over seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from affroute.sim.run import SimResult

# Headline figures, in the order the comparison table shows them.
METRICS: dict[str, str] = {
    "mean_resolution_h": "mean resolution (h)",
    "p90_resolution_h": "p90 resolution (h)",
    "mean_first_response_h": "mean first response (h)",
    "sla_breach_rate": "SLA breach rate",
    "escalations_per_100": "escalations / 100 tickets",
    "misroute_rate": "misroute rate",
    "mean_queue": "mean queue length",
    "utilisation": "agent utilisation",
    "solved_share": "solved by the end",
}


def summarise(result: SimResult) -> dict[str, float]:
    """The headline figures of one run."""
    done = ~np.isnan(result.solved)
    resolution = (result.solved - result.created)[done]
    answered = ~np.isnan(result.first_response)
    response = np.maximum(0.0, result.first_response - result.created)[answered]
    arrivals = max(result.arrivals, 1)
    queue = result.queue_lengths.get("all", np.zeros(0))
    util = list(result.utilisation.values())
    return {
        "mean_resolution_h": float(resolution.mean()) if resolution.size else math.nan,
        "p90_resolution_h": float(np.percentile(resolution, 90)) if resolution.size else math.nan,
        "mean_first_response_h": float(response.mean()) if response.size else math.nan,
        "sla_breach_rate": float(result.breached()[result.has_sla].mean())
        if result.has_sla.any()
        else math.nan,
        "escalations_per_100": 100.0 * float(result.escalations.sum()) / arrivals,
        "misroute_rate": float(np.count_nonzero(result.misroutes)) / arrivals,
        "mean_queue": float(queue.mean()) if queue.size else 0.0,
        "utilisation": float(np.mean(util)) if util else math.nan,
        "solved_share": float(done.sum()) / arrivals,
    }


def breakdown(result: SimResult, by: str) -> dict[str, dict[str, float]]:
    """Resolution, first response and breach rate per segment, priority or team."""
    labels: Sequence[str] = {"segment": result.segment, "priority": result.priority}.get(
        by, result.team
    )
    keys = np.asarray(labels)
    breached = result.breached()
    rows: dict[str, dict[str, float]] = {}
    for key in sorted(set(labels)):
        mask = keys == key
        solved = mask & ~np.isnan(result.solved)
        answered = mask & ~np.isnan(result.first_response)
        sla = mask & result.has_sla
        rows[key] = {
            "tickets": float(mask.sum()),
            "mean_resolution_h": float((result.solved - result.created)[solved].mean())
            if solved.any()
            else math.nan,
            "mean_first_response_h": float(
                np.maximum(0.0, result.first_response - result.created)[answered].mean()
            )
            if answered.any()
            else math.nan,
            "sla_breach_rate": float(breached[sla].mean()) if sla.any() else math.nan,
        }
    return rows


@dataclass(frozen=True, slots=True)
class Estimate:
    """A mean over seeds with the half-width of its 95% confidence interval (Student t)."""

    mean: float
    half_width: float
    seeds: int

    def __str__(self) -> str:
        if math.isnan(self.mean):
            return "-"
        if self.seeds < 2:
            return f"{self.mean:.3g}"
        return f"{self.mean:.3g} ± {self.half_width:.2g}"


def estimate(values: Sequence[float]) -> Estimate:
    data = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    if data.size == 0:
        return Estimate(math.nan, math.nan, 0)
    if data.size == 1:
        return Estimate(float(data[0]), math.nan, 1)
    half = float(stats.t.ppf(0.975, data.size - 1) * data.std(ddof=1) / math.sqrt(data.size))
    return Estimate(float(data.mean()), half, int(data.size))


def compare(runs: dict[str, list[SimResult]]) -> dict[str, dict[str, Estimate]]:
    """Per policy and metric: the mean over its seeds and a 95% confidence interval."""
    table: dict[str, dict[str, Estimate]] = {}
    for policy, results in runs.items():
        summaries = [summarise(r) for r in results]
        table[policy] = {m: estimate([s[m] for s in summaries]) for m in METRICS}
    return table
