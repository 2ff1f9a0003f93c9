"""`affroute tune` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from affroute.cli import app
from affroute.config import load_config
from affroute.feedback.records import write_outcomes
from tests.conftest import minimal_data
from tests.feedback.conftest import OutcomeFactory
from tests.feedback.test_tune import payout_outcomes

runner = CliRunner(env={"COLUMNS": "200"})  # wide enough that table cells do not wrap


def test_tune_prints_evidence_and_writes_the_proposal(
    tmp_path: Path, make_outcome: OutcomeFactory
) -> None:
    config = tmp_path / "routing.yaml"
    config.write_text(yaml.safe_dump(minimal_data(), sort_keys=False))
    outcomes = tmp_path / "outcomes.csv"
    write_outcomes(outcomes, payout_outcomes(make_outcome))
    proposed = tmp_path / "tuned.yaml"
    args = ["tune", "--config", str(config), "--outcomes", str(outcomes), "--min-responses", "20"]

    result = runner.invoke(app, [*args, "--out", str(proposed)])
    assert result.exit_code == 0, result.output
    assert "Rule proposals" in result.output and "finance (20, 4.50)" in result.output
    assert "+    then: {team: finance, tags: [tuned], stop: true}" in result.output
    assert [r.then.team for r in load_config(proposed).rules] == ["finance"]
    assert config.read_text() == yaml.safe_dump(minimal_data(), sort_keys=False)  # untouched

    as_json = json.loads(runner.invoke(app, [*args, "--json"]).output)
    assert as_json["rules"][0]["segment"] == {"category": "payout"}
    assert as_json["rules"][0]["better"]["responses"] == 20


def test_tune_reports_bad_rows_and_exits_1(tmp_path: Path, make_outcome: OutcomeFactory) -> None:
    config = tmp_path / "routing.yaml"
    config.write_text(yaml.safe_dump(minimal_data(), sort_keys=False))
    outcomes = tmp_path / "outcomes.jsonl"
    write_outcomes(outcomes, [make_outcome(csat=4)])
    outcomes.write_text(outcomes.read_text() + '{"ticket_id": "T9", "csat": 9}\n')
    result = runner.invoke(app, ["tune", "--config", str(config), "--outcomes", str(outcomes)])
    assert result.exit_code == 1
    assert f"{outcomes}:2: " in result.output and "csat:" in result.output
