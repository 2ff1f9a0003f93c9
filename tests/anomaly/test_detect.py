"""The five detectors on a generated log with known anomalies, and what they report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from affroute.anomaly.detect import DETECTORS, scan
from affroute.anomaly.evaluate import score_detectors
from affroute.config import AnomalyConfig
from affroute.synth.events import EventLog, EventLogSpec, generate_event_log
from tests.anomaly.conftest import SMALL


@pytest.mark.parametrize("seed", [11, 12])
def test_every_detector_reaches_90_percent_precision_and_recall(
    seed: int, thresholds: AnomalyConfig
) -> None:
    log = generate_event_log(SMALL, np.random.default_rng(seed))
    result = scan(log.events, log.counts, thresholds)
    scores = score_detectors(
        result.findings, [(t.kind, t.partner_id, t.campaign_id) for t in log.truth]
    )
    assert {s.detector for s in scores} == set(DETECTORS)
    for s in scores:
        assert s.true > 0, f"{s.detector}: nothing injected"
        assert s.precision >= 0.9, f"{s.detector}: precision {s.precision:.2f}"
        assert s.recall >= 0.9, f"{s.detector}: recall {s.recall:.2f}"


def test_the_same_seed_gives_the_same_log() -> None:
    spec = EventLogSpec(events=20_000, partners=18, campaigns=3, days=14, per_kind=1)
    first = generate_event_log(spec, np.random.default_rng(3))
    again = generate_event_log(spec, np.random.default_rng(3))
    assert first.events.equals(again.events)
    assert first.counts.equals(again.counts)
    assert first.truth == again.truth


def test_each_finding_explains_itself(small_log: EventLog, thresholds: AnomalyConfig) -> None:
    result = scan(small_log.events, small_log.counts, thresholds)
    assert result.findings
    for finding in result.findings:
        assert finding.partner_id and finding.partner_id in finding.summary
        assert 0 < finding.severity <= 1
        json.dumps(finding.evidence)  # storable as JSON
    duplicate = next(f for f in result.findings if f.kind == "duplicate_leads")
    assert duplicate.evidence["duplicates"] >= thresholds.duplicate_leads.min_count
    assert duplicate.evidence["examples"][0]["line"] > 0
    mismatch = next(f for f in result.findings if f.kind == "conversion_mismatch")
    day = mismatch.evidence["worst_days"][0]
    assert abs(day["network"] - day["advertiser"]) >= thresholds.conversion_mismatch.min_difference


def test_a_rescan_finds_the_same_anomalies_under_the_same_keys(
    small_log: EventLog, thresholds: AnomalyConfig
) -> None:
    first = scan(small_log.events, small_log.counts, thresholds)
    again = scan(small_log.events.sample(fraction=1.0, shuffle=True, seed=1), small_log.counts,
                 thresholds)  # fmt: skip
    assert [f.key for f in first.findings] == [f.key for f in again.findings]


def test_weekends_are_not_drops(small_log: EventLog, thresholds: AnomalyConfig) -> None:
    """Traffic is ~40% lower at weekends for everyone: only injected days are flagged."""
    result = scan(small_log.events, small_log.counts, thresholds)
    injected = {(t.kind, t.partner_id) for t in small_log.truth}
    drops = [f for f in result.findings if f.kind.endswith("_drop")]
    assert drops and all((f.kind, f.partner_id) in injected for f in drops)


def test_detectors_that_cannot_run_say_why(small_log: EventLog, thresholds: AnomalyConfig) -> None:
    clicks_only = small_log.events.filter(small_log.events["event"] == "click").head(1000)
    result = scan(clicks_only, small_log.counts.clear(), thresholds)
    notes = " ".join(result.notes)
    assert "no lead events" in notes
    assert "no daily network/advertiser counts" in notes
    assert "no conversion with a known click time" in notes
