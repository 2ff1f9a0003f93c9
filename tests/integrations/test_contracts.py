"""Write-back and CRM reads against loopback servers speaking the documented shapes of
Zendesk, Freshdesk, HubSpot and Salesforce: success, errors, 429 with Retry-After, timeouts."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest

from affroute.config import EnrichmentSource, SourceKind
from affroute.integrations import crm
from affroute.integrations.delivery import Deliverer
from affroute.service.outbox import Claimed
from affroute.settings import Settings
from tests.integrations.conftest import (
    FakeApi,
    Handler,
    Reply,
    Seen,
    freshdesk_handler,
    zendesk_handler,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
Fake = Callable[[Handler], FakeApi]
ZENDESK_BODY = {
    "ticket": {
        "priority": "urgent",
        "tags": ["vip"],
        "group_id": 501,
        "assignee_id": 9001,
        "comment": {"body": "trace", "public": False},
    }
}


def deliverer(**settings: object) -> Deliverer:
    client = httpx.Client(timeout=0.5)
    return Deliverer(Settings(**settings), client, lambda: NOW)  # type: ignore[arg-type]


def write_back(target: str, body: dict[str, object]) -> Claimed:
    return Claimed(1, "msg_abc", target, "write_back", "t1", {"external_id": "35", "body": body}, 1)


def test_zendesk_write_back_is_the_documented_update(fake: Fake) -> None:
    api = fake(zendesk_handler)
    send = deliverer(zendesk_url=api.url, zendesk_email="bot@acme.test", zendesk_api_token="tok")
    assert send(write_back("zendesk", ZENDESK_BODY)).ok
    (seen,) = api.seen
    assert (seen.method, seen.path) == ("PUT", "/api/v2/tickets/35.json")
    assert seen.body == ZENDESK_BODY
    # Zendesk API token auth: "{email}/token:{token}", basic.
    expected = base64.b64encode(b"bot@acme.test/token:tok").decode()
    assert seen.headers["authorization"] == f"Basic {expected}"


@pytest.mark.parametrize(
    ("reply", "retry_after", "permanent"),
    [
        (Reply(429, {"error": "TooManyRequests"}, {"Retry-After": "17"}), 17.0, False),
        (Reply(503, {"error": "Unavailable"}, {"Retry-After": "3"}), 3.0, False),
        (Reply(500, {"error": "InternalError"}), None, False),
        (Reply(404, {"error": "RecordNotFound", "description": "Not found"}), None, True),
        (Reply(422, {"error": "RecordInvalid"}), None, True),
        (Reply(200, {}, delay=1.0), None, False),  # slower than the client's timeout
    ],
)
def test_zendesk_failures_say_whether_to_retry(
    fake: Fake, reply: Reply, retry_after: float | None, permanent: bool
) -> None:
    api = fake(zendesk_handler)
    api.script.append(reply)
    send = deliverer(zendesk_url=api.url, zendesk_email="bot@acme.test", zendesk_api_token="tok")
    attempt = send(write_back("zendesk", ZENDESK_BODY))
    assert not attempt.ok
    assert (attempt.retry_after, attempt.permanent) == (retry_after, permanent)
    assert attempt.error


def test_freshdesk_write_back_updates_then_adds_a_private_note(fake: Fake) -> None:
    api = fake(freshdesk_handler)
    send = deliverer(freshdesk_url=api.url, freshdesk_api_key="fdkey")
    body = {
        "ticket": {"priority": 4, "tags": ["vip"], "group_id": 601, "responder_id": 7001},
        "note": {"body": "trace", "private": True},
    }
    assert send(write_back("freshdesk", body)).ok
    update, note = api.seen
    assert (update.method, update.path, update.body) == (
        "PUT",
        "/api/v2/tickets/35",
        body["ticket"],
    )
    assert (note.method, note.path, note.body) == ("POST", "/api/v2/tickets/35/notes", body["note"])
    assert update.headers["authorization"] == "Basic " + base64.b64encode(b"fdkey:X").decode()


def test_freshdesk_rate_limit_stops_before_the_note(fake: Fake) -> None:
    api = fake(freshdesk_handler)
    api.script.append(Reply(429, {"message": "rate limited"}, {"Retry-After": "60"}))
    send = deliverer(freshdesk_url=api.url, freshdesk_api_key="fdkey")
    attempt = send(write_back("freshdesk", {"ticket": {"priority": 1}, "note": {"body": "x"}}))
    assert (attempt.ok, attempt.retry_after) == (False, 60.0)
    assert len(api.seen) == 1


def test_an_unconfigured_help_desk_keeps_the_delivery_for_later() -> None:
    attempt = deliverer()(write_back("zendesk", ZENDESK_BODY))
    assert not attempt.ok and not attempt.permanent
    assert "AFFROUTE_ZENDESK_URL" in (attempt.error or "")


def hubspot_handler(seen: Seen) -> Reply:
    """CRM v3 objects: ``{"results": [{"id", "properties"}], "paging": {"next": {"after"}}}``."""
    after = seen.query.get("after", ["0"])[0]
    if seen.path == "/crm/v3/objects/deals":
        pages = {
            "0": ([("101", "P003", "80000.50"), ("102", "P004", "900")], "2"),
            "2": ([("103", "P005", "12000"), ("104", None, "5")], None),
        }
        rows, following = pages[after]
        results = [
            {
                "id": i,
                "properties": {"amount": a, "affroute_partner_id": p, "hs_object_id": i},
                "createdAt": "2026-01-01T00:00:00Z",
                "updatedAt": "2026-02-01T00:00:00Z",
                "archived": False,
            }
            for i, p, a in rows
        ]
        paging = {"next": {"after": following, "link": "..."}} if following else None
        return Reply(200, {"results": results, **({"paging": paging} if paging else {})})
    if seen.path == "/crm/v3/objects/companies":
        props = {"affroute_partner_id": "P003", "weekly_active_leads": "42", "portal_logins": "7"}
        return Reply(200, {"results": [{"id": "9", "properties": props, "archived": False}]})
    return Reply(404, {"status": "error", "message": "not found", "category": "OBJECT_NOT_FOUND"})


def test_hubspot_deals_and_companies_across_pages(fake: Fake) -> None:
    api = fake(hubspot_handler)
    source = EnrichmentSource("hs", SourceKind.HUBSPOT)
    with httpx.Client(timeout=1) as client:
        got = crm.read(source, Settings(hubspot_url=api.url, hubspot_token="pat"), client)  # type: ignore[call-arg]
    assert [(d.deal_id, d.partner_id, d.value) for d in got.deals] == [
        ("101", "P003", 80000.5),
        ("102", "P004", 900.0),
        ("103", "P005", 12000.0),
    ]
    assert [(e.partner_id, e.metrics) for e in got.engagement] == [
        ("P003", {"weekly_active_leads": 42.0, "portal_logins": 7.0})
    ]
    assert api.seen[0].headers["authorization"] == "Bearer pat"
    assert "amount" in api.seen[0].query["properties"][0]


def salesforce_handler(seen: Seen) -> Reply:
    """SOQL query results with ``done`` / ``nextRecordsUrl`` paging."""
    base = "/services/data/v60.0/query"
    if seen.path == base and "FROM Opportunity" in seen.query["q"][0]:
        records = [
            {
                "attributes": {"type": "Opportunity", "url": "/x"},
                "Id": "006A",
                "Amount": 55000.0,
                "Affroute_Partner_Id__c": "P007",
            }
        ]
        return Reply(
            200,
            {
                "totalSize": 2,
                "done": False,
                "records": records,
                "nextRecordsUrl": f"{base}/01gXX-2000",
            },
        )
    if seen.path == f"{base}/01gXX-2000":
        records = [
            {
                "attributes": {"type": "Opportunity"},
                "Id": "006B",
                "Amount": None,
                "Affroute_Partner_Id__c": "P008",
            }
        ]
        return Reply(200, {"totalSize": 2, "done": True, "records": records})
    if seen.path == base and "FROM Account" in seen.query["q"][0]:
        records = [
            {
                "attributes": {"type": "Account"},
                "Affroute_Partner_Id__c": "P007",
                "Weekly_Active_Leads__c": 11,
                "Click_Through_Rate__c": 0.04,
                "Portal_Logins__c": None,
                "Lead_Volume__c": 300,
            }
        ]
        return Reply(200, {"totalSize": 1, "done": True, "records": records})
    return Reply(400, [{"message": "malformed query", "errorCode": "MALFORMED_QUERY"}])


def test_salesforce_opportunities_and_accounts_follow_next_records(fake: Fake) -> None:
    api = fake(salesforce_handler)
    source = EnrichmentSource("sf", SourceKind.SALESFORCE)
    settings = Settings(salesforce_url=api.url, salesforce_token="00Dx")  # type: ignore[call-arg]
    with httpx.Client(timeout=1) as client:
        got = crm.read(source, settings, client)
    assert [(d.deal_id, d.partner_id, d.value) for d in got.deals] == [("006A", "P007", 55000.0)]
    assert got.engagement[0].metrics == {
        "weekly_active_leads": 11.0,
        "click_through_rate": 0.04,
        "lead_volume": 300.0,
    }
    assert len(api.seen) == 3


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(500, {"message": "internal"}), "answered 500"),
        (Reply(429, {"message": "rate"}, {"Retry-After": "10"}), "answered 429"),
        (Reply(401, {"message": "expired"}), "answered 401"),
        (Reply(200, {}, delay=1.0), "Timeout"),
    ],
)
def test_a_crm_that_fails_raises_source_error(fake: Fake, reply: Reply, message: str) -> None:
    api = fake(hubspot_handler)
    api.script.append(reply)
    source = EnrichmentSource("hs", SourceKind.HUBSPOT)
    with httpx.Client(timeout=0.3) as client, pytest.raises(crm.SourceError, match=message):
        crm.read(source, Settings(hubspot_url=api.url, hubspot_token="pat"), client)  # type: ignore[call-arg]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_crm_exports_in_csv_and_parquet(tmp_path: Path, suffix: str) -> None:
    frame = pl.DataFrame(
        {
            "deal_id": ["D1", None],
            "partner_id": ["P001", "P002"],
            "value": [1500.0, None],
            "weekly_active_leads": [None, 8.0],
            "lead_volume": [None, 120.0],
        }
    )
    path = tmp_path / f"export{suffix}"
    frame.write_parquet(path) if suffix == ".parquet" else frame.write_csv(path)
    got = crm.read_export(EnrichmentSource("file", SourceKind.FILE, path=str(path)))
    assert [(d.deal_id, d.partner_id, d.value) for d in got.deals] == [("D1", "P001", 1500.0)]
    assert [(e.partner_id, e.metrics) for e in got.engagement] == [
        ("P002", {"weekly_active_leads": 8.0, "lead_volume": 120.0})
    ]


def test_a_missing_export_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(crm.SourceError, match="cannot read"):
        crm.read_export(EnrichmentSource("f", SourceKind.FILE, path=str(tmp_path / "no.csv")))


def test_backoff_doubles_and_honours_retry_after() -> None:
    from affroute.service.outbox import backoff_delay

    first = timedelta(seconds=5)
    assert [backoff_delay(n, first, None).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff_delay(3, first, 90.0) == timedelta(seconds=90)
    assert backoff_delay(30, first, None) == timedelta(hours=1)
