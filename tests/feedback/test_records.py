"""Outcome files: written and read back, and bad rows named by line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from affroute.domain import Category, Priority, PromotionType
from affroute.feedback.records import read_outcomes, write_outcomes
from tests.feedback.conftest import OutcomeFactory


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_outcomes_survive_a_round_trip(
    tmp_path: Path, suffix: str, make_outcome: OutcomeFactory
) -> None:
    outcomes = [
        make_outcome(
            csat=4,
            nps=9,
            rules=("urgent tickets are at least P2", "payouts to finance"),
            team="finance",
            team_source="rule:payouts to finance",
            promotion_type=PromotionType.SEASONAL,
            first_response_hours=1.5,
            reopened=True,
        ),
        make_outcome(deal_value=None, partner_tier=None, category=None),
    ]
    path = tmp_path / f"outcomes{suffix}"
    assert write_outcomes(path, outcomes) == 2
    loaded = read_outcomes(path)
    assert loaded.errors == []
    assert loaded.items == outcomes


def test_bad_rows_name_their_line_and_field(tmp_path: Path, make_outcome: OutcomeFactory) -> None:
    path = tmp_path / "outcomes.csv"
    write_outcomes(path, [make_outcome(ticket_id=f"T{i}", csat=3) for i in range(5)])
    lines = path.read_text().splitlines()
    header = lines[0].split(",")

    def edit(line: str, **cells: str) -> str:
        values = line.split(",")
        for name, value in cells.items():
            values[header.index(name)] = value
        return ",".join(values)

    lines[2] = edit(lines[2], csat="7")  # line 3: out of 1..5
    lines[3] = edit(lines[3], team_source="rules:x")  # line 4: unknown source
    lines[4] = edit(lines[4], priority="urgent", first_response_hours="-1")  # line 5: two
    lines[5] = edit(lines[5], ticket_id="T0")  # line 6: a second T0
    path.write_text("\n".join(lines) + "\n")
    loaded = read_outcomes(path)
    assert [o.ticket_id for o in loaded.items] == ["T0"]
    messages = [str(e) for e in loaded.errors]
    assert messages[0].startswith(f"{path}:3: csat:")
    assert messages[1].startswith(f"{path}:4: team_source:")
    assert f"{path}:5: " in messages[2]
    assert "priority:" in messages[2] and "first_response_hours:" in messages[2]
    assert messages[3] == f"{path}:6: id: 'T0' appears more than once"


def test_jsonl_rows_need_the_routing_and_the_outcome(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.jsonl"
    path.write_text(
        '{"ticket_id": "T1", "created_at": "2026-03-02T10:00:00Z"}\n{"ticket_id": "T2"\n'
    )
    loaded = read_outcomes(path)
    first, second = (str(e) for e in loaded.errors)
    assert first.startswith(f"{path}:1: ")
    for name in ("urgency", "team", "team_source", "priority", "score", "resolution_hours"):
        assert f"{name}: required field is missing" in first
    assert second.startswith(f"{path}:2: not valid JSON")


def test_an_outcome_knows_its_band_and_decider(make_outcome: OutcomeFactory) -> None:
    outcome = make_outcome(engagement_percentile=0.85, team_source="model:clf", csat=5)
    assert outcome.engagement_band == "top"
    assert outcome.decided_by == "model"
    assert make_outcome(engagement_percentile=0.1).engagement_band == "low"
    assert make_outcome().category is Category.PAYOUT and make_outcome().priority is Priority.P3
