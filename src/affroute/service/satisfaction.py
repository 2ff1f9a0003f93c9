"""Satisfaction and routing outcomes, computed from stored surveys, decisions and events.

- ``satisfaction``: CSAT, NPS and response rate by team, agent, priority, category, partner
  tier or engagement band, overall and week by week.
- ``routing_outcomes``: for what made each ticket's first decision (a rule, the model, the
  default) or the team it chose: CSAT, resolution time, reopen and reassignment rates.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from affroute.service.history import KINDS, History
from affroute.store.models import DecisionRow, SurveyRow, TicketEventRow, TicketRow


class Dimension(StrEnum):
    TEAM = "team"
    AGENT = "agent_id"
    PRIORITY = "priority"
    CATEGORY = "category"
    PARTNER_TIER = "partner_tier"
    ENGAGEMENT = "engagement_band"


class OutcomeKey(StrEnum):
    DECIDED_BY = "decided_by"  # rule:<name>, model:<name>, default
    TEAM = "team"


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


@dataclass(frozen=True, slots=True)
class RoutingOutcome:
    group: str
    tickets: int
    solved: int
    csat: float | None
    responses: int
    median_resolution_hours: float | None
    mean_resolution_hours: float | None
    reopen_rate: float | None
    reassignment_rate: float  # share of tickets moved to another team by a person


@dataclass
class _Outcomes:
    tickets: int = 0
    resolution_hours: list[float] = field(default_factory=list)
    reopened: int = 0
    reassigned: int = 0
    csat: list[int] = field(default_factory=list)


def routing_outcomes(
    *,
    session: Session,
    by: OutcomeKey,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[RoutingOutcome]:
    """Outcomes of the tickets created in the window, grouped by their first decision."""
    first = (
        select(DecisionRow.ticket_id, func.min(DecisionRow.id).label("first_id"))
        .group_by(DecisionRow.ticket_id)
        .subquery()
    )
    column = DecisionRow.team_source if by is OutcomeKey.DECIDED_BY else DecisionRow.team
    tickets = session.execute(
        select(TicketRow.id, TicketRow.created_at, column)
        .join(first, first.c.ticket_id == TicketRow.id)
        .join(DecisionRow, DecisionRow.id == first.c.first_id)
        .where(*_window(TicketRow.created_at, since, until))
    ).all()
    group_of = {ticket_id: group for ticket_id, _, group in tickets}
    created_at = {ticket_id: created for ticket_id, created, _ in tickets}
    tallies: dict[str, _Outcomes] = defaultdict(_Outcomes)
    for group in group_of.values():
        tallies[group].tickets += 1
    histories: dict[str, History] = defaultdict(History)
    events = session.execute(
        select(
            TicketEventRow.ticket_id, TicketEventRow.kind, TicketEventRow.data, TicketEventRow.at
        )
        .join(TicketRow, TicketRow.id == TicketEventRow.ticket_id)
        .where(TicketEventRow.kind.in_(KINDS), *_window(TicketRow.created_at, since, until))
        .order_by(TicketEventRow.id)
    )
    for ticket_id, kind, data, at in events:
        if ticket_id in group_of:
            histories[ticket_id].add(kind, data, at)
    for ticket_id, history in histories.items():
        tally = tallies[group_of[ticket_id]]
        if history.solved_at is not None:
            hours = (history.solved_at - created_at[ticket_id]).total_seconds() / 3600
            tally.resolution_hours.append(hours)
        tally.reopened += history.reopened
        tally.reassigned += history.misrouted
    answers = session.execute(
        select(SurveyRow.ticket_id, SurveyRow.csat).where(SurveyRow.csat.is_not(None))
    )
    for ticket_id, csat in answers:
        if ticket_id in group_of and csat is not None:
            tallies[group_of[ticket_id]].csat.append(csat)
    return [_outcome(group, tallies[group]) for group in sorted(tallies)]


def _outcome(group: str, tally: _Outcomes) -> RoutingOutcome:
    solved = len(tally.resolution_hours)
    return RoutingOutcome(
        group=group,
        tickets=tally.tickets,
        solved=solved,
        csat=statistics.fmean(tally.csat) if tally.csat else None,
        responses=len(tally.csat),
        median_resolution_hours=statistics.median(tally.resolution_hours) if solved else None,
        mean_resolution_hours=statistics.fmean(tally.resolution_hours) if solved else None,
        reopen_rate=tally.reopened / solved if solved else None,
        reassignment_rate=tally.reassigned / tally.tickets,
    )
