"""Precision and recall of each detector against a generated log's ground truth."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from affroute.anomaly.detect import DETECTOR_OF, DETECTORS, Finding

# What identifies an anomaly when findings are matched with the truth.
Target = tuple[str, str | None, str | None]  # kind, partner, campaign


@dataclass(frozen=True, slots=True)
class DetectorScore:
    detector: str
    true: int  # anomalies injected
    found: int  # anomalies reported
    hits: int  # reported and injected

    @property
    def precision(self) -> float:
        return self.hits / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.hits / self.true if self.true else 1.0


def score_detectors(findings: Iterable[Finding], truth: Iterable[Target]) -> list[DetectorScore]:
    """One score per detector; a finding hits when its kind, partner and campaign are true."""
    found = {(f.kind, f.partner_id, f.campaign_id) for f in findings}
    true = set(truth)
    scores = []
    for detector in DETECTORS:
        mine = {t for t in found if DETECTOR_OF[t[0]] == detector}
        expected = {t for t in true if DETECTOR_OF[t[0]] == detector}
        scores.append(DetectorScore(detector, len(expected), len(mine), len(mine & expected)))
    return scores
