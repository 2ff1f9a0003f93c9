"""Satisfaction computed from the stored surveys: CSAT, NPS and response rate by team,
agent, priority, category, partner tier or engagement band, overall and week by week.

What each routing decision led to (CSAT, resolution time, reopens, reassignments) is a
metric on the ticket facts: ``affroute.analytics.metrics.routing_outcomes``.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from affroute.store.models import SurveyRow


class Dimension(StrEnum):
    TEAM = "team"
    AGENT = "agent_id"
    PRIORITY = "priority"
    CATEGORY = "category"
    PARTNER_TIER = "partner_tier"
    ENGAGEMENT = "engagement_band"


@dataclass
class _Tally:
    issued: int = 0
    csat: list[int] = field(default_factory=list)
    nps: list[int] = field(default_factory=list)

    def add(self, csat: int | None, nps: int | None) -> None:
        self.issued += 1
        if csat is not None:
            self.csat.append(csat)
        if nps is not None:
            self.nps.append(nps)


@dataclass(frozen=True, slots=True)
class Satisfaction:
    group: str
    week: date | None  # the Monday of the week; None for the whole period
    surveys: int
    responses: int
    response_rate: float | None
    csat: float | None
    nps: float | None  # % promoters (9-10) minus % detractors (0-6), -100..100

    @staticmethod
    def of(group: str, week: date | None, tally: _Tally) -> Satisfaction:
        responses = max(len(tally.csat), len(tally.nps))
        return Satisfaction(
            group=group,
            week=week,
            surveys=tally.issued,
            responses=responses,
            response_rate=responses / tally.issued if tally.issued else None,
            csat=statistics.fmean(tally.csat) if tally.csat else None,
            nps=net_promoter_score(tally.nps),
        )


def net_promoter_score(scores: Iterable[int]) -> float | None:
    values = list(scores)
    promoters = sum(1 for v in values if v >= 9)
    detractors = sum(1 for v in values if v <= 6)
    return nps_of_counts(promoters, detractors, len(values))


def nps_of_counts(promoters: int, detractors: int, answers: int) -> float | None:
    """% promoters (9-10) minus % detractors (0-6) of the NPS answers; None without any."""
    return 100.0 * (promoters - detractors) / answers if answers else None


def monday(at: datetime) -> date:
    day = at.date()
    return day - timedelta(days=day.weekday())


def _window(
    column: InstrumentedAttribute[datetime], since: datetime | None, until: datetime | None
) -> list[ColumnElement[bool]]:
    conditions = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return conditions


def satisfaction(
    *,
    session: Session,
    by: Dimension,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Satisfaction]:
    """Per group: the whole period first (``week`` None), then each week, oldest first.

    Surveys count from the week their ticket was solved; the response rate counts the
    surveys that went out (not those still waiting for their delay).
    """
    column = getattr(SurveyRow, by.value)
    window = _window(SurveyRow.created_at, since, until)
    rows = session.execute(
        select(column, SurveyRow.created_at, SurveyRow.csat, SurveyRow.nps).where(
            SurveyRow.status != "scheduled", *window
        )
    )
    overall: dict[str, _Tally] = defaultdict(_Tally)
    weekly: dict[tuple[str, date], _Tally] = defaultdict(_Tally)
    for group, created, csat, nps in rows:
        name = group if group is not None else "(none)"
        overall[name].add(csat, nps)
        weekly[(name, monday(created))].add(csat, nps)
    result = []
    for name in sorted(overall):
        result.append(Satisfaction.of(name, None, overall[name]))
        weeks = sorted(week for group, week in weekly if group == name)
        result.extend(Satisfaction.of(name, week, weekly[(name, week)]) for week in weeks)
    return result


def overall(
    *, session: Session, since: datetime | None = None, until: datetime | None = None
) -> Satisfaction:
    """CSAT, NPS and response rate over every survey that went out in the window."""
    window = _window(SurveyRow.created_at, since, until)
    tally = _Tally()
    rows = session.execute(
        select(SurveyRow.csat, SurveyRow.nps).where(SurveyRow.status != "scheduled", *window)
    )
    for csat, nps in rows:
        tally.add(csat, nps)
    return Satisfaction.of("all", None, tally)
