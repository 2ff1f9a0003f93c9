"""The dashboard's pages. Each reads through the same service functions as the API, so a
number on a page is the number the API gives; live parts are fragments polled by htmx."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from affroute.analytics import metrics, operational
from affroute.api.deps import AppState, StateDep
from affroute.domain import AnomalyStatus, Priority, TicketStatus
from affroute.service import (
    agents,
    anomalies,
    configs,
    learning,
    outbox,
    registry,
    satisfaction,
    simulations,
    sla,
    surveys,
    tickets,
    tuning,
    users,
)
from affroute.service.errors import AffrouteError, InvalidInputError, NotFoundError
from affroute.service.keys import Role
from affroute.service.users import WebUser
from affroute.sim.report import METRICS
from affroute.store.models import SurveyRow, TicketRow
from affroute.web.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    AdminUser,
    Anyone,
    BadCsrf,
    PageForbidden,
    SignInRequired,
    Staff,
    check_csrf,
    login_url,
    new_login_token,
    safe_next,
    secure_cookies,
)

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)
TIERS = ("bronze", "silver", "gold", "premium")
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}
# Files the pages load from the front-end packages `make` installs with npm (web/).
VENDOR_FILES = {
    "htmx.min.js": ("htmx.org", "dist/htmx.min.js"),
    "chart.umd.min.js": ("chart.js", "dist/chart.umd.min.js"),
}


def render(
    request: Request, name: str, user: WebUser | None, status: int = 200, **context: Any
) -> HTMLResponse:
    context |= {"user": user}
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(HEADERS)
    return response


def _run(state: AppState, work: Any) -> Any:
    return state.uow.run(work)


# -- signing in ----------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    token = new_login_token()
    response = render(request, "login.html", None, csrf=token, next=safe_next(next))
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return response


@router.post("/login")
def login(
    request: Request,
    state: StateDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE)
    if not expected or csrf != expected:
        raise BadCsrf
    now = state.clock()
    login = state.uow.run(
        lambda s: users.authenticate(session=s, username=username, password=password, now=now)
    )
    if login.user is None:
        return render(
            request, "login.html", None, 401,
            csrf=expected, next=safe_next(next), username=username, error=login.problem,
        )  # fmt: skip
    user = login.user
    session_id = state.uow.run(lambda s: users.start_session(session=s, user=user, now=now))
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(users.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(state),
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    request: Request, state: StateDep, user: Anyone, csrf: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(user, csrf)
    session_id = request.cookies.get(SESSION_COOKIE, "")
    state.uow.run(lambda s: users.end_session(session=s, session_id=session_id))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# -- filters -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    date_from: date | None = None
    date_to: date | None = None
    team: str | None = None
    tier: str | None = None

    @property
    def since(self) -> datetime | None:
        return datetime.combine(self.date_from, time(), UTC) if self.date_from else None

    @property
    def until(self) -> datetime | None:
        # Inclusive of the last day chosen.
        return (
            datetime.combine(self.date_to, time(), UTC) + timedelta(days=1)
            if self.date_to
            else None
        )


def filters_of(
    date_from: str | None, date_to: str | None, team: str | None, tier: str | None
) -> Filters:
    def day(raw: str | None, field: str) -> date | None:
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise InvalidInputError(f"{field} is not a date", {"field": field}) from None

    return Filters(day(date_from, "date_from"), day(date_to, "date_to"), team or None, tier or None)


FilterParams = Annotated[str | None, Query(max_length=64)]


async def _filters(
    date_from: FilterParams = None,
    date_to: FilterParams = None,
    team: FilterParams = None,
    tier: FilterParams = None,
) -> Filters:
    return filters_of(date_from, date_to, team, tier)


FiltersDep = Annotated[Filters, Depends(_filters)]


@dataclass(frozen=True, slots=True)
class TicketView:
    status: str | None = None
    team: str | None = None
    priority: str | None = None


async def _ticket_view(
    status: FilterParams = None, team: FilterParams = None, priority: FilterParams = None
) -> TicketView:
    return TicketView(status or None, team or None, priority or None)


TicketViewDep = Annotated[TicketView, Depends(_ticket_view)]


# -- overview ------------------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _metric_filters(filters: Filters) -> metrics.Filters:
    return metrics.Filters(filters.since, filters.until, filters.team, filters.tier)


def overview_cards(session: Session, filters: Filters, now: datetime) -> dict[str, Any]:
    """The live counts (from the tickets as they are) and the period's headline figures."""
    chosen = _metric_filters(filters)
    queues = operational.open_queues(session=session, filters=chosen)
    soon = operational.about_to_breach(session=session, filters=chosen, now=now, limit=10_000)
    compliance = [r for r in metrics.sla_compliance(session=session, filters=chosen)]
    by_priority = [r for r in compliance if r.axis == "priority"]
    clocked = sum(r.tickets for r in by_priority)
    breached = sum(r.breached for r in by_priority)
    misroutes = metrics.misroute_rate(session=session, filters=chosen)
    overall = next((m for m in misroutes if m.decided_by == "all"), None)
    happy = satisfaction.overall(session=session, since=filters.since, until=filters.until)
    return {
        "open_tickets": sum(q.open for q in queues),
        "queued": sum(q.waiting for q in queues),
        "about_to_breach": len(soon),
        "sla_compliance": _percent(1 - breached / clocked if clocked else None),
        "misroute_rate": _percent(overall.misroute_rate if overall else None),
        "csat": "—" if happy.csat is None else f"{happy.csat:.2f}",
        "nps": "—" if happy.nps is None else f"{happy.nps:+.0f}",
    }


def bar(
    labels: list[str], values: list[float | None], label: str, **options: Any
) -> dict[str, Any]:
    return {
        "type": "bar",
        "data": {"labels": labels, "datasets": [{"label": label, "data": values}]},
        "options": options,
    }


def _rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def overview_charts(session: Session, filters: Filters) -> dict[str, Any]:
    """Every row of the measurement table, as charts (and the correlation's figures)."""
    chosen = _metric_filters(filters)
    changes = metrics.config_changes(session=session)
    around = "latest" if len(changes) >= 2 else None
    resolution = metrics.resolution_by_segment(session=session, filters=chosen, around=around)
    segments_shown = list(dict.fromkeys(r.segment for r in resolution))
    periods = list(dict.fromkeys(r.period for r in resolution))
    by_key = {(r.period, r.segment): r for r in resolution}
    engagement = [
        r
        for r in metrics.satisfaction_by_engagement(session=session, filters=chosen)
        if r.week is None
    ]
    trend = metrics.satisfaction_trend(session=session, filters=chosen)
    attribution = metrics.attribution_errors(session=session, filters=chosen)
    correlation = metrics.score_resolution_correlation(session=session, filters=chosen)
    compliance = metrics.sla_compliance(session=session, filters=chosen)
    tiers = [r for r in compliance if r.axis == "partner_tier"]
    misroutes = [
        m for m in metrics.misroute_rate(session=session, filters=chosen) if m.decided_by != "all"
    ]
    return {
        "resolution": {
            "type": "bar",
            "data": {
                "labels": segments_shown,
                "datasets": [
                    {
                        "label": f"median hours ({period})",
                        "data": [
                            _rounded(by_key[(period, seg)].median_hours)
                            if (period, seg) in by_key
                            else None
                            for seg in segments_shown
                        ],
                    }
                    for period in periods
                ],
            },
            "options": {},
        },
        "resolution_note": (
            f"before / after configuration {changes[-1].version} "
            f"(activated {changes[-1].activated_at:%Y-%m-%d %H:%M})"
            if around
            else "one configuration so far"
        ),
        "csat_by_engagement": bar(
            [r.group for r in engagement],
            [_rounded(r.csat) for r in engagement],
            "average CSAT",
            scales={"y": {"min": 1, "max": 5}},
        ),
        "csat_trend": {
            "type": "line",
            "data": {
                "labels": [r.week.isoformat() for r in trend if r.week],
                "datasets": [
                    {"label": "weekly CSAT", "data": [_rounded(r.csat) for r in trend if r.week]}
                ],
            },
            "options": {"scales": {"y": {"min": 1, "max": 5}}},
        },
        "misroutes": bar(
            [m.decided_by for m in misroutes],
            [
                _rounded(100 * m.misroute_rate if m.misroute_rate is not None else None, 1)
                for m in misroutes
            ],
            "% reassigned to another team",
            indexAxis="y",
        ),
        "attribution": {
            "type": "bar",
            "data": {
                "labels": [w.week.isoformat() for w in attribution],
                "datasets": [
                    {"label": "detected", "data": [w.detected for w in attribution]},
                    {"label": "resolved", "data": [w.resolved for w in attribution]},
                ],
            },
            "options": {},
        },
        "correlation": {
            "type": "scatter",
            "data": {
                "datasets": [
                    {
                        "label": "tickets (score, hours to resolve)",
                        "data": [
                            {"x": p.score, "y": round(p.hours, 2)} for p in correlation.points
                        ],
                    },
                    {
                        "type": "line",
                        "label": "median hours per score band",
                        "data": [
                            {"x": (b.low + b.high) / 2, "y": _rounded(b.median_hours)}
                            for b in correlation.bins
                            if b.median_hours is not None
                        ],
                    },
                ],
            },
            "options": {"scales": {"x": {"min": 0, "max": 100}}},
        },
        "correlation_figures": correlation,
        "sla_by_tier": bar(
            [r.key for r in tiers],
            [round(100 * r.compliance, 1) for r in tiers],
            "% within SLA",
            scales={"y": {"min": 0, "max": 100}},
        ),
    }


def _teams(state: AppState, session: Session) -> list[str]:
    return sorted(state.cache.current(session).config.teams)


@router.get("/")
def overview(request: Request, state: StateDep, user: Anyone, filters: FiltersDep) -> Response:
    if user.role is Role.AGENT:
        return RedirectResponse("/tickets", status_code=303)
    now = state.clock()

    def work(session: Session) -> dict[str, Any]:
        return {
            "cards": overview_cards(session, filters, now),
            "charts": overview_charts(session, filters),
            "teams": _teams(state, session),
        }

    data = state.uow.run(work)
    return render(
        request, "overview.html", user, active="overview", filters=filters, tiers=TIERS,
        query=request.url.query, **data,
    )  # fmt: skip


@router.get("/overview/cards")
def overview_cards_fragment(
    request: Request, state: StateDep, user: Staff, filters: FiltersDep
) -> Response:
    now = state.clock()
    cards = state.uow.run(lambda s: overview_cards(s, filters, now))
    return render(request, "_overview_cards.html", user, cards=cards)


# -- queues and the SLA board ---------------------------------------------------------------------


def _my_teams(session: Session, user: WebUser) -> set[str] | None:
    if user.role is not Role.AGENT:
        return None
    return set(agents.teams_of(session=session, agent_id=user.agent_id or ""))


def queues_data(state: AppState, session: Session, user: WebUser, now: datetime) -> dict[str, Any]:
    mine = _my_teams(session, user)
    loads = operational.open_queues(session=session, filters=metrics.Filters())
    queues = []
    for team in _teams(state, session):
        if mine is not None and team not in mine:
            continue
        members = agents.list_agents(session=session, team=team)
        mine_loads = [q for q in loads if q.team == team]
        since = [q.oldest_waiting_since for q in mine_loads if q.oldest_waiting_since]
        queues.append(
            {
                "team": team,
                "queued": sum(q.waiting for q in mine_loads),
                "agents": len(members),
                "online": sum(1 for a in members if a.status == "online"),
                "oldest": min(since, default=None),
                "waiting": agents.queue(session=session, team=team, limit=5),
            }
        )
    agent = user.agent_id if user.role is Role.AGENT else None
    board = [
        (row, due, (due - now).total_seconds())
        for row, due in sla.board(session=session, now=now, team=None, agent_id=agent, limit=25)
    ]
    return {"queues": queues, "board": board}


@router.get("/queues")
def queues_page(request: Request, state: StateDep, user: Anyone) -> Response:
    now = state.clock()
    data = state.uow.run(lambda s: queues_data(state, s, user, now))
    return render(request, "queues.html", user, active="queues", **data)


@router.get("/queues/live")
def queues_live(request: Request, state: StateDep, user: Anyone) -> Response:
    now = state.clock()
    data = state.uow.run(lambda s: queues_data(state, s, user, now))
    return render(request, "_queues_live.html", user, **data)


# -- tickets -------------------------------------------------------------------------------


def ticket_rows(session: Session, user: WebUser, view: TicketView) -> list[TicketRow]:
    try:
        chosen = TicketStatus(view.status) if view.status else None
    except ValueError:
        raise InvalidInputError(f"unknown status {view.status!r}", {"field": "status"}) from None
    filters = tickets.TicketFilter(
        status=chosen,
        team=view.team,
        priority=view.priority,
        visible_to_agent=user.agent_id if user.role is Role.AGENT else None,
    )
    return tickets.list_tickets(session=session, filters=filters, cursor=None, limit=50)


@router.get("/tickets")
def tickets_page(request: Request, state: StateDep, user: Anyone, view: TicketViewDep) -> Response:
    def work(session: Session) -> dict[str, Any]:
        return {
            "rows": ticket_rows(session, user, view),
            "teams": _teams(state, session),
        }

    data = state.uow.run(work)
    return render(
        request, "tickets.html", user, active="tickets", query=request.url.query,
        filters=view,
        statuses=[s.value for s in TicketStatus], priorities=[p.value for p in Priority], **data,
    )  # fmt: skip


@router.get("/tickets/rows")
def ticket_rows_fragment(
    request: Request, state: StateDep, user: Anyone, view: TicketViewDep
) -> Response:
    rows = state.uow.run(lambda s: ticket_rows(s, user, view))
    return render(request, "_ticket_rows.html", user, rows=rows)


@router.get("/tickets/{ticket_id}")
def ticket_page(ticket_id: str, request: Request, state: StateDep, user: Anyone) -> Response:
    def work(session: Session) -> dict[str, Any]:
        row = tickets.get(session=session, ticket_id=ticket_id)
        if user.role is Role.AGENT and not tickets.can_agent_see(session, row, user.agent_id or ""):
            raise NotFoundError(f"ticket {ticket_id!r} does not exist")
        return {
            "ticket": row,
            "decisions": tickets.decisions_of(session=session, ticket_id=ticket_id),
            "events": tickets.events_of(session=session, ticket_id=ticket_id),
            "survey": surveys.for_ticket(session=session, ticket_id=ticket_id),
        }

    data = state.uow.run(work)
    return render(request, "ticket.html", user, active="tickets", **data)


# -- agents --------------------------------------------------------------------------------


def agents_data(session: Session, user: WebUser) -> list[dict[str, Any]]:
    mine = _my_teams(session, user)
    rows = []
    for agent in agents.list_agents(session=session):
        teams = agents.teams_of(session=session, agent_id=agent.id)
        if mine is not None and not mine.intersection(teams):
            continue
        rows.append(
            {
                "id": agent.id,
                "name": agent.name,
                "teams": teams,
                "status": agent.status,
                "load": agent.load,
                "capacity": agent.capacity,
            }
        )
    return rows


@router.get("/agents")
def agents_page(request: Request, state: StateDep, user: Anyone) -> Response:
    rows = state.uow.run(lambda s: agents_data(s, user))
    return render(request, "agents.html", user, active="agents", agents=rows)


@router.get("/agents/live")
def agents_live(request: Request, state: StateDep, user: Anyone) -> Response:
    rows = state.uow.run(lambda s: agents_data(s, user))
    return render(request, "_agents_live.html", user, agents=rows)


# -- satisfaction --------------------------------------------------------------------------


@router.get("/satisfaction")
def satisfaction_page(
    request: Request,
    state: StateDep,
    user: Staff,
    by: satisfaction.Dimension = satisfaction.Dimension.ENGAGEMENT,
    date_from: FilterParams = None,
    date_to: FilterParams = None,
) -> Response:
    filters = filters_of(date_from, date_to, None, None)

    def work(session: Session) -> dict[str, Any]:
        rows = [
            r
            for r in satisfaction.satisfaction(
                session=session, by=by, since=filters.since, until=filters.until
            )
            if r.week is None
        ]
        comments = list(
            session.scalars(
                select(SurveyRow)
                .where(SurveyRow.comment.is_not(None))
                .order_by(SurveyRow.answered_at.desc())
                .limit(20)
            )
        )
        outcomes = satisfaction.routing_outcomes(
            session=session,
            by=satisfaction.OutcomeKey.DECIDED_BY,
            since=filters.since,
            until=filters.until,
        )
        return {"rows": rows, "comments": comments, "outcomes": outcomes}

    data = state.uow.run(work)
    spec = bar(
        [r.group for r in data["rows"]], [r.csat for r in data["rows"]], "average CSAT",
        scales={"y": {"min": 1, "max": 5}},
    )  # fmt: skip
    return render(
        request, "satisfaction.html", user, active="satisfaction", by=by.value,
        dimensions=[d.value for d in satisfaction.Dimension], filters=filters, chart_spec=spec,
        **data,
    )  # fmt: skip


# -- configuration -------------------------------------------------------------------------


def _active_yaml(session: Session) -> tuple[str, str]:
    row = configs.get_active(session=session)
    return row.version, row.yaml


@router.get("/config")
def config_page(request: Request, state: StateDep, user: Staff) -> Response:
    version, yaml_text = state.uow.run(_active_yaml)
    return render(
        request, "config.html", user, active="config", version=version, yaml_text=yaml_text,
        can_edit=user.role is Role.ADMIN,
    )  # fmt: skip


@router.post("/config/preview")
def config_preview(
    request: Request,
    state: StateDep,
    user: Staff,
    csrf: Annotated[str, Form()] = "",
    yaml: Annotated[str, Form(max_length=1_000_000)] = "",
) -> Response:
    """Validate a candidate and show what it would change, before anything is saved."""
    check_csrf(user, csrf)
    yaml = yaml.replace("\r\n", "\n")  # browsers send a textarea's lines with CRLF
    version, active_yaml = state.uow.run(_active_yaml)
    context: dict[str, Any] = {
        "active": "config", "version": version, "yaml_text": yaml,
        "can_edit": user.role is Role.ADMIN,
    }  # fmt: skip
    try:
        result = state.uow.run(
            lambda s: configs.dry_run(session=s, cache=state.cache, yaml_text=yaml, last=500)
        )
    except AffrouteError as exc:
        problems = _problems(exc)
        return render(request, "config.html", user, 422, problems=problems, **context)
    moves = [f"{n} from {a} to {b}" for (a, b), n in result.moves.most_common(10)]
    diff = "".join(
        difflib.unified_diff(
            active_yaml.splitlines(keepends=True), yaml.splitlines(keepends=True),
            "active", "candidate",
        )
    )  # fmt: skip
    preview = {
        "routed": result.compared,
        "team_changes": result.team_changed,
        "priority_changes": result.priority_changed,
        "moves": moves,
    }
    return render(
        request, "config.html", user, preview=preview, diff=diff or "(no change)", **context
    )


def _problems(exc: AffrouteError) -> list[str]:
    details = exc.details
    if isinstance(details, list):
        return [
            f"{d.get('location', '')}: {d.get('message', '')}" if isinstance(d, dict) else str(d)
            for d in details
        ]
    return [exc.message]


@router.post("/config/save")
def config_save(
    request: Request,
    state: StateDep,
    user: AdminUser,
    csrf: Annotated[str, Form()] = "",
    yaml: Annotated[str, Form(max_length=1_000_000)] = "",
) -> Response:
    check_csrf(user, csrf)
    yaml = yaml.replace("\r\n", "\n")
    now = state.clock()
    try:
        row = state.uow.run(
            lambda s: configs.activate(
                session=s, yaml_text=yaml, actor=f"user:{user.username}", now=now
            )
        )
    except AffrouteError as exc:
        version, _ = state.uow.run(_active_yaml)
        return render(
            request, "config.html", user, 422, active="config", version=version,
            yaml_text=yaml, can_edit=True, problems=_problems(exc),
        )  # fmt: skip
    return render(
        request, "config.html", user, active="config", version=row.version,
        yaml_text=row.yaml, can_edit=True, saved=row.version,
    )  # fmt: skip


# -- anomalies ---------------------------------------------------------------------------

_ANOMALY_VIEWS = {
    "unresolved": (AnomalyStatus.OPEN, AnomalyStatus.ACKNOWLEDGED),
    "open": (AnomalyStatus.OPEN,),
    "acknowledged": (AnomalyStatus.ACKNOWLEDGED,),
    "resolved": (AnomalyStatus.RESOLVED,),
    "all": (),
}


def _anomalies_page(
    request: Request, state: AppState, user: WebUser, view: str, **context: Any
) -> HTMLResponse:
    if view not in _ANOMALY_VIEWS:
        raise InvalidInputError(f"unknown status {view!r}", {"field": "status"})

    def work(session: Session) -> dict[str, Any]:
        rows = anomalies.list_anomalies(session=session, status=_ANOMALY_VIEWS[view], limit=200)
        counts = anomalies.counts_over_time(
            session=session, period=anomalies.Period.WEEK, since=None, until=None
        )
        return {
            "anomalies": sorted(rows, key=lambda a: a.detected_at or a.updated_at, reverse=True),
            "counts": counts,
        }

    data = state.uow.run(work)
    weeks = [c.start.isoformat() for c in data["counts"]]
    over_time = {
        "type": "bar",
        "data": {
            "labels": weeks,
            "datasets": [
                {"label": "detected", "data": [c.detected for c in data["counts"]]},
                {"label": "resolved", "data": [c.resolved for c in data["counts"]]},
            ],
        },
        "options": {},
    }
    return render(
        request, "anomalies.html", user, active="anomalies", view=view,
        anomalies=data["anomalies"], over_time=over_time, **context,
    )  # fmt: skip


@router.get("/anomalies")
def anomalies_page(
    request: Request, state: StateDep, user: Staff, status: FilterParams = "unresolved"
) -> Response:
    return _anomalies_page(request, state, user, status or "unresolved")


@router.post("/anomalies/{anomaly_id}/{status}")
def anomaly_change(
    anomaly_id: str,
    status: str,
    request: Request,
    state: StateDep,
    user: Staff,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(user, csrf)
    if status not in (AnomalyStatus.ACKNOWLEDGED.value, AnomalyStatus.RESOLVED.value):
        raise NotFoundError(f"no such action {status!r}")
    now, actor = state.clock(), f"user:{user.username}"
    state.uow.run(
        lambda s: anomalies.change_status(
            session=s, anomaly_id=anomaly_id, status=AnomalyStatus(status), actor=actor, now=now
        )
    )
    return _anomalies_page(request, state, user, "unresolved", message=f"Anomaly {status}.")


# -- models ------------------------------------------------------------------------------


def _figure(value: Any, percent: bool = False) -> str:
    if not isinstance(value, int | float):
        return "—"
    return f"{100 * value:.1f}%" if percent else f"{value:.3f}"


def models_data(session: Session) -> list[dict[str, Any]]:
    live: dict[tuple[str, str], learning.ClassOutcome] = {
        (o.model, o.label): o for o in learning.model_outcomes(session=session)
    }
    shown = []
    for row in registry.listed(session=session):
        metrics = row.metrics or {}
        held = {c.get("label"): c for c in metrics.get("classes", []) if isinstance(c, dict)}
        classes = []
        for label in row.classes:
            own, seen = held.get(label, {}), live.get((row.name, str(label)))
            classes.append(
                {
                    "label": label,
                    "precision": _figure(own.get("precision")),
                    "recall": _figure(own.get("recall")),
                    "threshold": _figure(own.get("threshold")),
                    "acted": seen.acted if seen else 0,
                    "confirmed": seen.confirmed if seen else 0,
                    "corrected": seen.corrected if seen else 0,
                    "live_precision": _figure(seen.precision if seen else None),
                    "live_recall": _figure(seen.recall if seen else None),
                }
            )
        overall = {
            "macro_f1": _figure(metrics.get("macro_f1")),
            "coverage": _figure(metrics.get("coverage"), percent=True),
            "precision_acted": _figure(metrics.get("precision_acted"), percent=True),
        }
        shown.append({"row": row, "held": overall, "classes": classes})
    return shown


@router.get("/models")
def models_page(request: Request, state: StateDep, user: Staff) -> Response:
    shown = state.uow.run(models_data)
    return render(request, "models.html", user, active="models", models=shown)


# -- deliveries --------------------------------------------------------------------------


def _deliveries_page(
    request: Request, state: AppState, user: WebUser, view: str, status: int = 200, **context: Any
) -> HTMLResponse:
    try:
        chosen = outbox.OutboxStatus(view)
    except ValueError:
        raise InvalidInputError(f"unknown status {view!r}", {"field": "status"}) from None
    rows = state.uow.run(
        lambda s: outbox.list_deliveries(session=s, status=chosen, after=None, limit=200)
    )
    return render(
        request, "deliveries.html", user, status, active="deliveries", view=view,
        deliveries=rows, **context,
    )  # fmt: skip


@router.get("/deliveries")
def deliveries_page(
    request: Request, state: StateDep, user: Staff, status: FilterParams = "dead"
) -> Response:
    return _deliveries_page(request, state, user, status or "dead")


@router.post("/deliveries/{delivery_id}/retry")
def delivery_retry(
    delivery_id: str,
    request: Request,
    state: StateDep,
    user: AdminUser,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(user, csrf)
    now = state.clock()
    try:
        state.uow.run(lambda s: outbox.retry(session=s, delivery_id=delivery_id, now=now))
    except AffrouteError as exc:
        return _deliveries_page(request, state, user, "dead", 409, problem=exc.message)
    return _deliveries_page(request, state, user, "dead", message="Queued to be sent again.")


# -- simulator ---------------------------------------------------------------------------


@dataclass
class SimulationForm:
    arrivals: str = "generated"
    tickets: int = 2_000
    days: int = 7
    seeds: int = 3
    baselines: bool = True
    candidate: str = ""


def _simulate_page(
    request: Request, user: WebUser, form: SimulationForm, status: int = 200, **context: Any
) -> HTMLResponse:
    return render(
        request, "simulate.html", user, status, active="simulate", form=form,
        metrics=list(METRICS.items()), max_tickets=simulations.MAX_TICKETS,
        max_days=int(simulations.MAX_DAYS), max_seeds=simulations.MAX_SEEDS, **context,
    )  # fmt: skip


@router.get("/simulate")
def simulate_page(request: Request, user: Staff) -> Response:
    return _simulate_page(request, user, SimulationForm())


@router.post("/simulate")
def simulate_run(
    request: Request,
    state: StateDep,
    user: Staff,
    csrf: Annotated[str, Form()] = "",
    arrivals: Annotated[str, Form()] = "generated",
    tickets: Annotated[int, Form(ge=1)] = 2_000,
    days: Annotated[int, Form(ge=1)] = 7,
    seeds: Annotated[int, Form(ge=1)] = 3,
    baselines: Annotated[bool, Form()] = False,
    candidate: Annotated[str, Form(max_length=200_000)] = "",
) -> Response:
    """Run a comparison as the API's POST /simulations does, and show it."""
    check_csrf(user, csrf)
    form = SimulationForm(arrivals, tickets, days, seeds, baselines, candidate)
    now = state.clock()
    yaml_text = candidate.replace("\r\n", "\n").strip()
    spec = simulations.SimulationSpec(
        arrivals="stored" if arrivals == "stored" else "generated",
        tickets=tickets,
        days=float(days),
        since=now - timedelta(days=days) if arrivals == "stored" else None,
        until=None,
        candidates=[simulations.Candidate("candidate", yaml_text)] if yaml_text else [],
        baselines=baselines,
        seeds=seeds,
        seed=0,
    )
    try:
        result = simulations.run(uow=state.uow, cache=state.cache, spec=spec, now=now)
    except AffrouteError as exc:
        problem = "; ".join(_problems(exc))
        return _simulate_page(request, user, form, 422, problem=problem)
    names = list(result.table)
    breach = [result.table[p]["sla_breach_rate"].mean for p in names]
    shown = [None if math.isnan(b) else round(100 * b, 2) for b in breach]
    breach_chart = bar(names, shown, "% breached")
    return _simulate_page(
        request, user, form, result=result, policies=names, breach_chart=breach_chart
    )


# -- tuning ------------------------------------------------------------------------------


def _tuning_page(
    request: Request, state: AppState, user: WebUser, status: int = 200, **context: Any
) -> HTMLResponse:
    rows = state.uow.run(lambda s: tuning.listed(session=s))
    return render(request, "tuning.html", user, status, active="tuning", proposals=rows, **context)


@router.get("/tuning")
def tuning_page(request: Request, state: StateDep, user: Staff) -> Response:
    return _tuning_page(request, state, user)


@router.post("/tuning/run")
def tuning_run(
    request: Request, state: StateDep, user: Staff, csrf: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(user, csrf)
    now = state.clock()
    since = now - timedelta(days=state.settings.tune_window_days)
    row = state.uow.run(
        lambda s: tuning.propose(session=s, routing=state.cache.current(s), now=now, since=since)
    )
    message = (
        "A new proposal awaits review." if row else "Nothing to propose (or proposed already)."
    )
    return _tuning_page(request, state, user, message=message)


@router.post("/tuning/{proposal_id}/{decision}")
def tuning_decide(
    proposal_id: str,
    decision: str,
    request: Request,
    state: StateDep,
    user: AdminUser,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(user, csrf)
    act = {"accept": tuning.accept, "dismiss": tuning.dismiss}.get(decision)
    if act is None:
        raise NotFoundError(f"no such action {decision!r}")
    now, actor = state.clock(), f"user:{user.username}"
    try:
        row = state.uow.run(lambda s: act(session=s, proposal_id=proposal_id, actor=actor, now=now))
    except AffrouteError as exc:
        return _tuning_page(request, state, user, 409, problem=exc.message)
    done = f"Activated as version {row.applied_version}." if row.applied_version else "Dismissed."
    return _tuning_page(request, state, user, message=done)


# -- assets and errors ---------------------------------------------------------------------


@router.get("/static/vendor/{name}")
def vendor_file(name: str, state: StateDep) -> Response:
    if name not in VENDOR_FILES:
        raise NotFoundError(f"no such file {name!r}")
    package, inside = VENDOR_FILES[name]
    path = state.settings.web_packages / package / inside
    if not path.is_file():
        raise NotFoundError(f"{package} is not installed; run `make` (npm ci in web/)")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    path = HERE / "static" / name
    if name not in ("app.css", "app.js") or not path.is_file():
        raise NotFoundError(f"no such file {name!r}")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=300"})


def install(app: FastAPI) -> None:
    """Add the pages and the handlers that turn sign-in problems into pages."""
    app.include_router(router)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        if request.headers.get("HX-Request"):  # a polled fragment: reload into the login
            return Response(status_code=200, headers={"HX-Redirect": login_url(exc.next_path)})
        return RedirectResponse(login_url(exc.next_path), status_code=303)

    api_errors = app.exception_handlers[AffrouteError]

    @app.exception_handler(AffrouteError)
    async def _error(request: Request, exc: AffrouteError) -> Response:
        if request.url.path.startswith("/api/"):
            answer = api_errors(request, exc)
            return answer if isinstance(answer, Response) else await answer
        return await run_in_threadpool(
            render, request, "message.html", None, exc.status,
            heading="Not found" if exc.status == 404 else "That did not work",
            message=exc.message,
        )  # fmt: skip

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, exc: PageForbidden) -> Response:
        return await run_in_threadpool(
            render, request, "message.html", None, 403,
            heading="Not for your role", message="Your account cannot open this page.",
        )  # fmt: skip

    @app.exception_handler(BadCsrf)
    async def _bad_form(request: Request, exc: BadCsrf) -> Response:
        return await run_in_threadpool(
            render, request, "message.html", None, 403,
            heading="This form has expired",
            message="Please go back, reload the page and try again.",
        )  # fmt: skip
