"""Tickets over real HTTP on SQLite and PostgreSQL: ingest, read, lifecycle, reassignment."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx

from tests.api.conftest import Server, seed_catalog


def ticket(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": "Where is my payout?",
        "body": "March commissions missing",
        "partner_id": "P005",
    }
    body.update(fields)
    return body


def test_ingest_routes_assigns_and_explains(admin: httpx.Client) -> None:
    seed_catalog(admin)
    response = admin.post("/api/v1/tickets", json=ticket(category="payout"))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["team"] == "finance"
    assert created["agent_id"].startswith("fi-")
    assert created["status"] == "new" and created["replayed"] is False
    trace = created["decision"]["trace"]
    assert trace["rules_matched"][-1]["name"] == "commission disputes and payouts to finance"
    assert set(trace["factors"]) == {
        "deal_value",
        "engagement",
        "lead_volume",
        "urgency",
        "attribution_anomaly",
    }
    detail = admin.get(f"/api/v1/tickets/{created['id']}").json()
    assert [e["kind"] for e in detail["events"]] == ["created", "routed", "assigned"]
    assert detail["decisions"][0]["config_version"] == trace["config_version"]


def test_high_value_deal_goes_to_senior_support(admin: httpx.Client) -> None:
    seed_catalog(admin)
    created = admin.post("/api/v1/tickets", json=ticket(partner_id="P003", deal_id="D-BIG")).json()
    assert created["team"] == "senior_support"
    assert created["priority"] in ("p1", "p2")


def test_unknown_partner_is_accepted_and_flagged(admin: httpx.Client) -> None:
    created = admin.post("/api/v1/tickets", json=ticket(partner_id="NOBODY")).json()
    assert "partner_unknown" in created["decision"]["trace"]["flags"]
    assert created["team"] == "general_support"


def test_bad_input_names_the_field(admin: httpx.Client) -> None:
    cases = [
        (ticket(subject=""), "subject"),
        (ticket(urgency="whenever"), "urgency"),
        (ticket(tags="vip"), "tags"),
        (ticket(team="finance"), "team"),  # routing fields belong to the router
        (ticket(created_at="2026-01-01T10:00:00"), "created_at"),  # no time zone
        ({"body": "no subject"}, "subject"),
    ]
    for body, field in cases:
        response = admin.post("/api/v1/tickets", json=body)
        assert response.status_code == 422, (body, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_input"
        assert field in {d["field"] for d in error["details"]}, error
    malformed = admin.post(
        "/api/v1/tickets", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "invalid_input"


def test_oversized_bodies_are_refused(admin: httpx.Client) -> None:
    response = admin.post("/api/v1/tickets", json=ticket(body="x" * (1024 * 1024 + 10)))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_keys_are_required_and_checked(server: Server) -> None:
    with server.client("nobody") as anonymous:
        assert anonymous.get("/api/v1/tickets").status_code == 401
        bad = anonymous.get("/api/v1/tickets", headers={"X-API-Key": "afr_x_y"})
        assert bad.status_code == 401
        assert bad.json()["error"]["code"] == "unauthorized"
        assert anonymous.get("/health").json() == {
            "status": "ok",
            "database": None,
            "config_version": None,
        }
        assert anonymous.get("/ready").json()["status"] == "ready"


def test_idempotency_key_returns_the_first_response(admin: httpx.Client) -> None:
    headers = {"Idempotency-Key": "abc-123"}
    first = admin.post("/api/v1/tickets", json=ticket(), headers=headers)
    again = admin.post("/api/v1/tickets", json=ticket(), headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["replayed"] is True
    different = admin.post("/api/v1/tickets", json=ticket(subject="Other"), headers=headers)
    assert different.status_code == 422
    assert "Idempotency-Key" in different.json()["error"]["message"]


def test_external_id_is_unique(admin: httpx.Client) -> None:
    first = admin.post("/api/v1/tickets", json=ticket(external_id="zd-991")).json()
    again = admin.post("/api/v1/tickets", json=ticket(external_id="zd-991"))
    assert again.status_code == 200 and again.json()["id"] == first["id"]


def test_list_filters_and_cursor_pagination(admin: httpx.Client) -> None:
    ids = [
        admin.post("/api/v1/tickets", json=ticket(category="payout", external_id=f"pg-{i}")).json()[
            "id"
        ]
        for i in range(7)
    ]
    admin.post("/api/v1/tickets", json=ticket(category="compliance"))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"team": "finance", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = admin.get("/api/v1/tickets", params=params).json()
        seen += [t["id"] for t in page["items"]]
        assert all(t["team"] == "finance" for t in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    assert seen == sorted(seen, reverse=True)  # newest first
    huge = admin.get("/api/v1/tickets", params={"limit": 100000})
    assert huge.status_code == 200 and len(huge.json()["items"]) <= 500
    assert admin.get("/api/v1/tickets", params={"cursor": "garbage"}).status_code == 422


def test_solving_frees_capacity_and_the_queue_is_pulled(admin: httpx.Client) -> None:
    for agent in ("fi-01", "fi-02", "fi-03"):
        assert (
            admin.put(f"/api/v1/agents/{agent}/presence", json={"status": "offline"}).status_code
            == 200
        )
    assert admin.put("/api/v1/agents/fi-04/capacity", json={"capacity": 1}).status_code == 200
    first = admin.post("/api/v1/tickets", json=ticket(category="payout")).json()
    waiting = admin.post("/api/v1/tickets", json=ticket(category="payout", urgency="urgent")).json()
    assert first["agent_id"] == "fi-04"
    assert waiting["queued"] and waiting["agent_id"] is None
    queue = admin.get("/api/v1/teams/finance/queue").json()
    assert [t["id"] for t in queue["items"]] == [waiting["id"]]
    solved = admin.post(f"/api/v1/tickets/{first['id']}/status", json={"status": "solved"})
    assert solved.status_code == 200
    pulled = admin.get(f"/api/v1/tickets/{waiting['id']}").json()
    assert pulled["agent_id"] == "fi-04" and not pulled["queued"]
    assert admin.get("/api/v1/agents/fi-04").json()["load"] == 1


def test_coming_online_pulls_in_priority_order(admin: httpx.Client) -> None:
    for agent in ("fi-01", "fi-02", "fi-03", "fi-04"):
        admin.put(f"/api/v1/agents/{agent}/presence", json={"status": "offline"})
    low = admin.post("/api/v1/tickets", json=ticket(category="payout", urgency="low")).json()
    high = admin.post("/api/v1/tickets", json=ticket(category="payout", urgency="urgent")).json()
    assert low["queued"] and high["queued"]
    admin.put("/api/v1/agents/fi-02/capacity", json={"capacity": 1})
    change = admin.put("/api/v1/agents/fi-02/presence", json={"status": "online"}).json()
    assert change["pulled"] == [high["id"]]
    assert change["agent"]["load"] == 1


def test_closed_is_final(admin: httpx.Client) -> None:
    created = admin.post("/api/v1/tickets", json=ticket()).json()
    assert (
        admin.post(f"/api/v1/tickets/{created['id']}/status", json={"status": "closed"}).status_code
        == 200
    )
    again = admin.post(f"/api/v1/tickets/{created['id']}/status", json={"status": "open"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert admin.get("/api/v1/agents/" + created["agent_id"]).json()["load"] == 0


def test_reassignment_records_what_made_the_first_choice(admin: httpx.Client) -> None:
    created = admin.post("/api/v1/tickets", json=ticket(category="payout")).json()
    moved = admin.post(
        f"/api/v1/tickets/{created['id']}/reassign",
        json={"team": "compliance", "reason": "a disclosure question"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["team"] == "compliance"
    assert moved.json()["team_source"].startswith("person:")
    events = admin.get(f"/api/v1/tickets/{created['id']}").json()["events"]
    reassigned = next(e for e in events if e["kind"] == "reassigned")
    assert reassigned["data"]["overturned"] == "rule:commission disputes and payouts to finance"
    assert reassigned["data"]["misroute"] is True
    assert reassigned["data"]["from_agent"] == created["agent_id"]
    assert admin.get(f"/api/v1/agents/{created['agent_id']}").json()["load"] == 0


def test_reassign_to_a_full_agent_is_refused(admin: httpx.Client) -> None:
    admin.put("/api/v1/agents/co-01/capacity", json={"capacity": 0})
    created = admin.post("/api/v1/tickets", json=ticket(category="payout")).json()
    refused = admin.post(
        f"/api/v1/tickets/{created['id']}/reassign",
        json={"agent_id": "co-01", "reason": "compliance expert"},
    )
    assert refused.status_code == 409
    still = admin.get(f"/api/v1/tickets/{created['id']}").json()
    assert still["agent_id"] == created["agent_id"]  # nothing half-done


def test_reopen_with_an_offline_agent_goes_back_to_the_team(admin: httpx.Client) -> None:
    created = admin.post("/api/v1/tickets", json=ticket(category="payout")).json()
    admin.post(f"/api/v1/tickets/{created['id']}/status", json={"status": "solved"})
    admin.put(f"/api/v1/agents/{created['agent_id']}/presence", json={"status": "offline"})
    reopened = admin.post(f"/api/v1/tickets/{created['id']}/status", json={"status": "open"}).json()
    assert reopened["agent_id"] != created["agent_id"]
    assert reopened["agent_id"] is None or reopened["agent_id"].startswith("fi-")


def test_a_revoked_key_is_refused(server: Server) -> None:
    from affroute.service.keys import Role

    key = server.new_key(Role.ANALYST)
    key_id = key.split("_")[1]
    command = [
        sys.executable,
        "-m",
        "affroute",
        "keys",
        "revoke",
        key_id,
        "--database-url",
        server.database_url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    response = httpx.get(f"{server.url}/api/v1/tickets", headers={"X-API-Key": key})
    assert response.status_code == 401
    unknown = subprocess.run(
        [*command[:5], "nope", *command[6:]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unknown.returncode == 1 and "no key with id" in unknown.stderr
