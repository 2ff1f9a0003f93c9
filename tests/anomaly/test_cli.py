"""``affroute anomalies`` as a user runs it: generate a log, scan it, store, rescan."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlalchemy import func, select

from affroute.service.uow import UnitOfWork
from affroute.store import migrate
from affroute.store.db import make_engine, session_factory
from affroute.store.models import AnomalyRow
from tests.conftest import EXAMPLE
from tests.test_cli import affroute


def test_scan_a_generated_log_store_it_and_rescan_without_duplicates(tmp_path: Path) -> None:
    made = affroute(
        "anomalies", "generate", "--out", str(tmp_path), "--events", "150000", "--partners", "24",
        "--campaigns", "3", "--days", "21", "--per-kind", "1", "--seed", "5",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    truth = list(csv.DictReader((tmp_path / "truth.csv").open()))
    assert {row["kind"] for row in truth} >= {"duplicate_leads", "conversion_mismatch"}

    url = f"sqlite:///{tmp_path / 'scan.db'}"
    migrate.upgrade(url)
    files = [str(tmp_path / "events.csv"), str(tmp_path / "daily_counts.csv")]
    first = affroute(
        "anomalies", "scan", *files, "--config", str(EXAMPLE), "--database-url", url,
        "--out", str(tmp_path / "found.jsonl"),
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    found = [json.loads(line) for line in (tmp_path / "found.jsonl").open()]
    assert "attribution anomalies" in first.stdout
    assert f"stored: {len(found)} new, 0 already open" in first.stdout
    true = {(t["kind"], t["partner_id"], t["campaign_id"] or None) for t in truth}
    assert {(f["kind"], f["partner_id"], f["campaign_id"]) for f in found} & true
    # every stored partner is unknown to the empty catalog, and said so
    assert "unknown partner(s) kept" in first.stdout

    again = affroute("anomalies", "scan", *files, "--config", str(EXAMPLE), "--database-url", url)
    assert f"stored: 0 new, {len(found)} already open and updated" in again.stdout
    uow = UnitOfWork(session_factory(make_engine(url)))
    assert uow.run(lambda s: s.scalar(select(func.count()).select_from(AnomalyRow))) == len(found)


def test_bad_rows_are_listed_with_their_lines_and_the_exit_code_says_so(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("event,at,partner_id\nclick,2026-03-02T10:00:00Z,P1\nclick,soon,P1\n")
    result = affroute("anomalies", "scan", str(path), "--config", str(EXAMPLE))
    assert result.returncode == 1
    assert "1 malformed row(s) not scanned" in result.stderr
    assert f"{path}:3: at: not a timestamp" in result.stderr
    missing = affroute("anomalies", "scan", str(path), "--map", "partner_id=channel")
    assert missing.returncode == 2
    assert "partner_id (column 'channel')" in missing.stderr
