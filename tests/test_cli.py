"""The affroute command line, run as a user runs it: a real process on real files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE

AFFROUTE = [sys.executable, "-m", "affroute"]


def affroute(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AFFROUTE, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": ""},
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    result = affroute(
        "generate", "--out", str(folder), "--seed", "3", "--partners", "120", "--tickets", "600"
    )
    assert result.returncode == 0, result.stderr
    return folder


def test_config_check_prints_a_summary_with_the_version() -> None:
    result = affroute("config", "check", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "is valid - version" in result.stdout
    assert "high-value deals to senior analysts" in result.stdout


def test_config_check_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    text = (
        EXAMPLE.read_text()
        .replace("field: deal.value", "field: deal.valu")
        .replace(
            "teams: [general_support], skills: {general: 2}, capacity: 8}",
            "teams: [genral_support], skills: {general: 2}, capacity: 8}",
            1,
        )
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    result = affroute("config", "check", str(bad))
    assert result.returncode == 1
    assert "unknown field 'deal.valu'; did you mean 'deal.value'?" in result.stderr
    assert "rules[2] 'high-value deals to senior analysts'.when.all[0].field" in result.stderr
    assert "agents[1] 'gs-02'.teams[0]: unknown team 'genral_support'" in result.stderr


def test_config_fields_lists_fields_and_operators() -> None:
    result = affroute("config", "fields")
    assert result.returncode == 0
    assert "engagement_percentile" in result.stdout and "between" in result.stdout


def test_generate_writes_every_table(demo: Path) -> None:
    for table in ("partners", "deals", "campaigns", "anomalies", "tickets"):
        assert (demo / f"{table}.csv").exists() and (demo / f"{table}.jsonl").exists()
    with (demo / "tickets.csv").open() as f:
        assert sum(1 for _ in csv.DictReader(f)) == 600


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_route_writes_one_decision_per_ticket_and_a_summary(
    demo: Path, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / "decisions.jsonl"
    result = affroute(
        "route",
        str(demo / f"tickets.{fmt}"),
        "--config",
        str(EXAMPLE),
        "--context",
        str(demo),
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    decisions = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(decisions) == 600
    assert {"score", "priority", "team", "factors", "rules_matched", "config_version"} <= set(
        decisions[0]
    )
    assert "600 tickets routed" in result.stdout
    assert "median score" in result.stdout


def test_route_reports_bad_rows_with_line_numbers_and_keeps_the_rest(
    demo: Path, tmp_path: Path
) -> None:
    lines = (demo / "tickets.jsonl").read_text().splitlines()[:10]
    broken = json.loads(lines[3])
    broken["urgency"] = "whenever"
    lines[3] = json.dumps(broken)
    lines[6] = "{not json"
    missing = json.loads(lines[8])
    del missing["created_at"]
    lines[8] = json.dumps(missing)
    source = tmp_path / "tickets.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "decisions.jsonl"
    result = affroute(
        "route", str(source), "--config", str(EXAMPLE), "--context", str(demo), "--out", str(out)
    )
    assert result.returncode == 1
    assert f"{source}:4: urgency:" in result.stderr
    assert f"{source}:7: not valid JSON" in result.stderr
    assert f"{source}:9: created_at: required field is missing" in result.stderr
    assert "3 bad row(s) skipped" in result.stderr
    assert len(out.read_text().splitlines()) == 7


def test_route_explain_prints_the_trace(demo: Path, tmp_path: Path) -> None:
    source = tmp_path / "one.jsonl"
    source.write_text((demo / "tickets.jsonl").read_text().splitlines()[0] + "\n")
    result = affroute(
        "route",
        str(source),
        "--config",
        str(EXAMPLE),
        "--context",
        str(demo),
        "--out",
        str(tmp_path / "d.jsonl"),
        "--explain",
    )
    assert result.returncode == 0, result.stderr
    assert (
        "deal_value" in result.stdout and "team '" in result.stdout and "config " in result.stdout
    )


def test_route_rejects_a_missing_context_folder(demo: Path, tmp_path: Path) -> None:
    result = affroute(
        "route",
        str(demo / "tickets.jsonl"),
        "--config",
        str(EXAMPLE),
        "--context",
        str(tmp_path / "nope"),
        "--out",
        str(tmp_path / "d.jsonl"),
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr
