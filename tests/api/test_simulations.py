"""POST /api/v1/simulations over real HTTP on both databases: the comparison table, who may
run it, and the size caps refused with 422 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import yaml

from tests.api.conftest import Server, seed_catalog
from tests.api.test_tickets import ticket
from tests.conftest import EXAMPLE

SMALL = {"tickets": 150, "days": 2, "seeds": 2}


def candidate() -> dict[str, str]:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["default_team"] = "emea_support"
    return {"name": "emea_default", "yaml": yaml.safe_dump(data)}


def refused(client: httpx.Client, body: dict[str, Any]) -> str:
    """The message of a 422, which names the offending field."""
    response = client.post("/api/v1/simulations", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    return f"{error['message']} {error['details']}"


def test_an_analyst_compares_the_active_config_with_a_candidate_and_baselines(
    server: Server,
) -> None:
    body = {**SMALL, "candidates": [candidate()], "baselines": True}
    with server.client("analyst") as analyst:
        response = analyst.post("/api/v1/simulations", json=body)
        assert response.status_code == 200, response.text
        again = analyst.post("/api/v1/simulations", json=body).json()
    table = response.json()
    assert table == again  # same seed, same figures
    names = [p["name"] for p in table["policies"]]
    assert names == ["active", "emea_default", "fifo", "round_robin", "least_loaded"]
    assert table["arrivals"] > 0 and table["seeds"] == 2 and table["agents"] > 0
    for policy in table["policies"]:
        assert set(policy["metrics"]) == set(table["metrics"])
        solved = policy["metrics"]["solved_share"]
        assert 0 < solved["mean"] <= 1 and solved["seeds"] == 2 and solved["ci95"] is not None
    with server.client("agent") as agent, server.client("integration") as tool:
        assert agent.post("/api/v1/simulations", json=SMALL).status_code == 403
        assert tool.post("/api/v1/simulations", json=SMALL).status_code == 403


def test_stored_tickets_of_a_period_are_replayed(server: Server) -> None:
    before = datetime.now(UTC) - timedelta(minutes=1)
    with server.client("admin") as admin:
        seed_catalog(admin)
        for k in range(6):
            created = admin.post("/api/v1/tickets", json=ticket(category="payout", subject=f"#{k}"))
            assert created.status_code == 201, created.text
        body = {"arrivals": "stored", "since": before.isoformat(), "seeds": 1}
        response = admin.post("/api/v1/simulations", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["arrivals"] == 6
        empty = {**body, "until": (before + timedelta(seconds=1)).isoformat()}
        assert "since" in refused(admin, empty)


def test_oversized_or_malformed_requests_are_refused_naming_the_field(server: Server) -> None:
    with server.client("admin") as admin:
        assert "days" in refused(admin, {**SMALL, "days": 400})
        assert "seeds" in refused(admin, {**SMALL, "seeds": 11})
        assert "tickets" in refused(admin, {**SMALL, "tickets": 10**6})
        assert "candidates" in refused(admin, {**SMALL, "candidates": [candidate()] * 4})
        over = {"tickets": 10_000, "seeds": 10, "baselines": True}  # 500,000 simulated tickets
        assert "tickets" in refused(admin, over)
        assert "since" in refused(admin, {"arrivals": "stored"})
        broken = {"name": "broken", "yaml": "teams: [}"}
        assert "candidates[0]" in refused(admin, {**SMALL, "candidates": [broken]})
        taken = {**candidate(), "name": "fifo"}
        assert "candidates[0].name" in refused(admin, {**SMALL, "candidates": [taken]})


def test_the_dashboard_runs_the_same_comparison(server: Server) -> None:
    from affroute.service.keys import Role
    from tests.api.test_dashboard import add_user, page_csrf, signed_in

    spec = {"tickets": 300, "days": 2, "seeds": 2, "baselines": True, "seed": 0}
    with server.client("analyst") as analyst:
        api = analyst.post("/api/v1/simulations", json=spec)
        assert api.status_code == 200, api.text
    add_user(server, "planner", Role.ANALYST)
    with signed_in(server, "planner") as browser:
        page = browser.get("/simulate").text
        form = {"csrf": page_csrf(page), "arrivals": "generated", "tickets": "300"}
        form |= {"days": "2", "seeds": "2", "baselines": "1"}
        shown = browser.post("/simulate", data=form)
        assert shown.status_code == 200, shown.text
        bad = browser.post("/simulate", data=form | {"candidate": "teams: ["})
        assert bad.status_code == 422 and 'role="alert"' in bad.text
    policies = api.json()["policies"]
    for policy in policies:
        assert f'data-policy="{policy["name"]}"' in shown.text
    # The page's figures are the API's, rounded as the table prints them.
    active = next(p for p in policies if p["name"] == "active")
    solved = active["metrics"]["solved_share"]
    row = shown.text.split('data-metric="solved_share"', 1)[1].split("</tr>", 1)[0]
    assert f"{solved['mean']:.3g} ± {solved['ci95']:.2g}" in row
