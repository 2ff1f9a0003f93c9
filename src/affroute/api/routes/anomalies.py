"""/api/v1/events/bulk and /api/v1/anomalies: ingest, list, acknowledge, resolve, counts."""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Annotated

import polars as pl
from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from affroute.anomaly.events import EventInput, InputError, read_frame
from affroute.api.deps import AnomalyHandler, CatalogReader, CatalogWriter, StateDep
from affroute.api.errors import ERRORS
from affroute.api.schemas import (
    AnomalyCounts,
    AnomalyDetail,
    EventIngestResult,
    PeriodCountRead,
)
from affroute.domain import AnomalyStatus
from affroute.service import anomalies
from affroute.service.errors import InvalidInputError

router = APIRouter(prefix="/api/v1", tags=["anomalies"], responses=ERRORS)
MAX_EVENT_ROWS = 50_000


def _frame(body: bytes, content_type: str) -> tuple[pl.DataFrame, int]:
    """The body as a frame of text cells, and the number of its first row."""
    if content_type == "text/csv":
        try:
            return pl.read_csv(io.BytesIO(body), infer_schema=False), 2
        except pl.exceptions.NoDataError:
            raise InvalidInputError("the CSV body is empty", {"field": "body"}) from None
        except pl.exceptions.PolarsError as exc:
            raise InvalidInputError(f"malformed CSV: {exc}", {"field": "body"}) from None
    if content_type not in ("application/json", ""):
        raise InvalidInputError(
            f"unsupported content type {content_type!r}", {"field": "content-type"}
        )
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"malformed JSON: {exc}", {"field": "body"}) from None
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise InvalidInputError("expected a JSON array of objects", {"field": "body"})
    # Every cell as text, as from a CSV file: one set of checks for both.
    rows = [{k: None if v is None else str(v) for k, v in row.items()} for row in data]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String()), orient="row"), 0


@router.post(
    "/events/bulk",
    response_model=EventIngestResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
async def ingest_events(request: Request, state: StateDep, _: CatalogWriter) -> EventIngestResult:
    """Store click/lead/conversion events, or daily network vs advertiser conversion counts.

    Rows are events (columns ``event, at, partner_id, campaign_id, click_id, ip, device,
    contact_hash, value, click_at, event_id``) or daily counts (``day, partner_id, campaign_id,
    network_conversions, advertiser_conversions``). Timestamps may carry any offset and are
    stored in UTC. One malformed row rejects the batch, naming each bad row and field.
    An event whose ``event_id`` was sent before (in this batch or an earlier one) is not
    stored again: retrying a batch is safe.
    """
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    raw, first_row = _frame(body, content_type)
    if raw.height > MAX_EVENT_ROWS:
        raise InvalidInputError(f"at most {MAX_EVENT_ROWS} rows per request", {"field": "body"})
    known = await run_in_threadpool(state.uow.run, anomalies.known_partners)
    try:
        parsed: EventInput = read_frame(
            raw, source="body", first_line=first_row, known_partners=known
        )
    except InputError as exc:
        raise InvalidInputError(str(exc), {"field": "body"}) from None
    if parsed.malformed:
        details = [{"row": p.line, "field": p.field, "message": p.message} for p in parsed.problems]
        raise InvalidInputError(f"{parsed.malformed} malformed row(s); nothing was stored", details)

    parsed.drop_repeats()

    def work(session: Session) -> anomalies.StoredEvents:
        return anomalies.store_events(
            session=session, events=parsed.events, counts=parsed.counts, now=state.clock()
        )

    stored = await run_in_threadpool(state.uow.run, work)
    return EventIngestResult(
        events=stored.events,
        repeats=parsed.repeats + stored.repeats,
        daily_counts=stored.daily_counts,
        unknown_partners=parsed.unknown_partners,
    )


@router.get("/anomalies", response_model=list[AnomalyDetail])
def list_anomalies(
    state: StateDep,
    _: CatalogReader,
    status: Annotated[list[AnomalyStatus] | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    partner_id: Annotated[str | None, Query(max_length=64)] = None,
    campaign_id: Annotated[str | None, Query(max_length=64)] = None,
    detected_from: datetime | None = None,
    detected_to: datetime | None = None,
    after: Annotated[
        str | None, Query(max_length=64, description="last id of the previous page")
    ] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> list[AnomalyDetail]:
    """Anomalies by id; filter by status (repeatable), kind, partner, campaign, detection time.

    Pages like the catalog's lists: pass the last id of a page as ``after``.
    """
    size = min(limit or state.settings.default_page_size, state.settings.max_page_size)

    def work(session: Session) -> list[AnomalyDetail]:
        rows = anomalies.list_anomalies(
            session=session,
            status=status or (),
            kind=kind,
            partner_id=partner_id,
            campaign_id=campaign_id,
            detected_from=detected_from,
            detected_to=detected_to,
            after=after,
            limit=size,
        )
        return [AnomalyDetail.of(r) for r in rows]

    return state.uow.run(work)


@router.get("/anomalies/counts", response_model=AnomalyCounts)
def anomaly_counts(
    state: StateDep,
    _: CatalogReader,
    period: anomalies.Period = anomalies.Period.DAY,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AnomalyCounts:
    """Attribution anomalies detected and resolved per day or week."""
    counts = state.uow.run(
        lambda s: anomalies.counts_over_time(session=s, period=period, since=since, until=until)
    )
    return AnomalyCounts(
        period=period.value,
        items=[PeriodCountRead(start=c.start, detected=c.detected, resolved=c.resolved)
               for c in counts],
        detected=sum(c.detected for c in counts),
        resolved=sum(c.resolved for c in counts),
    )  # fmt: skip


@router.get("/anomalies/{anomaly_id}", response_model=AnomalyDetail)
def get_anomaly(anomaly_id: str, state: StateDep, _: CatalogReader) -> AnomalyDetail:
    return state.uow.run(
        lambda s: AnomalyDetail.of(anomalies.get(session=s, anomaly_id=anomaly_id))
    )


def _change(state: StateDep, anomaly_id: str, status: AnomalyStatus, actor: str) -> AnomalyDetail:
    return state.uow.run(
        lambda s: AnomalyDetail.of(
            anomalies.change_status(
                session=s, anomaly_id=anomaly_id, status=status, actor=actor, now=state.clock()
            )
        )
    )


@router.post("/anomalies/{anomaly_id}/acknowledge", response_model=AnomalyDetail)
def acknowledge(anomaly_id: str, state: StateDep, who: AnomalyHandler) -> AnomalyDetail:
    """Someone is on it: the anomaly still flags the partner's tickets until resolved."""
    return _change(state, anomaly_id, AnomalyStatus.ACKNOWLEDGED, who.key_id)


@router.post("/anomalies/{anomaly_id}/resolve", response_model=AnomalyDetail)
def resolve(anomaly_id: str, state: StateDep, who: AnomalyHandler) -> AnomalyDetail:
    """Resolved: the partner's and campaign's tickets are no longer flagged by it."""
    return _change(state, anomaly_id, AnomalyStatus.RESOLVED, who.key_id)
