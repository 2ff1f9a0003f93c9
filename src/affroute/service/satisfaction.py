"""Satisfaction computed from the stored surveys: CSAT, NPS and response rate by team,
agent, priority, category, partner tier or engagement band, overall and week by week.

What each routing decision led to (CSAT, resolution time, reopens, reassignments) is a
metric on the ticket facts: ``affroute.analytics.metrics.routing_outcomes``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, func, null, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from affroute.store.db import week_start
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
    csat_count: int = 0
    csat_sum: int = 0
    nps_count: int = 0
    promoters: int = 0
    detractors: int = 0

    def add(self, counts: Sequence[int]) -> None:
        """Add (issued, csat answers, their sum, NPS answers, promoters, detractors)."""
        self.issued += counts[0]
        self.csat_count += counts[1]
        self.csat_sum += counts[2]
        self.nps_count += counts[3]
        self.promoters += counts[4]
        self.detractors += counts[5]


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
        responses = max(tally.csat_count, tally.nps_count)
        return Satisfaction(
            group=group,
            week=week,
            surveys=tally.issued,
            responses=responses,
            response_rate=responses / tally.issued if tally.issued else None,
            csat=tally.csat_sum / tally.csat_count if tally.csat_count else None,
            nps=nps_of_counts(tally.promoters, tally.detractors, tally.nps_count),
        )


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
    weekly: bool = True,
) -> list[Satisfaction]:
    """Per group: the whole period first (``week`` None), then each week, oldest first
    (without ``weekly``, the whole period only: no week is worked out per survey).

    Surveys count from the week their ticket was solved; the response rate counts the
    surveys that went out (not those still waiting for their delay). Counted in SQL, per
    group and week: the figures come back, not the surveys.
    """
    column = getattr(SurveyRow, by.value)
    week = week_start(session, SurveyRow.created_at) if weekly else null()
    window = _window(SurveyRow.created_at, since, until)
    rows = session.execute(
        select(
            column, week,
            func.count(), func.count(SurveyRow.csat), func.coalesce(func.sum(SurveyRow.csat), 0),
            func.count(SurveyRow.nps), func.count().filter(SurveyRow.nps >= 9),
            func.count().filter(SurveyRow.nps <= 6),
        )
        .where(SurveyRow.status != "scheduled", *window)
        .group_by(column, *([week] if weekly else []))
    )  # fmt: skip
    overall: dict[str, _Tally] = defaultdict(_Tally)
    by_week: dict[tuple[str, date], _Tally] = defaultdict(_Tally)
    for group, monday_of, *counts in rows:
        name = group if group is not None else "(none)"
        numbers = [int(c or 0) for c in counts]
        overall[name].add(numbers)
        if weekly:
            by_week[(name, monday_of)].add(numbers)
    result = []
    for name in sorted(overall):
        result.append(Satisfaction.of(name, None, overall[name]))
        weeks = sorted(week for group, week in by_week if group == name)
        result.extend(Satisfaction.of(name, week, by_week[(name, week)]) for week in weeks)
    return result
