"""Catalog (partners, deals, campaigns, anomalies) and configuration over real HTTP, both databases.

What a program manager does: load the catalog one row or a file at a time, page through it,
see a bad file refused whole, replace the routing configuration, and try a candidate first.
"""

from __future__ import annotations

import copy
from typing import Any

import httpx
import yaml

from tests.api.conftest import seed_catalog
from tests.api.test_tickets import ticket
from tests.conftest import EXAMPLE

# One valid row per kind, and what the API adds for the fields left out.
ROWS: dict[str, dict[str, Any]] = {
    "partners": {"id": "X-1", "name": "Acme Deals", "tier": "gold", "click_through_rate": 0.04},
    "deals": {"id": "X-1", "partner_id": "P005", "value": 12_500},
    "campaigns": {"id": "X-1", "channel": "email", "promotion_type": "seasonal"},
    "anomalies": {"id": "X-1", "kind": "click_spike", "partner_id": "P-NONE"},
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "partners": {
        "region": "",
        "weekly_active_leads": 0.0,
        "portal_logins": 0.0,
        "lead_volume": 0.0,
        "account_manager": None,
    },
    "deals": {},
    "campaigns": {"name": "X-1", "region": ""},  # the name defaults to the id
    "anomalies": {
        "campaign_id": None,
        "severity": 1.0,
        "status": "open",
        "summary": "",  # an uploaded anomaly: no scan wrote a summary or evidence
        "evidence": {},
        "last_seen_at": None,
        "acknowledged_at": None,
        "resolved_at": None,
        "resolved_by": None,
    },
}
UPDATES: dict[str, dict[str, Any]] = {
    "partners": {"name": "Acme Renamed"},
    "deals": {"value": 13_000},
    "campaigns": {"name": "Spring Sale"},
    "anomalies": {"severity": 0.4, "status": "acknowledged"},
}


def row(kind: str, item_id: str, **fields: Any) -> dict[str, Any]:
    return {**ROWS[kind], "id": item_id, **fields}


def stored(item: dict[str, Any]) -> dict[str, Any]:
    """A row as read back, without the server's timestamps."""
    return {k: v for k, v in item.items() if k not in ("updated_at", "detected_at")}


def named_fields(response: httpx.Response) -> set[str]:
    details = response.json()["error"]["details"]
    return {d["field"] for d in (details if isinstance(details, list) else [details])}


def ids_of(client: httpx.Client, kind: str) -> list[str]:
    return [item["id"] for item in client.get(f"/api/v1/{kind}", params={"limit": 500}).json()]


# -- one row at a time -----------------------------------------------------------------------


def test_put_one_then_read_it_back(admin: httpx.Client) -> None:
    for kind, body in ROWS.items():
        put = admin.put(f"/api/v1/{kind}/X-1", json=body)
        assert put.status_code == 200, (kind, put.text)
        assert stored(put.json()) == {**body, **DEFAULTS[kind]}
        assert stored(admin.get(f"/api/v1/{kind}/X-1").json()) == stored(put.json())

        changed = {**body, **UPDATES[kind]}
        again = admin.put(f"/api/v1/{kind}/X-1", json=changed)
        assert again.status_code == 200
        assert stored(admin.get(f"/api/v1/{kind}/X-1").json()) == {**DEFAULTS[kind], **changed}
        assert ids_of(admin, kind) == ["X-1"]  # an update, not a second row


def test_put_with_a_different_id_in_the_body_is_refused(admin: httpx.Client) -> None:
    for kind in ROWS:
        response = admin.put(f"/api/v1/{kind}/X-PATH", json=row(kind, "X-BODY"))
        assert response.status_code == 422, (kind, response.text)
        assert named_fields(response) == {"id"}
        assert admin.get(f"/api/v1/{kind}/X-PATH").status_code == 404
        assert admin.get(f"/api/v1/{kind}/X-BODY").status_code == 404


def test_a_missing_row_is_404_with_the_error_shape(admin: httpx.Client) -> None:
    for kind in ROWS:
        response = admin.get(f"/api/v1/{kind}/NOPE")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_a_negative_deal_value_is_refused_naming_value(admin: httpx.Client) -> None:
    put = admin.put("/api/v1/deals/D-NEG", json=row("deals", "D-NEG", value=-1))
    assert put.status_code == 422
    assert named_fields(put) == {"value"}
    bulk = admin.post("/api/v1/deals/bulk", json=[row("deals", "D-NEG", value=-0.01)])
    assert bulk.status_code == 422
    assert [(d["row"], d["field"]) for d in bulk.json()["error"]["details"]] == [(0, "value")]
    assert admin.get("/api/v1/deals/D-NEG").status_code == 404


# -- pages -----------------------------------------------------------------------------------


def test_lists_page_by_id_with_after(admin: httpx.Client) -> None:
    for kind in ROWS:
        ids = [f"K-{i:02d}" for i in range(7)]
        rows = [row(kind, item_id) for item_id in reversed(ids)]  # stored order does not matter
        assert admin.post(f"/api/v1/{kind}/bulk", json=rows).json() == {"upserted": 7}
        pages: list[list[str]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 3} | ({"after": after} if after else {})
            page = [item["id"] for item in admin.get(f"/api/v1/{kind}", params=params).json()]
            if not page:
                break
            pages.append(page)
            after = page[-1]
        assert pages == [ids[0:3], ids[3:6], ids[6:7]], kind
        after_k03 = admin.get(f"/api/v1/{kind}", params={"after": "K-03", "limit": 2}).json()
        assert [item["id"] for item in after_k03] == ["K-04", "K-05"]


# -- bulk ------------------------------------------------------------------------------------


def test_bulk_json_stores_every_row(admin: httpx.Client) -> None:
    for kind in ROWS:
        rows = [row(kind, f"J-{i}") for i in range(3)]
        response = admin.post(f"/api/v1/{kind}/bulk", json=rows)
        assert response.status_code == 200, (kind, response.text)
        assert response.json() == {"upserted": 3}
        assert ids_of(admin, kind) == ["J-0", "J-1", "J-2"]


def test_bulk_csv_has_a_header_row_and_empty_cells_take_the_defaults(
    admin: httpx.Client,
) -> None:
    csv_text = (
        "id,name,tier,region,weekly_active_leads,click_through_rate,account_manager\n"
        "C-1,Acme,gold,EMEA,12.5,0.25,am-02\n"
        "C-2,,,,,,\n"
    )
    response = admin.post(
        "/api/v1/partners/bulk",
        content=csv_text.encode(),
        headers={"content-type": "text/csv; charset=utf-8"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"upserted": 2}
    full = stored(admin.get("/api/v1/partners/C-1").json())
    assert full["tier"] == "gold" and full["weekly_active_leads"] == 12.5
    assert full["click_through_rate"] == 0.25 and full["account_manager"] == "am-02"
    assert stored(admin.get("/api/v1/partners/C-2").json()) == {
        "id": "C-2",
        "name": "C-2",
        "tier": "bronze",
        "region": "",
        "weekly_active_leads": 0.0,
        "click_through_rate": 0.0,
        "portal_logins": 0.0,
        "lead_volume": 0.0,
        "account_manager": None,
    }
    deals = "id,partner_id,value\nC-D1,P005,900\nC-D2,P006,50000\n"
    response = admin.post("/api/v1/deals/bulk", content=deals, headers={"content-type": "text/csv"})
    assert response.json() == {"upserted": 2}
    assert admin.get("/api/v1/deals/C-D2").json()["value"] == 50_000


def test_bulk_csv_reads_every_kind(admin: httpx.Client) -> None:
    for kind, body in ROWS.items():
        text = f"{','.join(body)}\n{','.join(str(value) for value in body.values())}\n"
        response = admin.post(
            f"/api/v1/{kind}/bulk", content=text, headers={"content-type": "text/csv"}
        )
        assert response.json() == {"upserted": 1}, (kind, response.text)
        assert stored(admin.get(f"/api/v1/{kind}/X-1").json()) == {**body, **DEFAULTS[kind]}


def test_a_bulk_with_one_bad_row_names_it_and_stores_nothing(admin: httpx.Client) -> None:
    rows = [row("partners", f"B-{i}") for i in range(5)]
    rows[3]["click_through_rate"] = 1.5
    response = admin.post("/api/v1/partners/bulk", json=rows)
    assert response.status_code == 422
    error = response.json()["error"]
    assert "nothing was stored" in error["message"]
    assert [(d["row"], d["field"]) for d in error["details"]] == [(3, "click_through_rate")]
    assert all(admin.get(f"/api/v1/partners/B-{i}").status_code == 404 for i in range(5))

    # In CSV the row is the line number: the header is line 1.
    csv_text = "id,partner_id,value\nB-D1,P005,10\nB-D2,P005,lots\nB-D3,,-1\n"
    response = admin.post(
        "/api/v1/deals/bulk", content=csv_text, headers={"content-type": "text/csv"}
    )
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert sorted((d["row"], d["field"]) for d in details) == [
        (3, "value"),
        (4, "partner_id"),
        (4, "value"),
    ]
    assert all(admin.get(f"/api/v1/deals/B-D{i}").status_code == 404 for i in (1, 2, 3))


def test_a_bulk_in_an_unknown_content_type_is_refused(admin: httpx.Client) -> None:
    for content_type in ("application/xml", "application/x-www-form-urlencoded", "text/plain"):
        response = admin.post(
            "/api/v1/partners/bulk",
            content=b"id\nU-1\n",
            headers={"content-type": content_type},
        )
        assert response.status_code == 422, content_type
        assert named_fields(response) == {"content-type"}
    assert admin.get("/api/v1/partners/U-1").status_code == 404
    not_a_list = admin.post("/api/v1/partners/bulk", json={"id": "U-1"})
    assert not_a_list.status_code == 422
    assert admin.get("/api/v1/partners/U-1").status_code == 404


def test_a_bulk_naming_an_id_twice_is_refused_naming_the_row(admin: httpx.Client) -> None:
    rows = [row("deals", "D-TWICE", value=100), row("deals", "D-TWICE", value=200)]
    response = admin.post("/api/v1/deals/bulk", json=rows)
    assert response.status_code == 422, response.text
    assert [(d["row"], d["field"]) for d in response.json()["error"]["details"]] == [(1, "id")]
    assert admin.get("/api/v1/deals/D-TWICE").status_code == 404


def test_an_infinite_number_is_refused(admin: httpx.Client) -> None:
    response = admin.put(
        "/api/v1/partners/P-INF",
        content=b'{"id": "P-INF", "weekly_active_leads": 1e309}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert named_fields(response) == {"weekly_active_leads"}


def test_a_csv_with_a_byte_order_mark_is_read(admin: httpx.Client) -> None:
    response = admin.post(
        "/api/v1/partners/bulk",
        content="\ufeffid,name\nBOM-1,Excel Export\n".encode(),
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    assert admin.get("/api/v1/partners/BOM-1").json()["name"] == "Excel Export"


def test_a_csv_row_with_more_cells_than_the_header_is_refused(admin: httpx.Client) -> None:
    response = admin.post(
        "/api/v1/partners/bulk",
        content="id,name\nW-1,Acme,gold\n",
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 422, response.text
    assert [d["row"] for d in response.json()["error"]["details"]] == [2]
    assert admin.get("/api/v1/partners/W-1").status_code == 404


# -- the catalog steers routing --------------------------------------------------------------


def test_an_upserted_anomaly_reroutes_the_next_ticket(admin: httpx.Client) -> None:
    seed_catalog(admin)
    before = admin.post("/api/v1/tickets", json=ticket(partner_id="P007")).json()
    assert before["team"] != "analytics"
    assert before["decision"]["trace"]["factors"]["attribution_anomaly"]["normalised"] == 0.0

    anomaly = {"id": "AN-7", "kind": "attribution_gap", "partner_id": "P007", "severity": 0.9}
    assert admin.put("/api/v1/anomalies/AN-7", json=anomaly).status_code == 200
    flagged = admin.post("/api/v1/tickets", json=ticket(partner_id="P007")).json()
    assert flagged["team"] == "analytics"
    assert flagged["team_source"] == "rule:attribution anomalies to analytics specialists"
    assert flagged["decision"]["trace"]["factors"]["attribution_anomaly"]["normalised"] == 1.0
    assert "anomaly_flagged" in flagged["tags"]
    assert flagged["priority"] in ("p1", "p2")  # raise flagged partners: at least P2

    resolved = admin.post("/api/v1/anomalies/bulk", json=[anomaly | {"status": "resolved"}])
    assert resolved.status_code == 200
    after = admin.post("/api/v1/tickets", json=ticket(partner_id="P007")).json()
    assert after["team"] == before["team"]
    assert after["decision"]["trace"]["factors"]["attribution_anomaly"]["normalised"] == 0.0


# -- configuration ---------------------------------------------------------------------------


def test_get_config_returns_the_active_yaml_and_its_version(admin: httpx.Client) -> None:
    config = admin.get("/api/v1/config").json()
    assert config["yaml"] == EXAMPLE.read_text(encoding="utf-8")
    assert config["created_by"] == "bootstrap"
    routed = admin.post("/api/v1/tickets", json=ticket()).json()
    assert routed["decision"]["config_version"] == config["version"]


def _put_invalid(admin: httpx.Client, data: dict[str, Any]) -> dict[str, str]:
    """PUT a config that must be refused; the problems as location -> message."""
    active = admin.get("/api/v1/config").json()["version"]
    response = admin.put("/api/v1/config", json={"yaml": yaml.safe_dump(data)})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["message"] == f"{len(error['details'])} problem(s) in the configuration"
    assert admin.get("/api/v1/config").json()["version"] == active  # nothing activated
    return {d["location"]: d["message"] for d in error["details"]}


FINANCE_RULE = 5  # "commission disputes and payouts to finance" in examples/affiliate.yaml
RULE = "rules[5] 'commission disputes and payouts to finance'"


def test_an_invalid_config_lists_every_problem_with_its_location(
    admin: httpx.Client, example_data: dict[str, Any]
) -> None:
    assert example_data["rules"][FINANCE_RULE]["then"]["team"] == "finance"
    fields = copy.deepcopy(example_data)
    fields["rules"][FINANCE_RULE]["when"]["all"][0]["colour"] = "red"
    fields["agents"][1]["capacity"] = -1
    assert _put_invalid(admin, fields) == {
        f"{RULE}.when.all[0].colour": "unknown field",
        "agents[1] 'gs-02'.capacity": "Input should be greater than or equal to 0",
    }

    references = copy.deepcopy(example_data)
    references["agents"][0]["teams"] = ["nowhere"]
    references["rules"][FINANCE_RULE]["then"]["team"] = "nope"
    problems = _put_invalid(admin, references)
    assert set(problems) == {"agents[0] 'gs-01'.teams[0]", f"{RULE}.then.team"}
    assert problems["agents[0] 'gs-01'.teams[0]"].startswith("unknown team 'nowhere'")

    for text in ("just words", "rules: [unclosed", ""):
        response = admin.put("/api/v1/config", json={"yaml": text})
        assert response.status_code == 422, text


def test_an_invalid_config_lists_field_and_reference_problems_together(
    admin: httpx.Client, example_data: dict[str, Any]
) -> None:
    example_data["rules"][FINANCE_RULE]["when"]["all"][0]["colour"] = "red"
    example_data["agents"][0]["teams"] = ["nowhere"]
    assert set(_put_invalid(admin, example_data)) == {
        f"{RULE}.when.all[0].colour",
        "agents[0] 'gs-01'.teams[0]",
    }


def test_dry_run_reports_the_moves_then_put_routes_with_the_new_version(
    admin: httpx.Client, example_data: dict[str, Any]
) -> None:
    seed_catalog(admin)
    for category in ("payout", "payout", "payout", "commission_dispute", "compliance"):
        assert admin.post("/api/v1/tickets", json=ticket(category=category)).status_code == 201
    assert admin.post("/api/v1/tickets", json=ticket(partner_id=None)).status_code == 201
    tickets_before = admin.get("/api/v1/tickets", params={"limit": 500}).json()["items"]
    active = admin.get("/api/v1/config").json()
    example_data["rules"][FINANCE_RULE]["then"]["team"] = "senior_support"
    candidate = yaml.safe_dump(example_data, sort_keys=False)

    dry = admin.post("/api/v1/config/dry-run", json={"yaml": candidate})
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert report["candidate_version"] != active["version"]
    assert report["compared"] == 6
    assert report["team_changed"] == 4
    assert report["moves"] == [{"from": "finance", "to": "senior_support", "tickets": 4}]
    assert {d["team"]["candidate"] for d in report["differences"]} == {"senior_support"}
    newest_two = admin.post("/api/v1/config/dry-run", json={"yaml": candidate, "last": 2})
    assert newest_two.json()["compared"] == 2

    # A dry run changes nothing: not the tickets, not the active configuration.
    assert admin.get("/api/v1/tickets", params={"limit": 500}).json()["items"] == tickets_before
    assert admin.get("/api/v1/config").json() == active

    put = admin.put("/api/v1/config", json={"yaml": candidate})
    assert put.status_code == 200, put.text
    assert put.json()["version"] == report["candidate_version"]
    assert yaml.safe_load(admin.get("/api/v1/config").json()["yaml"]) == example_data
    routed = admin.post("/api/v1/tickets", json=ticket(category="payout")).json()
    assert routed["team"] == "senior_support"
    assert routed["decision"]["config_version"] == report["candidate_version"]
    old = {t["id"]: t["team"] for t in tickets_before}
    now = {
        t["id"]: t["team"]
        for t in admin.get("/api/v1/tickets", params={"limit": 500}).json()["items"]
    }
    assert {k: now[k] for k in old} == old  # activation does not re-route stored tickets


def test_put_config_accepts_and_stores_the_yaml_as_sent(
    admin: httpx.Client, example_data: dict[str, Any]
) -> None:
    example_data["default_team"] = "emea_support"
    dumped = yaml.safe_dump(example_data, sort_keys=False)
    indented = "".join(f"  {line}" for line in dumped.splitlines(keepends=True))
    assert yaml.safe_load(indented) == example_data
    response = admin.put("/api/v1/config", json={"yaml": indented})
    assert response.status_code == 200, response.text
    assert admin.get("/api/v1/config").json()["yaml"] == indented
