"""The metrics API over real HTTP on SQLite and PostgreSQL: JSON, CSV, roles, Prometheus."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import (
    Server,
    _fresh_database,
    refresh_facts,
    run_server,
    seed_catalog,
)

PAYOUT = {"subject": "Payout missing", "body": "my payout is late", "category": "payout"}


def three_tickets_one_moved(admin: httpx.Client) -> list[dict[str, object]]:
    seed_catalog(admin)
    created = [admin.post("/api/v1/tickets", json=PAYOUT).json() for _ in range(3)]
    moved = admin.post(
        f"/api/v1/tickets/{created[0]['id']}/reassign",
        json={"team": "general_support", "reason": "not a payout question"},
    )
    assert moved.status_code == 200, moved.text
    solved = admin.post(f"/api/v1/tickets/{created[1]['id']}/status", json={"status": "solved"})
    assert solved.status_code == 200, solved.text
    return created


def test_misroutes_as_json_and_csv(server: Server, admin: httpx.Client) -> None:
    three_tickets_one_moved(admin)
    refresh_facts(server)
    with server.client("analyst") as analyst:
        rows = analyst.get("/api/v1/metrics/misroutes").json()
        source = "rule:commission disputes and payouts to finance"
        mine = next(r for r in rows if r["decided_by"] == source)
        assert (mine["tickets"], mine["misrouted"]) == (3, 1)
        assert mine["misroute_rate"] == pytest.approx(1 / 3)
        as_csv = analyst.get("/api/v1/metrics/misroutes", params={"format": "csv"})
        assert as_csv.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert [r["decided_by"] for r in table] == [r["decided_by"] for r in rows]
        assert table[-1]["tickets"] == "3"
        accepted = analyst.get("/api/v1/metrics/misroutes", headers={"Accept": "text/csv"})
        assert accepted.text == as_csv.text


def test_every_metric_answers_and_filters_apply(server: Server, admin: httpx.Client) -> None:
    three_tickets_one_moved(admin)
    refresh_facts(server)
    paths = [
        "resolution", "config-changes", "satisfaction/engagement", "satisfaction/trend",
        "misroutes", "attribution", "correlation", "sla", "models", "operational/queues",
        "operational/agents", "operational/waiting", "operational/at-risk",
    ]  # fmt: skip
    for path in paths:
        for fmt in ("json", "csv"):
            response = admin.get(f"/api/v1/metrics/{path}", params={"format": fmt})
            assert response.status_code == 200, (path, response.text)
    resolution = admin.get("/api/v1/metrics/resolution").json()
    assert sum(r["tickets"] for r in resolution) == 3
    assert sum(r["resolved"] for r in resolution) == 1
    other_team = admin.get("/api/v1/metrics/sla", params={"team": "general_support"}).json()
    assert {r["key"]: r["tickets"] for r in other_team if r["axis"] == "team"} == {
        "general_support": 1
    }
    bad = admin.get("/api/v1/metrics/resolution", params={"segments": "ten"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"] == {"field": "segments"}
    unknown = admin.get("/api/v1/metrics/resolution", params={"around": "nope"})
    assert unknown.status_code == 404


def test_metrics_are_for_analysts_and_admins(server: Server) -> None:
    for role, status in (("agent", 403), ("integration", 403), ("analyst", 200), ("none", 401)):
        with server.client(role) as client:
            assert client.get("/api/v1/metrics/sla").status_code == status, role
            assert client.get("/metrics").status_code == status, role


def test_openapi_documents_the_csv_exports(admin: httpx.Client) -> None:
    spec = admin.get("/openapi.json").json()
    answer = spec["paths"]["/api/v1/metrics/misroutes"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv"} <= set(answer)


def test_prometheus_scrape_parses_and_counts(server: Server, admin: httpx.Client) -> None:
    three_tickets_one_moved(admin)
    refresh_facts(server)
    body = admin.get("/metrics")
    assert body.status_code == 200
    assert body.headers["content-type"].startswith("text/plain")
    found = {f.name: f for f in text_string_to_metric_families(body.text)}
    ingested = sum(s.value for s in found["affroute_tickets_ingested"].samples
                   if s.name.endswith("_total"))  # fmt: skip
    assert ingested == 3
    assert found["affroute_tickets_ingested"].type == "counter"
    resolved = {s.labels["team"]: s.value for s in found["affroute_tickets_resolved"].samples
                if s.name.endswith("_total")}  # fmt: skip
    assert sum(resolved.values()) == 1
    latency = found["affroute_assignment_latency_seconds"]
    assert latency.type == "histogram"
    count = next(s.value for s in latency.samples if s.name.endswith("_count"))
    assert count == 3  # each was assigned on arrival
    assert next(s.value for s in found["affroute_analytics_lag_events"].samples) == 0


@pytest.fixture
def token_server(tmp_path_factory: pytest.TempPathFactory, pg_ok: bool) -> Iterator[Server]:
    for url in _fresh_database("sqlite", tmp_path_factory, pg_ok):
        yield from run_server(url, metrics_token="scrape-secret")


def test_a_scrape_token_opens_metrics_only(token_server: Server) -> None:
    with httpx.Client(base_url=token_server.url) as prometheus:
        bearer = {"Authorization": "Bearer scrape-secret"}
        assert prometheus.get("/metrics", headers=bearer).status_code == 200
        wrong = {"Authorization": "Bearer guess"}
        assert prometheus.get("/metrics", headers=wrong).status_code == 401
        assert prometheus.get("/api/v1/metrics/sla", headers=bearer).status_code == 401
