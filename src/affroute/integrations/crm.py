"""CRM sources behind one interface: HubSpot (deals, companies), Salesforce (opportunities,
accounts) through their REST APIs, and CSV/Parquet exports. Each read returns a Snapshot."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx
import polars as pl

from affroute.config import EnrichmentSource, SourceKind
from affroute.service.enrichment import ENGAGEMENT_FIELDS, DealValue, Engagement, Snapshot
from affroute.settings import Settings

# Salesforce names custom fields with a __c suffix.
SALESFORCE_ENGAGEMENT = {
    "weekly_active_leads": "Weekly_Active_Leads__c",
    "click_through_rate": "Click_Through_Rate__c",
    "portal_logins": "Portal_Logins__c",
    "lead_volume": "Lead_Volume__c",
}
SALESFORCE_PARTNER_FIELD = "Affroute_Partner_Id__c"


class SourceError(Exception):
    """A source could not be read (down, refused, malformed): the cached values stay."""


class Reader(Protocol):
    def __call__(self, source: EnrichmentSource) -> Snapshot: ...


def _number(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value))
    except ValueError:
        return None


def _engagement(partner: object, values: Mapping[str, object]) -> Engagement | None:
    metrics = {k: n for k, v in values.items() if (n := _number(v)) is not None}
    return Engagement(str(partner), metrics) if partner and metrics else None


def _deal(deal_id: object, partner: object, value: object) -> DealValue | None:
    amount = _number(value)
    return DealValue(str(deal_id), str(partner), amount) if partner and amount is not None else None


def _ok(response: httpx.Response) -> dict[str, Any]:
    if not response.is_success:
        raise SourceError(f"{response.request.url.path} answered {response.status_code}")
    body = response.json()
    if not isinstance(body, dict):
        raise SourceError(f"{response.request.url.path} did not answer a JSON object")
    return body


class HubSpot:
    """CRM v3 objects API: ``GET /crm/v3/objects/{deals,companies}`` paged by ``after``."""

    def __init__(self, settings: Settings, client: httpx.Client) -> None:
        if not settings.hubspot_token:
            raise SourceError("not configured: AFFROUTE_HUBSPOT_TOKEN")
        self.base, self.client = settings.hubspot_url.rstrip("/"), client
        self.headers = {"Authorization": f"Bearer {settings.hubspot_token}"}

    def _objects(self, kind: str, properties: list[str]) -> Iterator[dict[str, Any]]:
        params: dict[str, str] = {"limit": "100", "properties": ",".join(properties)}
        while True:
            page = _ok(
                self.client.get(
                    f"{self.base}/crm/v3/objects/{kind}", params=params, headers=self.headers
                )
            )
            yield from page.get("results", [])
            after = (page.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return
            params["after"] = str(after)

    def __call__(self, source: EnrichmentSource) -> Snapshot:
        partner, amount = source.partner_property, source.deal_value_property or "amount"
        deals = [
            d
            for o in self._objects("deals", [amount, partner])
            if (p := o.get("properties") or {})
            and (d := _deal(o.get("id"), p.get(partner), p.get(amount)))
        ]
        engagement = [
            e
            for o in self._objects("companies", [partner, *ENGAGEMENT_FIELDS])
            if (p := o.get("properties") or {})
            and (e := _engagement(p.get(partner), {k: p.get(k) for k in ENGAGEMENT_FIELDS}))
        ]
        return Snapshot(deals, engagement)


class Salesforce:
    """REST API SOQL queries, ``GET /services/data/vXX.X/query`` followed by ``nextRecordsUrl``."""

    def __init__(self, settings: Settings, client: httpx.Client) -> None:
        if not (settings.salesforce_url and settings.salesforce_token):
            raise SourceError("not configured: AFFROUTE_SALESFORCE_URL, AFFROUTE_SALESFORCE_TOKEN")
        self.base, self.client = settings.salesforce_url.rstrip("/"), client
        self.version = settings.salesforce_api_version
        self.headers = {"Authorization": f"Bearer {settings.salesforce_token}"}

    def _query(self, soql: str) -> Iterator[dict[str, Any]]:
        url: str | None = f"{self.base}/services/data/{self.version}/query"
        params: dict[str, str] | None = {"q": soql}
        while url:
            page = _ok(self.client.get(url, params=params, headers=self.headers))
            yield from page.get("records", [])
            following = None if page.get("done", True) else page.get("nextRecordsUrl")
            url, params = (f"{self.base}{following}" if following else None), None

    def __call__(self, source: EnrichmentSource) -> Snapshot:
        partner = source.partner_property
        if partner == "affroute_partner_id":  # the default suits HubSpot; this is Salesforce's
            partner = SALESFORCE_PARTNER_FIELD
        amount = source.deal_value_property or "Amount"
        deals = [
            d
            for r in self._query(f"SELECT Id, {amount}, {partner} FROM Opportunity")
            if (d := _deal(r.get("Id"), r.get(partner), r.get(amount)))
        ]
        fields = ", ".join(SALESFORCE_ENGAGEMENT.values())
        engagement = [
            e
            for r in self._query(f"SELECT {partner}, {fields} FROM Account")
            if (
                e := _engagement(
                    r.get(partner), {k: r.get(v) for k, v in SALESFORCE_ENGAGEMENT.items()}
                )
            )
        ]
        return Snapshot(deals, engagement)


def read_export(source: EnrichmentSource) -> Snapshot:
    """A CSV or Parquet export: rows with ``deal_id, partner_id, value`` are deals; rows
    with ``partner_id`` and engagement columns are engagement."""
    path = Path(source.path or "")
    try:
        frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from exc
    if "partner_id" not in frame.columns:
        raise SourceError(f"{path} has no partner_id column")
    metric_columns = [c for c in ENGAGEMENT_FIELDS if c in frame.columns]
    deals: list[DealValue] = []
    engagement: list[Engagement] = []
    for row in frame.iter_rows(named=True):
        if "deal_id" in row and "value" in row and row["deal_id"]:
            if deal := _deal(row["deal_id"], row["partner_id"], row["value"]):
                deals.append(deal)
        elif item := _engagement(row["partner_id"], {c: row[c] for c in metric_columns}):
            engagement.append(item)
    return Snapshot(deals, engagement)


def read(source: EnrichmentSource, settings: Settings, client: httpx.Client) -> Snapshot:
    """Read one source now; ``SourceError`` when it cannot be read."""
    try:
        if source.kind is SourceKind.HUBSPOT:
            return HubSpot(settings, client)(source)
        if source.kind is SourceKind.SALESFORCE:
            return Salesforce(settings, client)(source)
        return read_export(source)
    except httpx.HTTPError as exc:
        raise SourceError(f"{type(exc).__name__}: {exc}"[:300]) from exc
    except ValueError as exc:  # a body that is not JSON
        raise SourceError(f"malformed answer: {exc}"[:300]) from exc
