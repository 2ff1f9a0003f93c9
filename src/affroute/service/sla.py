"""SLA use cases: keep each ticket's clocks current and fire escalation steps exactly once.

Clocks are recomputed from the ticket's event log whenever the ticket changes (a pure
function in ``affroute.sla``), and stored on the ticket with ``sla_check_at``: the next
instant a step or deadline comes due. Sweepers take due tickets ``FOR UPDATE SKIP
LOCKED`` (several may run at once), and a fired step is a row in ``escalations`` whose
unique key (ticket, policy, step) makes a second fire impossible, also after a restart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from affroute.config import EscalationAction, EscalationStep, RoutingConfig, SlaPolicy
from affroute.domain import PRIORITY_RANK, Priority
from affroute.engine import sla_policy_for
from affroute.service.runtime import RoutingCache
from affroute.service.uow import UnitOfWork
from affroute.sla import BusinessCalendar, SlaState, TicketEvent, sla_state
from affroute.store.db import upsert_statement
from affroute.store.models import (
    OPEN_STATUSES,
    EscalationRow,
    PartnerRow,
    TicketEventRow,
    TicketRow,
)

_OPEN = [s.value for s in OPEN_STATUSES]
SWEEP_ACTOR = "sla"
# How often an open ticket with breach steps still to fire is forecast again.
FORECAST_EVERY = timedelta(minutes=10)


class CalendarCache:
    """Business calendars of one configuration version, built once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self._calendars: dict[str, BusinessCalendar] = {}

    def get(self, config: RoutingConfig, name: str) -> BusinessCalendar:
        with self._lock:
            if self._version != config.version:
                self._version, self._calendars = config.version, {}
            calendar = self._calendars.get(name)
            if calendar is None:
                calendar = self._calendars[name] = BusinessCalendar(config.calendars[name])
            return calendar


CALENDARS = CalendarCache()


def policy_of(config: RoutingConfig, row: TicketRow) -> SlaPolicy | None:
    return next((p for p in config.sla_policies if p.name == row.sla_policy), None)


def step_due(
    step: EscalationStep,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    state: SlaState,
    now: datetime,
) -> datetime:
    """When a step comes due on a running clock: once the resolution clock has run a
    fraction of its target, or a business-time age (time paused does not count)."""
    if step.at_fraction is not None:
        threshold = policy.resolution * step.at_fraction
    else:
        assert step.after is not None  # the loader requires exactly one of the two
        threshold = step.after
    left = threshold - state.resolution_elapsed
    return now if left <= timedelta(0) else calendar.add(now, left)


@dataclass(slots=True)
class Refreshed:
    state: SlaState | None
    due_steps: list[tuple[int, EscalationStep]] = field(default_factory=list)


def refresh(*, session: Session, config: RoutingConfig, row: TicketRow, now: datetime) -> Refreshed:
    """Recompute the ticket's clocks from its events; store them and the next check instant."""
    policy = policy_of(config, row)
    if policy is None:
        row.sla_status, row.sla_check_at = None, None
        return Refreshed(None)
    fired = set(
        session.scalars(
            select(EscalationRow.step).where(
                EscalationRow.ticket_id == row.id, EscalationRow.policy == policy.name
            )
        )
    )
    return _clocks(config, policy, row, _history(session, row), fired, now)


def start_clocks(*, config: RoutingConfig, row: TicketRow, now: datetime) -> None:
    """The clocks of a ticket just created (no stored history to read yet)."""
    policy = policy_of(config, row)
    if policy is not None:
        _clocks(config, policy, row, [(row.created_at, "created", {})], set(), now)


def _history(session: Session, row: TicketRow) -> list[TicketEvent]:
    rows = session.execute(
        select(TicketEventRow.at, TicketEventRow.kind, TicketEventRow.data)
        .where(TicketEventRow.ticket_id == row.id)
        .order_by(TicketEventRow.id)
    )
    # The clocks start when the partner wrote, which an import may date before it was stored.
    return [(row.created_at if kind == "created" else at, kind, data) for at, kind, data in rows]


def _clocks(
    config: RoutingConfig,
    policy: SlaPolicy,
    row: TicketRow,
    history: list[TicketEvent],
    fired: set[int],
    now: datetime,
) -> Refreshed:
    calendar = CALENDARS.get(config, policy.calendar)
    state = sla_state(history, policy=policy, calendar=calendar, now=now)
    row.first_response_by = state.first_response_by
    row.next_response_by = state.next_response_by
    row.resolution_by = state.resolution_by
    row.sla_status = state.status.value
    row.sla_paused_seconds = state.paused_for.total_seconds()
    if row.status not in _OPEN or state.paused:
        row.sla_check_at = None  # stopped clocks come due only after a change
        return Refreshed(state)
    pending = [
        (step_due(step, policy, calendar, state, now), index, step)
        for index, step in enumerate(policy.escalations)
        if index not in fired
    ]
    deadlines = [state.first_response_by, state.next_response_by, state.resolution_by]
    upcoming = [due for due, _, _ in pending] + [d for d in deadlines if d is not None and d > now]
    if any(step.at_fraction is not None and step.at_fraction >= 1.0 for _, _, step in pending):
        upcoming.append(now + FORECAST_EVERY)  # look again soon: a breach may become likely
    row.sla_check_at = min(upcoming, default=None)
    return Refreshed(state, [(index, step) for due, index, step in pending if due <= now])


@dataclass(slots=True)
class SweepResult:
    examined: int = 0
    fired: int = 0
    predicted: int = 0  # of the fired steps, those fired early on a predicted breach
    by_action: dict[str, int] = field(default_factory=dict)


def sweep(
    *,
    uow: UnitOfWork,
    cache: RoutingCache,
    now: datetime,
    limit: int = 500,
    actor: str = SWEEP_ACTOR,
) -> SweepResult:
    """Fire every step that has come due on up to ``limit`` tickets nobody else is sweeping.

    Each ticket is handled in its own transaction: a reassignment frees one agent and takes
    another, and two sweepers holding several tickets' agent rows at once would deadlock.
    """
    due_ids = uow.run(
        lambda s: list(
            s.scalars(
                select(TicketRow.id)
                .where(TicketRow.sla_check_at <= now, TicketRow.status.in_(_OPEN))
                .order_by(TicketRow.sla_check_at)
                .limit(limit)
            )
        )
    )
    result = SweepResult()
    forecast = Forecast(now)
    for ticket_id in due_ids:
        uow.run(partial(_sweep_ticket, cache=cache, forecast=forecast, ticket_id=ticket_id,
                        now=now, actor=actor, result=result))  # fmt: skip
    return result


def _sweep_ticket(
    session: Session,
    *,
    cache: RoutingCache,
    forecast: Forecast,
    ticket_id: str,
    now: datetime,
    actor: str,
    result: SweepResult,
) -> None:
    row = session.scalars(
        select(TicketRow)
        .where(
            TicketRow.id == ticket_id, TicketRow.sla_check_at <= now, TicketRow.status.in_(_OPEN)
        )
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        return  # another sweeper has it, or a change made it no longer due
    result.examined += 1
    config = cache.current(session).config
    refreshed = refresh(session=session, config=config, row=row, now=now)
    policy = policy_of(config, row)
    if policy is None or refreshed.state is None:
        return
    due: list[tuple[int, EscalationStep, datetime | None]] = [
        (index, step, None) for index, step in refreshed.due_steps
    ]
    expected = forecast.resolution(session, row)
    if expected is not None and expected > refreshed.state.resolution_by:
        # Predicted to breach: the steps meant for the breach fire now, and say why.
        due += [
            (index, step, expected)
            for index, step in enumerate(policy.escalations)
            if step.at_fraction is not None
            and step.at_fraction >= 1.0
            and index not in {i for i, _, _ in due}
        ]
    fired = 0
    for index, step, predicted in due:
        if _claim(session, row.id, policy.name, index, step, now, actor, predicted):
            _apply(session, cache, row, policy, index, step, actor, now, predicted)
            fired += 1
            result.predicted += predicted is not None
            result.by_action[step.action.value] = result.by_action.get(step.action.value, 0) + 1
    result.fired += fired
    if fired:  # the steps changed the ticket (and its next check): read the clocks again
        refresh(session=session, config=config, row=row, now=now)


class Forecast:
    """When a team will likely resolve a ticket, from its recent throughput and pace.

    A waiting ticket starts after the tickets ahead of it in the queue at the rate the
    team solved tickets over the last day, then takes the team's median time to solve;
    an assigned ticket takes that median from its creation. No history, no forecast.
    """

    WINDOW = timedelta(days=1)
    SAMPLE = 200

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._teams: dict[str, tuple[float, timedelta] | None] = {}

    def _team(self, session: Session, team: str) -> tuple[float, timedelta] | None:
        if team not in self._teams:
            solved = list(
                session.execute(
                    select(TicketRow.created_at, TicketEventRow.at)
                    .join(TicketEventRow, TicketEventRow.ticket_id == TicketRow.id)
                    .where(
                        TicketRow.team == team,
                        TicketEventRow.kind == "status_changed",
                        TicketEventRow.data["to"].as_string() == "solved",
                        TicketEventRow.at > self.now - self.WINDOW,
                        TicketEventRow.at <= self.now,
                        TicketRow.status.in_(["solved", "closed"]),
                    )
                    .order_by(TicketEventRow.at.desc())
                    .limit(self.SAMPLE)
                )
            )
            if not solved:
                self._teams[team] = None
            else:
                per_hour = len(solved) / (self.WINDOW.total_seconds() / 3600)
                spans = sorted(done - created for created, done in solved)
                self._teams[team] = (per_hour, spans[len(spans) // 2])
        return self._teams[team]

    def resolution(self, session: Session, row: TicketRow) -> datetime | None:
        pace = self._team(session, row.team)
        if pace is None:
            return None
        per_hour, median = pace
        if row.agent_id is not None:
            return max(self.now, row.created_at + median)
        ahead = session.scalar(
            select(func.count())
            .select_from(TicketRow)
            .where(
                TicketRow.team == row.team,
                TicketRow.queued.is_(True),
                TicketRow.priority_rank <= row.priority_rank,
                TicketRow.created_at < row.created_at,
            )
        )
        return self.now + timedelta(hours=(ahead or 0) / per_hour) + median


def _claim(
    session: Session,
    ticket_id: str,
    policy: str,
    index: int,
    step: EscalationStep,
    now: datetime,
    actor: str,
    predicted: datetime | None = None,
) -> bool:
    """Record the step as fired; False if it already was (by anyone, at any time)."""
    statement = (
        upsert_statement(session, EscalationRow)
        .values(
            ticket_id=ticket_id,
            policy=policy,
            step=index,
            action=step.action.value,
            predicted=predicted is not None,
            fired_at=now,
            fired_by=actor,
        )
        .on_conflict_do_nothing(index_elements=["ticket_id", "policy", "step"])
    )
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def _apply(
    session: Session,
    cache: RoutingCache,
    row: TicketRow,
    policy: SlaPolicy,
    index: int,
    step: EscalationStep,
    actor: str,
    now: datetime,
    predicted: datetime | None = None,
) -> None:
    from affroute.service import tickets  # the ticket use cases also refresh clocks

    config = cache.current(session).config
    data: dict[str, object] = {"policy": policy.name, "step": index, "action": step.action.value}
    if predicted is not None:
        data["predicted_breach"] = True
        data["expected_resolution"] = predicted.isoformat()
    session.add(TicketEventRow(ticket_id=row.id, kind="escalated", actor=actor, data=data, at=now))
    if step.action is EscalationAction.RAISE_PRIORITY:
        current = PRIORITY_RANK[Priority(row.priority)]
        target = step.priority or Priority(f"p{max(1, current - 1)}")
        if PRIORITY_RANK[target] < current:
            previous, row.priority = row.priority, target.value
            row.priority_rank = PRIORITY_RANK[target]
            if policy.priorities:  # chosen for the old priority: the new one's policy applies
                tier = session.scalar(
                    select(PartnerRow.tier).where(PartnerRow.id == row.partner_id)
                )
                row.sla_policy = sla_policy_for(config, target, tier, row.team) or row.sla_policy
            changed = {"from": previous, "to": target.value, "reason": "sla escalation"}
            session.add(
                TicketEventRow(
                    ticket_id=row.id, kind="priority_changed", actor=actor, data=changed, at=now
                )
            )
    elif step.action is EscalationAction.ADD_TAG and step.tag and step.tag not in row.tags:
        row.tags = [*row.tags, step.tag]
    elif step.action is EscalationAction.REASSIGN:
        tickets.reassign(
            session=session,
            cache=cache,
            ticket_id=row.id,
            team=step.team,
            agent_id=step.agent,
            reason=f"SLA escalation: {policy.name} step {index + 1}",
            actor=actor,
            now=now,
            escalation=True,
        )
    row.updated_at = now


# Statuses whose clock runs (the board shows these); the others are paused or final.
_RUNNING = ("first_response_due", "resolution_due", "breached")


def board(
    *, session: Session, now: datetime, team: str | None, agent_id: str | None, limit: int
) -> list[tuple[TicketRow, datetime]]:
    """Open tickets with a running clock and their nearest deadline, least time left first."""
    query = select(TicketRow).where(TicketRow.status.in_(_OPEN), TicketRow.sla_status.in_(_RUNNING))
    if team is not None:
        query = query.where(TicketRow.team == team)
    if agent_id is not None:
        query = query.where(TicketRow.agent_id == agent_id)
    with_due = [(row, due) for row in session.scalars(query) if (due := nearest_deadline(row))]
    with_due.sort(key=lambda pair: (pair[1], pair[0].id))
    return with_due[:limit]


def nearest_deadline(row: TicketRow) -> datetime | None:
    """The earliest deadline still running: first response until answered, then the rest."""
    candidates = [row.next_response_by, row.resolution_by]
    if row.sla_status == "first_response_due":
        candidates.append(row.first_response_by)
    return min((d for d in candidates if d is not None), default=None)


@dataclass(frozen=True, slots=True)
class GroupCounts:
    key: str
    tickets: int
    breached: int
    escalated: int

    @property
    def compliance(self) -> float:
        """Share of tickets with a clock that did not breach."""
        return round(1 - self.breached / self.tickets, 4) if self.tickets else 1.0


def stats(
    *, session: Session, created_from: datetime | None, created_to: datetime | None
) -> dict[str, list[GroupCounts]]:
    """Tickets with a clock, breaches and escalations per team, priority and partner tier."""
    escalated = select(EscalationRow.ticket_id).distinct().subquery()
    query = (
        select(
            TicketRow.team,
            TicketRow.priority,
            func.coalesce(PartnerRow.tier, "unknown"),
            func.count(),
            func.sum(case((TicketRow.sla_status == "breached", 1), else_=0)),
            func.count(escalated.c.ticket_id),
        )
        .outerjoin(PartnerRow, PartnerRow.id == TicketRow.partner_id)
        .outerjoin(escalated, escalated.c.ticket_id == TicketRow.id)
        .where(TicketRow.sla_status.is_not(None))
        .group_by(TicketRow.team, TicketRow.priority, PartnerRow.tier)
    )
    if created_from is not None:
        query = query.where(TicketRow.created_at >= created_from)
    if created_to is not None:
        query = query.where(TicketRow.created_at < created_to)
    groups: dict[str, dict[str, list[int]]] = {"team": {}, "priority": {}, "tier": {}}
    for team, priority, tier, tickets, breached, escalations in session.execute(query):
        for axis, key in (("team", team), ("priority", priority), ("tier", tier)):
            totals = groups[axis].setdefault(key, [0, 0, 0])
            totals[0] += tickets
            totals[1] += int(breached or 0)
            totals[2] += escalations

    return {
        axis: [GroupCounts(key, *totals) for key, totals in sorted(by_key.items())]
        for axis, by_key in groups.items()
    }


def recompute_all(
    *, session: Session, cache: RoutingCache, now: datetime, include_closed: bool = False
) -> int:
    """Recompute the clocks of every (open) ticket, e.g. after a calendar or policy change."""
    config = cache.current(session).config
    query = select(TicketRow).order_by(TicketRow.id)
    if not include_closed:
        query = query.where(TicketRow.status.in_(_OPEN))
    count = 0
    for row in session.scalars(query):
        refresh(session=session, config=config, row=row, now=now)
        count += 1
    return count
