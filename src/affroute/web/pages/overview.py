"""The overview: the period's headline cards (polled) and the measurement table as charts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from affroute.analytics import metrics, operational
from affroute.analytics.memo import FactsMemo
from affroute.api.deps import StateDep
from affroute.service.keys import Role
from affroute.web.auth import Anyone, Staff
from affroute.web.pages.common import (
    TIERS,
    Filters,
    FiltersDep,
    bar,
    config_teams,
    metric_filters,
    percent,
    render,
    rounded,
)

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Period:
    """The facts-based figures both the cards and the charts show, read once per page."""

    compliance: list[metrics.SlaCompliance]
    misroutes: list[metrics.MisrouteRate]
    surveys: metrics.SurveyFigures

    @staticmethod
    def read(session: Session, chosen: metrics.Filters, memo: FactsMemo) -> Period:
        return memo.get(
            session,
            ("period", chosen),
            lambda: Period(
                compliance=metrics.sla_compliance(session=session, filters=chosen),
                misroutes=metrics.misroute_rate(session=session, filters=chosen),
                surveys=metrics.survey_figures(session=session, filters=chosen),
            ),
        )


def overview_cards(
    session: Session, filters: Filters, now: datetime, memo: FactsMemo, period: Period | None = None
) -> dict[str, Any]:
    """The live counts (from the tickets as they are) and the period's headline figures."""
    chosen = metric_filters(filters)
    period = period or Period.read(session, chosen, memo)
    queues = operational.open_queues(session=session, filters=chosen)
    soon = operational.about_to_breach(session=session, filters=chosen, now=now, limit=10_000)
    by_priority = [r for r in period.compliance if r.axis == "priority"]
    clocked = sum(r.tickets for r in by_priority)
    breached = sum(r.breached for r in by_priority)
    overall = next((m for m in period.misroutes if m.decided_by == "all"), None)
    happy = period.surveys.overall
    return {
        "open_tickets": sum(q.open for q in queues),
        "queued": sum(q.waiting for q in queues),
        "about_to_breach": len(soon),
        "sla_compliance": percent(1 - breached / clocked if clocked else None),
        "misroute_rate": percent(overall.misroute_rate if overall else None),
        "csat": "—" if happy.csat is None else f"{happy.csat:.2f}",
        "nps": "—" if happy.nps is None else f"{happy.nps:+.0f}",
    }


def overview_charts(
    session: Session, filters: Filters, period: Period, memo: FactsMemo
) -> dict[str, Any]:
    """Every row of the measurement table, as charts (and the correlation's figures)."""
    changes = metrics.config_changes(session=session)
    key = ("charts", metric_filters(filters), tuple(c.version for c in changes))
    return memo.get(session, key, lambda: _charts(session, filters, period, changes))


def _charts(
    session: Session, filters: Filters, period: Period, changes: list[metrics.ConfigChange]
) -> dict[str, Any]:
    chosen = metric_filters(filters)
    around = "latest" if len(changes) >= 2 else None
    resolution = metrics.resolution_by_segment(session=session, filters=chosen, around=around)
    segments_shown = list(dict.fromkeys(r.segment for r in resolution))
    periods = list(dict.fromkeys(r.period for r in resolution))
    by_key = {(r.period, r.segment): r for r in resolution}
    engagement = [r for r in period.surveys.by_engagement if r.week is None]
    trend = period.surveys.trend
    attribution = metrics.attribution_errors(session=session, filters=chosen)
    correlation = metrics.score_resolution_correlation(session=session, filters=chosen)
    tiers = [r for r in period.compliance if r.axis == "partner_tier"]
    misroutes = [m for m in period.misroutes if m.decided_by != "all"]
    return {
        "resolution": {
            "type": "bar",
            "data": {
                "labels": segments_shown,
                "datasets": [
                    {
                        "label": f"median hours ({period})",
                        "data": [
                            rounded(by_key[(period, seg)].median_hours)
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
            [rounded(r.csat) for r in engagement],
            "average CSAT",
            scales={"y": {"min": 1, "max": 5}},
        ),
        "csat_trend": {
            "type": "line",
            "data": {
                "labels": [r.week.isoformat() for r in trend if r.week],
                "datasets": [
                    {"label": "weekly CSAT", "data": [rounded(r.csat) for r in trend if r.week]}
                ],
            },
            "options": {"scales": {"y": {"min": 1, "max": 5}}},
        },
        "misroutes": bar(
            [m.decided_by for m in misroutes],
            [
                rounded(100 * m.misroute_rate if m.misroute_rate is not None else None, 1)
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
                            {"x": (b.low + b.high) / 2, "y": rounded(b.median_hours)}
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


def warm(session: Session, memo: FactsMemo) -> None:
    """Compute the unfiltered overview's facts-based figures into ``memo`` (after a refresh
    changed the facts), so the page most people open answers from memory; only once
    someone has opened it, so that no work is spent on a dashboard nobody looks at."""
    if not memo.asked(("period", metrics.Filters())):
        return
    period = Period.read(session, metrics.Filters(), memo)
    overview_charts(session, Filters(), period, memo)


@router.get("/")
def overview(request: Request, state: StateDep, user: Anyone, filters: FiltersDep) -> Response:
    if user.role is Role.AGENT:
        return RedirectResponse("/tickets", status_code=303)
    now = state.clock()

    def work(session: Session) -> dict[str, Any]:
        period = Period.read(session, metric_filters(filters), state.facts_memo)
        return {
            "cards": overview_cards(session, filters, now, state.facts_memo, period),
            "charts": overview_charts(session, filters, period, state.facts_memo),
            "teams": config_teams(state, session),
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
    cards = state.uow.run(lambda s: overview_cards(s, filters, now, state.facts_memo))
    return render(request, "_overview_cards.html", user, cards=cards)
