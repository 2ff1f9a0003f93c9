"""The tuner on stored history: outcomes read back from the database, proposals reviewed."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import httpx
import pytest

from affroute.config import FACTORS
from affroute.domain import Urgency
from affroute.service import configs, tuning
from affroute.service.runtime import RoutingCache
from affroute.service.uow import UnitOfWork
from affroute.store.db import make_engine, session_factory
from affroute.store.models import TuningProposalRow
from tests.api.conftest import Server, seed_catalog


def status(admin: httpx.Client, ticket_id: str, to: str) -> None:
    response = admin.post(f"/api/v1/tickets/{ticket_id}/status", json={"status": to})
    assert response.status_code == 200, response.text


def create(admin: httpx.Client, **fields: str) -> dict[str, object]:
    body = {"subject": "Payout late", "body": "where is it"} | fields
    response = admin.post("/api/v1/tickets", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_outcomes_are_read_back_from_the_database(server: Server) -> None:
    with server.client("admin") as admin, server.client("integration") as tool:
        seed_catalog(admin)
        happy = create(admin, partner_id="P003", deal_id="D-BIG")
        admin.post(f"/api/v1/tickets/{happy['id']}/replies", json={"author": "agent"})
        status(admin, str(happy["id"]), "solved")
        reply = {"ticket_id": happy["id"], "csat": 5, "nps": 9}
        assert tool.post("/api/v1/surveys/responses", json=reply).status_code == 201
        moved = create(admin, partner_id="P006", category="payout")
        target = "compliance" if moved["team"] != "compliance" else "finance"
        assert (
            admin.post(
                f"/api/v1/tickets/{moved['id']}/reassign", json={"team": target, "reason": "wrong"}
            ).status_code
            == 200
        )
        status(admin, str(moved["id"]), "solved")
        status(admin, str(moved["id"]), "open")
        status(admin, str(moved["id"]), "solved")
        create(admin, partner_id="P007")  # still open: no outcome yet

    uow = UnitOfWork(session_factory(make_engine(server.database_url)))
    cache = RoutingCache()
    outcomes = {
        o.ticket_id: o
        for o in uow.run(lambda s: tuning.stored_outcomes(session=s, routing=cache.current(s)))
    }
    assert set(outcomes) == {happy["id"], moved["id"]}
    first = outcomes[str(happy["id"])]
    assert (first.csat, first.nps, first.reassigned, first.reopened) == (5, 9, False, False)
    assert first.team == happy["team"] and first.priority.value == happy["priority"]
    assert first.deal_value == 80_000 and first.first_response_hours is not None
    assert first.factors == tuple(
        happy["decision"]["trace"]["factors"][name]["normalised"]  # type: ignore[index]
        for name in FACTORS
    )
    assert first.urgency in tuple(Urgency)
    second = outcomes[str(moved["id"])]
    assert second.reassigned and second.reopened and second.csat is None
    assert second.team == moved["team"]  # the first decision, not where it ended up
    # Too little evidence to propose anything: nothing is stored.
    now = datetime.now(UTC)
    assert uow.run(lambda s: tuning.propose(session=s, routing=cache.current(s), now=now)) is None
    with server.client("analyst") as analyst:
        ran = analyst.post("/api/v1/tuning/run")
        assert ran.status_code == 200 and ran.json()["proposal"] is None


def _stored_proposal(server: Server, weight: str) -> str:
    """A proposal as the tuner stores it: the active config with other weights."""
    uow = UnitOfWork(session_factory(make_engine(server.database_url)))

    def work(session: object) -> str:
        active = configs.get_active(session=session)  # type: ignore[arg-type]
        proposed = active.yaml.replace("deal_value: 0.40", f"deal_value: {weight}", 1)
        assert proposed != active.yaml
        row = TuningProposalRow(
            id=f"prop{weight.replace('.', '')}",
            created_at=datetime.now(UTC),
            base_version=active.version,
            proposed_yaml=proposed,
            proposed_hash=weight,
            report={"text": "weights from outcomes"},
            status=tuning.ProposalStatus.OPEN,
        )
        session.add(row)  # type: ignore[attr-defined]
        return row.id

    return uow.run(work)  # type: ignore[arg-type]


def test_proposals_wait_for_an_admin_and_go_stale(server: Server) -> None:
    first = _stored_proposal(server, "0.55")
    second = _stored_proposal(server, "0.60")
    with server.client("admin") as admin, server.client("analyst") as analyst:
        listed = analyst.get("/api/v1/tuning/proposals", params={"status": "open"}).json()
        assert {p["id"] for p in listed} == {first, second}
        assert analyst.post(f"/api/v1/tuning/proposals/{first}/accept").status_code == 403
        before = admin.get("/api/v1/config").json()["version"]
        accepted = admin.post(f"/api/v1/tuning/proposals/{first}/accept")
        assert accepted.status_code == 200, accepted.text
        after = admin.get("/api/v1/config").json()
        assert after["version"] != before and accepted.json()["applied_version"] == after["version"]
        assert "deal_value: 0.55" in after["yaml"]
        # The other was made from the old config: accepting it now would undo the first.
        stale = admin.post(f"/api/v1/tuning/proposals/{second}/accept")
        assert stale.status_code == 409 and "run the tuner again" in stale.text
        dismissed = admin.post(f"/api/v1/tuning/proposals/{second}/dismiss")
        assert dismissed.json()["status"] == "dismissed"
        again = admin.post(f"/api/v1/tuning/proposals/{second}/dismiss")
        assert again.status_code == 409


@pytest.mark.parametrize("apply", [False, True])
def test_tune_from_the_database_on_the_command_line(server: Server, apply: bool) -> None:
    with server.client("admin") as admin:
        seed_catalog(admin)
        ticket = create(admin, partner_id="P005")
        status(admin, str(ticket["id"]), "solved")
    command = [sys.executable, "-m", "affroute", "tune", "--from-db", "--days", "30"]
    command += ["--database-url", server.database_url, "--bootstrap", "0"]
    done = subprocess.run(
        command + (["--apply"] if apply else []),
        check=False, capture_output=True, text=True, timeout=120,
        env={"COLUMNS": "200", "PATH": ""},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1 tickets, 0 CSAT answers" in done.stdout
    assert "No change proposed." in done.stdout
    if apply:
        assert "nothing to apply" in done.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "affroute", "tune", "--apply", "--config", "x.yaml"],
        check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 2 and "--apply works with --from-db" in refused.stderr


def test_proposals_on_the_dashboard(server: Server) -> None:
    from affroute.service.keys import Role
    from tests.api.test_dashboard import add_user, page_csrf, signed_in

    proposal = _stored_proposal(server, "0.45")
    add_user(server, "lead", Role.ADMIN)
    add_user(server, "ana", Role.ANALYST)
    with signed_in(server, "ana") as analyst:
        page = analyst.get("/tuning")
        assert f'data-proposal="{proposal}"' in page.text and "Accept and activate" not in page.text
        refused = analyst.post(f"/tuning/{proposal}/accept", data={"csrf": page_csrf(page.text)})
        assert refused.status_code == 403
    with signed_in(server, "lead") as lead:
        page = lead.get("/tuning")
        accepted = lead.post(f"/tuning/{proposal}/accept", data={"csrf": page_csrf(page.text)})
        assert accepted.status_code == 200 and "Activated as version" in accepted.text
        assert 'data-status="accepted"' in accepted.text
