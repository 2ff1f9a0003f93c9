"""Events in, anomalies found by the service's own scan, tickets routed by them; both databases."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
import yaml
from sqlalchemy import delete

from affroute.anomaly.events import read_frame
from affroute.service import anomalies
from affroute.service.uow import UnitOfWork
from affroute.store.db import make_engine, session_factory
from affroute.store.models import AttributionEventRow
from tests.api.conftest import Server, _fresh_database, run_server, seed_catalog
from tests.conftest import EXAMPLE

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
INDIA = timezone(timedelta(hours=5, minutes=30))


@pytest.fixture(params=["sqlite", "postgresql"])
def scanning(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_ok: bool
) -> Iterator[Server]:
    """A server whose continuous anomaly scan runs every 0.2 s."""
    for url in _fresh_database(request.param, tmp_path_factory, pg_ok):
        yield from run_server(url, anomaly_scan_seconds=0.2)


def lead_rows(partner: str, campaign: str, count: int, repeats: int, start: datetime) -> list[Any]:
    """``count`` leads, the last ``repeats`` of them reusing earlier contacts minutes later."""
    rows = []
    for i in range(count):
        contact = f"h{partner}{i % (count - repeats) if i >= count - repeats else i}"
        at = start + timedelta(minutes=3 * i)
        rows.append(
            {
                "event": "lead",
                # the same instant written in another offset now and then
                "at": at.astimezone(INDIA if i % 2 else UTC).isoformat(),
                "partner_id": partner,
                "campaign_id": campaign,
                "contact_hash": contact,
                "ip": f"10.0.{i}.1",
                "device": "android",
            }
        )
    return rows


def wait_for(client: httpx.Client, params: dict[str, Any], count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        items: list[dict[str, Any]] = client.get("/api/v1/anomalies", params=params).json()
        if len(items) >= count or time.monotonic() > deadline:
            return items
        time.sleep(0.1)


def ticket(client: httpx.Client, partner: str) -> dict[str, Any]:
    body = {"subject": "Leads look odd", "body": "please check", "partner_id": partner,
            "category": "lead_quality"}  # fmt: skip
    response = client.post("/api/v1/tickets", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_scanned_events_flag_the_partner_until_the_anomaly_is_resolved(scanning: Server) -> None:
    with scanning.client("admin") as admin, scanning.client("integration") as feed:
        seed_catalog(admin)
        assert ticket(admin, "P007")["decision"]["trace"]["anomalies"] == []

        sent = feed.post("/api/v1/events/bulk", json=lead_rows("P007", "C-XMAS", 40, 12, T0))
        assert sent.status_code == 200, sent.text
        assert sent.json() == {
            "events": 40, "repeats": 0, "daily_counts": 0, "unknown_partners": {}
        }  # fmt: skip

        found = wait_for(admin, {"kind": "duplicate_leads", "partner_id": "P007"}, 1)
        assert len(found) == 1
        anomaly = found[0]
        assert anomaly["status"] == "open" and anomaly["campaign_id"] == "C-XMAS"
        assert anomaly["evidence"]["duplicates"] == 12 and anomaly["evidence"]["leads"] == 40
        assert "12 of 40 leads" in anomaly["summary"]

        flagged = ticket(admin, "P007")
        trace = flagged["decision"]["trace"]
        assert trace["anomalies"] == [anomaly["id"]]
        assert anomaly["id"] in trace["factors"]["attribution_anomaly"]["raw"]
        assert flagged["team"] == "analytics"

        # More of the same traffic: the rescan updates the anomaly, it does not add one.
        more = lead_rows("P007", "C-XMAS", 40, 12, T0 + timedelta(hours=3))
        for row in more:  # new people on new devices, 12 of them sent twice again
            row["contact_hash"] += "b"
            row["ip"] = row["ip"].replace("10.0.", "10.1.")
        assert feed.post("/api/v1/events/bulk", json=more).status_code == 200
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            again = admin.get(f"/api/v1/anomalies/{anomaly['id']}").json()
            if again["evidence"]["leads"] == 80:
                break
            time.sleep(0.1)
        assert again["evidence"]["duplicates"] == 24
        assert len(admin.get("/api/v1/anomalies", params={"partner_id": "P007"}).json()) == 1

        with scanning.client("analyst") as analyst:
            acked = analyst.post(f"/api/v1/anomalies/{anomaly['id']}/acknowledge")
            assert acked.status_code == 200 and acked.json()["acknowledged_at"]
            assert ticket(admin, "P007")["decision"]["trace"]["anomalies"] == [anomaly["id"]]
            resolved = analyst.post(f"/api/v1/anomalies/{anomaly['id']}/resolve")
            assert resolved.status_code == 200
            assert resolved.json()["status"] == "resolved" and resolved.json()["resolved_at"]
            again_resolved = analyst.post(f"/api/v1/anomalies/{anomaly['id']}/resolve")
            assert again_resolved.status_code == 409
        assert ticket(admin, "P007")["decision"]["trace"]["anomalies"] == []

        counts = admin.get("/api/v1/anomalies/counts", params={"period": "week"}).json()
        assert counts["detected"] == 1 and counts["resolved"] == 1
        assert counts["items"][0]["start"] <= datetime.now(UTC).date().isoformat()
        open_now = admin.get("/api/v1/anomalies", params={"status": ["open", "acknowledged"]})
        assert open_now.json() == []


def test_a_batch_sent_again_is_stored_once(scanning: Server) -> None:
    """A network retrying its webhook must not turn every lead into a duplicate."""
    with scanning.client("admin") as admin, scanning.client("integration") as feed:
        seed_catalog(admin)
        rows = lead_rows("P008", "C-XMAS", 40, 12, T0)
        for i, row in enumerate(rows):
            row["event_id"] = f"net-{i}"
        first = feed.post("/api/v1/events/bulk", json=rows[:30] + rows[:5])  # 5 twice in one
        assert first.status_code == 200, first.text
        assert (first.json()["events"], first.json()["repeats"]) == (30, 5)
        retried = feed.post("/api/v1/events/bulk", json=rows)  # the whole batch, after a timeout
        assert (retried.json()["events"], retried.json()["repeats"]) == (10, 30)

        found = wait_for(admin, {"kind": "duplicate_leads", "partner_id": "P008"}, 1)
        deadline = time.monotonic() + 15
        while found[0]["evidence"]["leads"] != 40 and time.monotonic() < deadline:
            time.sleep(0.1)
            found = wait_for(admin, {"kind": "duplicate_leads", "partner_id": "P008"}, 1)
        # The 12 people who really came twice, out of 40 leads: not 30 more "duplicates".
        evidence = found[0]["evidence"]
        assert (evidence["leads"], evidence["duplicates"]) == (40, 12)


def test_daily_counts_that_disagree_become_a_mismatch(scanning: Server) -> None:
    with scanning.client("admin") as admin:
        seed_catalog(admin)
        lines = ["day,partner_id,campaign_id,network_conversions,advertiser_conversions"]
        lines += [f"2026-03-0{d},P004,C-XMAS,{100 + (40 if d == 3 else 0)},100" for d in (2, 3, 4)]
        lines += ["2026-03-05,P-NEW,,10,10"]
        sent = admin.post(
            "/api/v1/events/bulk",
            content="\n".join(lines) + "\n",
            headers={"content-type": "text/csv"},
        )
        assert sent.status_code == 200, sent.text
        assert sent.json() == {
            "events": 0, "repeats": 0, "daily_counts": 4, "unknown_partners": {"P-NEW": 1}
        }  # fmt: skip
        found = wait_for(admin, {"kind": "conversion_mismatch"}, 1)
        assert [a["partner_id"] for a in found] == ["P004"]
        worst = found[0]["evidence"]["worst_days"][0]
        assert worst == {"day": "2026-03-03", "network": 140, "advertiser": 100}


def test_malformed_event_rows_are_named_and_nothing_is_stored(server: Server) -> None:
    with server.client("integration") as feed:
        csv_body = (
            "event,at,partner_id,value\n"
            "click,2026-03-02T10:00:00+05:30,P001,\n"
            "klick,2026-03-02T10:00:00Z,P001,\n"
            "conversion,not a time,P001,abc\n"
            "lead,2026-03-02 10:00:00,,\n"
        )
        response = feed.post(
            "/api/v1/events/bulk", content=csv_body, headers={"content-type": "text/csv"}
        )
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["message"] == "3 malformed row(s); nothing was stored"
        assert [(d["row"], d["field"]) for d in error["details"]] == [
            (3, "event"),
            (4, "at"),
            (4, "value"),
            (5, "partner_id"),
        ]
        missing = feed.post("/api/v1/events/bulk", json=[{"event": "click", "partner": "P1"}])
        assert missing.status_code == 422
        assert "partner_id" in missing.json()["error"]["message"]


def test_roles(server: Server) -> None:
    with server.client("agent") as agent, server.client("integration") as feed:
        assert agent.get("/api/v1/anomalies").status_code == 403
        assert agent.post("/api/v1/events/bulk", json=[]).status_code == 403
        assert feed.get("/api/v1/anomalies").status_code == 200
        assert feed.post("/api/v1/anomalies/AN-x/resolve").status_code == 403
    with server.client("analyst") as analyst:
        missing = analyst.post("/api/v1/anomalies/AN-nope/acknowledge")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_ok: bool
) -> Iterator[str]:
    yield from _fresh_database(request.param, tmp_path_factory, pg_ok)


def test_the_scan_reads_only_what_arrived_and_holds_what_a_full_read_finds(database: str) -> None:
    uow = UnitOfWork(session_factory(make_engine(database)))
    lookback = timedelta(days=56)

    def send(rows: list[dict[str, Any]], ingested: datetime) -> None:
        parsed = read_frame(pl.DataFrame(rows), source="test")
        assert not parsed.malformed
        uow.run(
            lambda s: anomalies.store_events(
                session=s, events=parsed.events, counts=parsed.counts, now=ingested
            )
        )

    def read(window: anomalies.EventWindow | None, now: datetime) -> list[tuple[Any, ...]]:
        events, _ = uow.run(lambda s: anomalies.load_window(s, lookback, window, now))
        return sorted(events.select("line", "at", "partner_id", "contact_hash").iter_rows())

    window, clock = anomalies.EventWindow(), T0 + timedelta(days=1)
    send(lead_rows("P1", "C1", 30, 5, T0), clock)
    assert read(window, clock) == read(None, clock) and len(read(None, clock)) == 30
    clock += timedelta(minutes=1)
    send(lead_rows("P2", "C1", 20, 0, T0 + timedelta(days=2)), clock)
    # A batch whose transaction took its clock reading before the last read, committed after.
    send(lead_rows("P3", "C1", 4, 0, T0), clock - timedelta(minutes=3))
    clock += timedelta(minutes=1)
    assert read(window, clock) == read(None, clock) and len(read(None, clock)) == 54
    # The newest event moves 57 days on: the batches of day 0 leave the 56-day window.
    clock += timedelta(minutes=1)
    send(lead_rows("P4", "C1", 10, 0, T0 + timedelta(days=57)), clock)
    clock += timedelta(minutes=1)
    assert read(window, clock) == read(None, clock)
    assert {row[2] for row in read(None, clock)} == {"P2", "P4"}

    # Proof that held events were not read again: a row removed behind the scan's back
    # stays in the window until its hourly full read.
    uow.run(
        lambda s: s.execute(
            delete(AttributionEventRow).where(AttributionEventRow.partner_id == "P2")
        )
    )
    clock += timedelta(minutes=1)
    assert {row[2] for row in read(window, clock)} == {"P2", "P4"}
    clock += window.reload_every
    assert {row[2] for row in read(window, clock)} == {"P4"}


def test_an_anomaly_no_scan_finds_again_is_resolved_by_the_service(
    database: str, tmp_path: Path
) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["anomalies"] = {"resolve_after": 0.02}  # minutes: 1.2 s unseen
    config = tmp_path / "resolving.yaml"
    config.write_text(yaml.safe_dump(data))
    for server in run_server(database, config, anomaly_scan_seconds=0.2):
        with server.client("admin") as admin:
            seed_catalog(admin)
            sent = admin.post("/api/v1/events/bulk", json=lead_rows("P009", "C-XMAS", 40, 12, T0))
            assert sent.status_code == 200, sent.text
            [found] = wait_for(admin, {"kind": "duplicate_leads", "partner_id": "P009"}, 1)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                anomaly = admin.get(f"/api/v1/anomalies/{found['id']}").json()
                if anomaly["status"] == "resolved":
                    break
                time.sleep(0.1)
            assert anomaly["status"] == "resolved" and anomaly["resolved_by"] == "scan"
            assert ticket(admin, "P009")["decision"]["trace"]["anomalies"] == []
