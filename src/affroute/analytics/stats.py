"""Pure statistics for the metrics: medians, rank correlation, deal-value segments."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


def median(values: Sequence[float] | Floats) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); None if empty."""
    array = np.asarray(values, dtype=np.float64)
    return float(np.median(array)) if array.size else None


def midranks(values: Floats) -> Floats:
    """Ranks 1..n, tied values sharing the mean of the ranks they span."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    # Each run of equal values starts where the value changes.
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], ordered.size]
    shared = (starts + ends + 1) / 2.0  # mean of the 1-based ranks start+1 .. end
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(shared, ends - starts)
    return ranks


def pearson(x: Floats, y: Floats) -> float | None:
    """Pearson's r; None with fewer than two points or when either side is constant."""
    if x.size < 2:
        return None
    dx, dy = x - x.mean(), y - y.mean()
    spread = math.sqrt(float(dx @ dx) * float(dy @ dy))
    return float(dx @ dy) / spread if spread else None


def spearman(x: Floats, y: Floats) -> float | None:
    """Spearman's rho: Pearson's r of the midranks (the textbook tie handling)."""
    if x.size < 2:
        return None
    return pearson(midranks(x), midranks(y))


@dataclass(frozen=True, slots=True)
class Segment:
    """Deal values in ``[low, high)``; both None is the segment of tickets without a deal."""

    name: str
    low: float | None
    high: float | None

    def holds(self, value: float | None) -> bool:
        if value is None:
            return self.low is None and self.high is None
        if self.low is None and self.high is None:
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value < self.high)


NO_DEAL = Segment("no deal", None, None)
DEFAULT_EDGES = (5_000.0, 20_000.0, 50_000.0)


def _money(value: float) -> str:
    if value >= 1_000_000 and value % 100_000 == 0:
        return f"${value / 1_000_000:g}M"
    if value >= 1_000 and value % 100 == 0:
        return f"${value / 1_000:g}K"
    return f"${value:g}"


def segments(edges: Sequence[float] = DEFAULT_EDGES) -> list[Segment]:
    """Segments between increasing edges: under the first, between each pair, the last up."""
    bounds = sorted(set(edges))
    if any(edge <= 0 for edge in bounds):
        raise ValueError("segment edges must be positive deal values")
    result = [NO_DEAL]
    low: float | None = 0.0
    for edge in bounds:
        name = f"under {_money(edge)}" if low == 0.0 else f"{_money(low or 0)}-{_money(edge)}"
        result.append(Segment(name, low, edge))
        low = edge
    result.append(Segment(f"{_money(low or 0)}+", low, None))
    return result
