"""/api/v1/metrics: the measurement table and the operational view, as JSON or CSV.

Every endpoint takes the same filters (tickets created in ``[created_from, created_to)``,
a team, a partner tier) and answers CSV with ``?format=csv`` or ``Accept: text/csv``.
``GET /metrics`` is the Prometheus scrape.
"""

from __future__ import annotations

import csv
import dataclasses
import hmac
import io
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request, Security
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.orm import Session

from affroute.analytics import metrics, operational, prometheus, stats
from affroute.analytics.metrics import Filters
from affroute.api.deps import Reader, StateDep, _api_key, get_state, require
from affroute.api.errors import ERRORS
from affroute.service.errors import InvalidInputError
from affroute.service.keys import Role
from affroute.service.satisfaction import Satisfaction

router = APIRouter(prefix="/api/v1/metrics", tags=["metrics"], responses=ERRORS)
scrape = APIRouter(tags=["metrics"])
T = TypeVar("T")
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"


def _filters(
    created_from: Annotated[datetime | None, Query(description="tickets created from")] = None,
    created_to: Annotated[datetime | None, Query(description="up to, not including")] = None,
    team: Annotated[str | None, Query(max_length=64, description="current team")] = None,
    partner_tier: Annotated[
        str | None, Query(max_length=16, description="bronze, silver, gold, premium or unknown")
    ] = None,
) -> Filters:
    for name, value in (("created_from", created_from), ("created_to", created_to)):
        if value is not None and value.tzinfo is None:
            raise InvalidInputError(f"{name} needs a time zone, e.g. Z", {"field": name})
    return Filters(created_from, created_to, team, partner_tier)


FiltersDep = Annotated[Filters, Depends(_filters)]
FormatDep = Annotated[Format | None, Query(alias="format", description="json (default) or csv")]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ";".join(_cell(v) for v in value)
    return str(value)


def to_csv(rows: Sequence[Any]) -> str:
    """Dataclass rows as CSV, one column per field (lists joined with ``;``)."""
    if not rows:
        return ""
    names = [f.name for f in dataclasses.fields(rows[0])]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(getattr(row, name)) for name in names])
    return out.getvalue()


def _wants_csv(request: Request, fmt: Format | None) -> bool:
    if fmt is not None:
        return fmt is Format.CSV
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


def _answer(
    request: Request, fmt: Format | None, name: str, rows: Sequence[T], csv_rows: Sequence[Any]
) -> Sequence[T] | Response:
    if not _wants_csv(request, fmt):
        return rows
    return Response(
        to_csv(csv_rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _read(state: Any, work: Callable[[Session], T]) -> T:
    result: T = state.uow.run(work)
    return result


@router.get("/resolution", response_model=list[metrics.SegmentResolution], responses=CSV)
def resolution(
    request: Request,
    state: StateDep,
    _: Reader,
    filters: FiltersDep,
    fmt: FormatDep = None,
    segments: Annotated[
        str, Query(description="deal-value edges between segments, comma-separated")
    ] = ",".join(f"{edge:g}" for edge in stats.DEFAULT_EDGES),
    around: Annotated[
        str | None,
        Query(max_length=64, description="config version (or latest): before/after rows"),
    ] = None,
) -> Any:
    """Mean and median resolution hours per deal-value segment, optionally before/after."""
    try:
        edges = [float(edge) for edge in segments.split(",") if edge.strip()]
        stats.segments(edges)
    except ValueError:
        raise InvalidInputError(
            "segments: positive numbers separated by commas", {"field": "segments"}
        ) from None
    rows = _read(
        state,
        lambda s: metrics.resolution_by_segment(
            session=s, filters=filters, edges=edges, around=around
        ),
    )
    return _answer(request, fmt, "resolution", rows, rows)


@router.get("/config-changes", response_model=list[metrics.ConfigChange], responses=CSV)
def config_changes(request: Request, state: StateDep, _: Reader, fmt: FormatDep = None) -> Any:
    """Configuration versions by activation time: the changes to compare around."""
    rows = _read(state, lambda s: metrics.config_changes(session=s))
    return _answer(request, fmt, "config-changes", rows, rows)


@router.get("/satisfaction/engagement", response_model=list[Satisfaction], responses=CSV)
def satisfaction_by_engagement(
    request: Request, state: StateDep, _: Reader, filters: FiltersDep, fmt: FormatDep = None
) -> Any:
    """CSAT, NPS, response rate per engagement band: the window (week null), then weekly."""
    rows = _read(state, lambda s: metrics.satisfaction_by_engagement(session=s, filters=filters))
    return _answer(request, fmt, "satisfaction-engagement", rows, rows)


@router.get("/satisfaction/trend", response_model=list[Satisfaction], responses=CSV)
def satisfaction_trend(
    request: Request, state: StateDep, _: Reader, filters: FiltersDep, fmt: FormatDep = None
) -> Any:
    """CSAT, NPS and response rate week by week."""
    rows = _read(state, lambda s: metrics.satisfaction_trend(session=s, filters=filters))
    return _answer(request, fmt, "satisfaction-trend", rows, rows)


@router.get("/misroutes", response_model=list[metrics.MisrouteRate], responses=CSV)
def misroutes(
    request: Request, state: StateDep, _: Reader, filters: FiltersDep, fmt: FormatDep = None
) -> Any:
    """Misroute and escalation rates by what made the first decision; last row: all."""
    rows = _read(state, lambda s: metrics.misroute_rate(session=s, filters=filters))
    return _answer(request, fmt, "misroutes", rows, rows)


@router.get("/attribution", response_model=list[metrics.AttributionWeek], responses=CSV)
def attribution(
    request: Request, state: StateDep, _: Reader, filters: FiltersDep, fmt: FormatDep = None
) -> Any:
    """Attribution anomalies detected, resolved and still open, week by week."""
    rows = _read(state, lambda s: metrics.attribution_errors(session=s, filters=filters))
    return _answer(request, fmt, "attribution", rows, rows)


@dataclasses.dataclass(frozen=True, slots=True)
class _BinRow:
    low: float
    high: float
    tickets: int
    mean_hours: float | None
    median_hours: float | None
    pearson: float | None
    spearman: float | None
    resolved: int
    sample: int


@router.get("/correlation", response_model=metrics.ScoreCorrelation, responses=CSV)
def correlation(
    request: Request,
    state: StateDep,
    _: Reader,
    filters: FiltersDep,
    fmt: FormatDep = None,
    bin_width: Annotated[float, Query(ge=1, le=50, description="score points per bin")] = 10.0,
) -> Any:
    """Priority score against resolution hours: Pearson, Spearman, binned medians, points.

    CSV: one line per score bin, with the coefficients repeated on each.
    """
    found = _read(
        state,
        lambda s: metrics.score_resolution_correlation(
            session=s, filters=filters, bin_width=bin_width
        ),
    )
    bins = [
        _BinRow(b.low, b.high, b.tickets, b.mean_hours, b.median_hours,
                found.pearson, found.spearman, found.resolved, found.sample)
        for b in found.bins
    ]  # fmt: skip
    return _answer(request, fmt, "correlation", found, bins)  # type: ignore[arg-type]


@router.get("/sla", response_model=list[metrics.SlaCompliance], responses=CSV)
def sla_compliance(
    request: Request, state: StateDep, _: Reader, filters: FiltersDep, fmt: FormatDep = None
) -> Any:
    """SLA compliance and share escalated, by priority, team and partner tier."""
    rows = _read(state, lambda s: metrics.sla_compliance(session=s, filters=filters))
    return _answer(request, fmt, "sla", rows, rows)


@router.get("/models", response_model=list[metrics.ModelQuality], responses=CSV)
def models(
    request: Request, state: StateDep, _: Reader, filters: FiltersDep, fmt: FormatDep = None
) -> Any:
    """Live precision and recall of each routing model's team choices, per team."""
    rows = _read(state, lambda s: metrics.model_quality(session=s, filters=filters))
    return _answer(request, fmt, "models", rows, rows)


@router.get("/operational/queues", response_model=list[operational.QueueLoad], responses=CSV)
def queues(
    request: Request, state: StateDep, _: Reader, filters: FiltersDep, fmt: FormatDep = None
) -> Any:
    """Open and waiting tickets per team and priority, live."""
    rows = _read(state, lambda s: operational.open_queues(session=s, filters=filters))
    return _answer(request, fmt, "queues", rows, rows)


@router.get("/operational/agents", response_model=list[operational.AgentLoad], responses=CSV)
def agents(
    request: Request, state: StateDep, _: Reader, filters: FiltersDep, fmt: FormatDep = None
) -> Any:
    """Each agent's load beside capacity, live."""
    rows = _read(state, lambda s: operational.agent_load(session=s, filters=filters))
    return _answer(request, fmt, "agents", rows, rows)


@router.get("/operational/waiting", response_model=list[operational.WaitingTicket], responses=CSV)
def waiting(
    request: Request,
    state: StateDep,
    _: Reader,
    filters: FiltersDep,
    fmt: FormatDep = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 10,
) -> Any:
    """The tickets waiting longest for an agent, oldest first."""
    now = state.clock()
    rows = _read(
        state,
        lambda s: operational.oldest_waiting(session=s, filters=filters, now=now, limit=limit),
    )
    return _answer(request, fmt, "waiting", rows, rows)


@router.get("/operational/at-risk", response_model=list[operational.AtRisk], responses=CSV)
def at_risk(
    request: Request,
    state: StateDep,
    _: Reader,
    filters: FiltersDep,
    fmt: FormatDep = None,
    within_minutes: Annotated[int, Query(ge=1, le=7 * 24 * 60)] = 60,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    """Open tickets whose SLA clock comes due within the next minutes, least time first."""
    now, within = state.clock(), timedelta(minutes=within_minutes)
    rows = _read(
        state,
        lambda s: operational.about_to_breach(
            session=s, filters=filters, now=now, within=within, limit=limit
        ),
    )
    return _answer(request, fmt, "at-risk", rows, rows)


_reader = require(Role.ADMIN, Role.ANALYST)


async def _scraper(
    request: Request,
    key: Annotated[str | None, Security(_api_key)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    """The configured scrape token as a bearer token, or an admin or analyst API key."""
    token = get_state(request).settings.metrics_token
    bearer = authorization[7:] if authorization and authorization.startswith("Bearer ") else ""
    if token and bearer and hmac.compare_digest(bearer.encode(), token.encode()):
        return
    await _reader(request, key)


@scrape.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(_scraper)],
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, **ERRORS},
)
def prometheus_metrics(state: StateDep) -> Response:
    """Prometheus scrape: tickets ingested, routed, resolved, queued; assignment latency;
    SLA breaches and escalations. ``Authorization: Bearer <AFFROUTE_METRICS_TOKEN>`` or an
    admin/analyst ``X-API-Key``."""
    body = _read(state, prometheus.exposition)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
