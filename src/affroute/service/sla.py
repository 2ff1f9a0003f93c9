"""SLA use cases: keep each ticket's clocks current and fire escalation steps exactly once.

Clocks are recomputed from the ticket's event log whenever the ticket changes (a pure
function in ``affroute.sla``) and stored on the ticket: the deadlines, the status, the
business time the resolution clock had run and when that was read, and ``sla_check_at``,
the next instant a step or deadline comes due. Between two changes a running clock only
moves on, so the sweeper carries the stored reading forward to its ``now`` instead of
replaying the events; it replays only tickets whose policy it changes, or whose reading is
missing (rows stored before the reading was) or later than its ``now``.

The sweeper works a batch of due tickets per transaction. It locks the batch ``FOR UPDATE
SKIP LOCKED`` (several sweepers may run at once), records every step that came due in the
ledger with one ``INSERT .. ON CONFLICT DO NOTHING RETURNING``, and applies only the steps
its insert returned, in the same transaction: the ledger's unique key (ticket, policy,
step) lets each step fire once, also across sweepers and restarts.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from affroute.config import EscalationAction, EscalationStep, RoutingConfig, SlaPolicy
from affroute.domain import PRIORITY_RANK, Priority
from affroute.engine import AgentPool, WorkItem, sla_policy_for
from affroute.service import outbox
from affroute.service.assignment import pull_for_agent, skills_from_json, team_pool
from affroute.service.errors import ConflictError
from affroute.service.runtime import RoutingCache
from affroute.service.uow import UnitOfWork
from affroute.sla import PAUSE_STATUSES, BusinessCalendar, SlaStatus, TicketEvent, sla_state
from affroute.store.db import upsert_statement
from affroute.store.models import (
    OPEN_STATUSES,
    AgentRow,
    AgentTeamRow,
    EscalationRow,
    PartnerRow,
    TicketEventRow,
    TicketRow,
)

_OPEN = tuple(s.value for s in OPEN_STATUSES)
_CLOCK_RUNS = frozenset(s.value for s in OPEN_STATUSES if s not in PAUSE_STATUSES)
SWEEP_ACTOR = "sla"
# How often an open ticket with breach steps still to fire is forecast again.
FORECAST_EVERY = timedelta(minutes=10)
_US = timedelta(microseconds=1)
# Tickets per sweep transaction: enough that statements, not round trips, dominate; few
# enough that a transaction holds its locks briefly.
BATCH = 500


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


def _threshold(step: EscalationStep, policy: SlaPolicy) -> timedelta:
    """The resolution clock's business time at which a step comes due."""
    if step.at_fraction is not None:
        return policy.resolution * step.at_fraction
    assert step.after is not None  # the loader requires exactly one of the two
    return step.after


def _breach_step(step: EscalationStep) -> bool:
    """A step meant for the breach: a forecast breach fires it early."""
    return step.at_fraction is not None and step.at_fraction >= 1.0


@dataclass(slots=True)
class Clocks:
    """A ticket's stored SLA columns: its clocks as read at ``computed_at``, the next check."""

    first_response_by: datetime | None = None
    next_response_by: datetime | None = None
    resolution_by: datetime | None = None
    status: str | None = None
    paused_seconds: float = 0.0
    elapsed_seconds: float = 0.0  # business time the resolution clock had run
    computed_at: datetime | None = None
    check_at: datetime | None = None

    @classmethod
    def of(cls, row: TicketRow) -> Clocks:
        return cls(
            row.first_response_by,
            row.next_response_by,
            row.resolution_by,
            row.sla_status,
            row.sla_paused_seconds,
            row.sla_elapsed_seconds,
            row.sla_computed_at,
            row.sla_check_at,
        )

    def columns(self) -> dict[str, Any]:
        """The values by ``TicketRow`` attribute."""
        return {
            "first_response_by": self.first_response_by,
            "next_response_by": self.next_response_by,
            "resolution_by": self.resolution_by,
            "sla_status": self.status,
            "sla_paused_seconds": self.paused_seconds,
            "sla_elapsed_seconds": self.elapsed_seconds,
            "sla_computed_at": self.computed_at,
            "sla_check_at": self.check_at,
        }

    def store(self, row: TicketRow) -> None:
        for name, value in self.columns().items():
            setattr(row, name, value)


def replayed(
    policy: SlaPolicy, calendar: BusinessCalendar, history: Iterable[TicketEvent], now: datetime
) -> Clocks:
    """The clocks at ``now`` from the ticket's events (``check_at`` not set yet)."""
    state = sla_state(history, policy=policy, calendar=calendar, now=now)
    return Clocks(
        state.first_response_by,
        state.next_response_by,
        state.resolution_by,
        state.status.value,
        state.paused_for.total_seconds(),
        state.resolution_elapsed.total_seconds(),
        now,
    )


_RUNNING_STATUSES = frozenset(
    {SlaStatus.FIRST_RESPONSE_DUE.value, SlaStatus.RESOLUTION_DUE.value, SlaStatus.BREACHED.value}
)


def carried(
    clocks: Clocks, calendar: BusinessCalendar, ticket_status: str, now: datetime
) -> Clocks | None:
    """The clocks at ``now`` of a ticket with no event since they were read, without its events.

    Only a running clock can be carried (None otherwise): its deadlines stay where they are,
    the resolution clock runs on in business time, and a target whose deadline has passed
    is breached, as a replay at ``now`` would find.
    """
    read_at = clocks.computed_at
    if (
        read_at is None
        or read_at > now
        or ticket_status not in _CLOCK_RUNS
        or clocks.status not in _RUNNING_STATUSES
        or clocks.first_response_by is None
        or clocks.resolution_by is None
    ):
        return None
    late = (
        (clocks.status == SlaStatus.FIRST_RESPONSE_DUE.value and now > clocks.first_response_by)
        or (clocks.next_response_by is not None and now > clocks.next_response_by)
        or now > clocks.resolution_by
    )
    elapsed = timedelta(seconds=clocks.elapsed_seconds) + calendar.elapsed(read_at, now)
    return replace(
        clocks,
        status=SlaStatus.BREACHED.value if late else clocks.status,
        elapsed_seconds=elapsed.total_seconds(),
        computed_at=now,
    )


@dataclass(frozen=True, slots=True)
class Pending:
    """A step of the ladder not fired yet, and when it comes due."""

    due: datetime
    index: int
    step: EscalationStep


def schedule(
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    clocks: Clocks,
    fired: set[int],
    *,
    running: bool,
    now: datetime,
) -> list[Pending]:
    """Set when the sweeper must look at the ticket again; return the steps not fired yet.

    ``clocks`` are read at ``now``. A step comes due once the resolution clock has run a
    fraction of its target or a business-time age (time paused does not count).
    """
    if not running:
        clocks.check_at = None  # stopped clocks come due only after a change
        return []
    elapsed = timedelta(seconds=clocks.elapsed_seconds)
    pending = []
    for index, step in enumerate(policy.escalations):
        if index not in fired:
            left = _threshold(step, policy) - elapsed
            pending.append(
                Pending(now if left <= timedelta(0) else calendar.add(now, left), index, step)
            )
    deadlines = [clocks.first_response_by, clocks.next_response_by, clocks.resolution_by]
    # A deadline is breached once passed: the status changes just after it.
    upcoming = [p.due for p in pending] + [d + _US for d in deadlines if d is not None and d >= now]
    if any(_breach_step(p.step) for p in pending):
        upcoming.append(now + FORECAST_EVERY)  # look again soon: a breach may become likely
    clocks.check_at = min(upcoming, default=None)
    return pending


def refresh(*, session: Session, config: RoutingConfig, row: TicketRow, now: datetime) -> None:
    """Recompute the ticket's clocks from its events; store them and the next check instant."""
    policy = policy_of(config, row)
    if policy is None:
        row.sla_status, row.sla_check_at = None, None
        return
    fired = set(
        session.scalars(
            select(EscalationRow.step).where(
                EscalationRow.ticket_id == row.id, EscalationRow.policy == policy.name
            )
        )
    )
    calendar = CALENDARS.get(config, policy.calendar)
    history = histories(session, {row.id: row.created_at})[row.id]
    clocks = replayed(policy, calendar, history, now)
    schedule(policy, calendar, clocks, fired, running=row.status in _CLOCK_RUNS, now=now)
    clocks.store(row)


def start_clocks(*, config: RoutingConfig, row: TicketRow, now: datetime) -> None:
    """The clocks of a ticket just created (no stored history to read yet)."""
    policy = policy_of(config, row)
    if policy is not None:
        calendar = CALENDARS.get(config, policy.calendar)
        clocks = replayed(policy, calendar, [(row.created_at, "created", {})], now)
        schedule(policy, calendar, clocks, set(), running=row.status in _CLOCK_RUNS, now=now)
        clocks.store(row)


def histories(session: Session, created: dict[str, datetime]) -> dict[str, list[TicketEvent]]:
    """The event logs of these tickets (by id, with their creation instants), oldest first."""
    logs: dict[str, list[TicketEvent]] = {ticket_id: [] for ticket_id in created}
    rows = session.execute(
        select(
            TicketEventRow.ticket_id, TicketEventRow.at, TicketEventRow.kind, TicketEventRow.data
        )
        .where(TicketEventRow.ticket_id.in_(list(created)))
        .order_by(TicketEventRow.id)
    )
    for ticket_id, at, kind, data in rows:
        # The clocks start when the partner wrote, which an import may date before it was stored.
        logs[ticket_id].append((created[ticket_id] if kind == "created" else at, kind, data))
    return logs


@dataclass(slots=True)
class SweepResult:
    examined: int = 0
    fired: int = 0
    predicted: int = 0  # of the fired steps, those fired early on a predicted breach
    by_action: dict[str, int] = field(default_factory=dict)

    def add(self, other: SweepResult) -> None:
        self.examined += other.examined
        self.fired += other.fired
        self.predicted += other.predicted
        for action, count in other.by_action.items():
            self.by_action[action] = self.by_action.get(action, 0) + count


def sweep(
    *,
    uow: UnitOfWork,
    cache: RoutingCache,
    now: datetime,
    limit: int = 500,
    actor: str = SWEEP_ACTOR,
    batch: int = BATCH,
    notify: bool = False,
) -> SweepResult:
    """Fire every step that has come due on up to ``limit`` tickets nobody else is sweeping.

    Each ticket is examined once per sweep: a step that moves a ticket to another policy
    leaves that policy's steps to the next sweep.
    """
    # The status is checked after reading: in the WHERE clause it would lead SQLite to walk
    # the status index over every open ticket instead of the few due ones.
    due = uow.run(
        lambda s: s.execute(
            select(TicketRow.id, TicketRow.status)
            .where(TicketRow.sla_check_at <= now)
            .order_by(TicketRow.sla_check_at)
            .limit(limit)
        ).all()
    )
    due_ids = [ticket_id for ticket_id, status in due if status in _OPEN]
    result = SweepResult()
    forecast = Forecast(now)
    for start in range(0, len(due_ids), batch):
        ids = due_ids[start : start + batch]
        work = partial(
            _sweep_batch, cache=cache, forecast=forecast, ids=ids, now=now, actor=actor,
            notify=notify,
        )  # fmt: skip
        result.add(uow.run(work))  # counted once its transaction committed
    return result


ESCALATED_EVENT = "ticket.escalated"
_TICKETS = cast(Table, TicketRow.__table__)
_EVENTS = cast(Table, TicketEventRow.__table__)
_AGENTS = cast(Table, AgentRow.__table__)
_LEDGER = cast(Table, EscalationRow.__table__)
_INSERT_EVENTS = insert(_EVENTS)
_FREE = (
    update(_AGENTS)
    .where(_AGENTS.c.id == bindparam("agent"), _AGENTS.c.load > 0)
    .values(load=_AGENTS.c.load - 1)
)
_TAKE = (
    update(_AGENTS)
    .where(_AGENTS.c.id == bindparam("agent"))
    .values(load=_AGENTS.c.load + bindparam("count"), last_assigned_at=bindparam("now"))
)
_UPDATE_TICKET = update(_TICKETS).where(_TICKETS.c.id == bindparam("ticket"))


@dataclass(slots=True)
class _Due:
    """What the sweeper reads and may change of a due ticket (plain values, no ORM object)."""

    clocks: Clocks
    id: str
    status: str
    priority: str
    priority_rank: int
    team: str
    team_source: str
    agent_id: str | None
    queued: bool
    partner_id: str | None
    tags: list[Any]
    sla_policy: str | None
    score: float
    required_skills: list[Any]
    created_at: datetime
    updated_at: datetime
    changed: bool = False  # a fired step changed more than its clocks

    COLUMNS = (
        TicketRow.id, TicketRow.status, TicketRow.priority, TicketRow.priority_rank,
        TicketRow.team, TicketRow.team_source, TicketRow.agent_id, TicketRow.queued,
        TicketRow.partner_id, TicketRow.tags, TicketRow.sla_policy, TicketRow.score,
        TicketRow.required_skills, TicketRow.created_at, TicketRow.updated_at,
        TicketRow.first_response_by, TicketRow.next_response_by, TicketRow.resolution_by,
        TicketRow.sla_status, TicketRow.sla_paused_seconds, TicketRow.sla_elapsed_seconds,
        TicketRow.sla_computed_at, TicketRow.sla_check_at,
    )  # fmt: skip

    @classmethod
    def of(cls, values: Sequence[Any]) -> _Due:
        return cls(Clocks(*values[15:]), *values[:15])

    def changes(self) -> dict[str, Any]:
        """The columns a sweep may write, for an ``UPDATE`` keyed by ``ticket``."""
        values = self.clocks.columns() | {"ticket": self.id}
        if self.changed:
            values |= {
                "priority": self.priority,
                "priority_rank": self.priority_rank,
                "sla_policy": self.sla_policy,
                "tags": self.tags,
                "team": self.team,
                "team_source": self.team_source,
                "agent_id": self.agent_id,
                "queued": self.queued,
                "updated_at": self.updated_at,
            }
        return values


@dataclass(frozen=True, slots=True)
class _Fire:
    """A step to record in the ledger; ``predicted`` is the forecast resolution, if early."""

    ticket: _Due
    policy: SlaPolicy
    index: int
    step: EscalationStep
    predicted: datetime | None = None


def _sweep_batch(
    session: Session,
    *,
    cache: RoutingCache,
    forecast: Forecast,
    ids: list[str],
    now: datetime,
    actor: str,
    notify: bool = False,
) -> SweepResult:
    """Lock the batch's tickets still due and fire their due steps, in the caller's transaction."""
    rows = session.execute(
        select(*_Due.COLUMNS)
        .where(TicketRow.id.in_(ids), TicketRow.sla_check_at <= now)
        .with_for_update(skip_locked=True)  # another sweeper has the rest
    )
    tickets = [t for t in map(_Due.of, rows) if t.status in _OPEN]
    if not tickets:
        return SweepResult()
    return _Batch(session, cache, forecast, now, actor, notify).run(tickets)


class _Batch:
    """One batch of due tickets in one transaction: read, decide in memory, write in bulk."""

    def __init__(
        self,
        session: Session,
        cache: RoutingCache,
        forecast: Forecast,
        now: datetime,
        actor: str,
        notify: bool = False,
    ) -> None:
        self.session, self.cache, self.forecast = session, cache, forecast
        self.notify = notify  # `notify` steps also owe the events webhook a signed message
        self.config = cache.current(session).config
        self.now, self.actor = now, actor
        self.policies = {p.name: p for p in self.config.sla_policies}
        self.events: list[dict[str, Any]] = []
        self.pools: dict[str, AgentPool] = {}
        self.freed: list[str] = []  # one entry per ticket an agent no longer holds
        self.taken: Counter[str] = Counter()
        self.to_pull: set[str] = set()  # agents who gave a ticket away pull from their queues
        self.to_agents: list[_Fire] = []  # steps that name an agent: the full reassign

    def run(self, tickets: list[_Due]) -> SweepResult:
        result = SweepResult(examined=len(tickets))
        fired = self._fired([t.id for t in tickets])
        self._read_clocks(tickets)
        wanted = [f for t in tickets for f in self._due(t, fired[t.id, t.sla_policy])]
        claimed = self._claim(wanted)
        self._lock_agents(claimed)
        tiers = self._tiers(claimed)
        moved: list[_Due] = []  # tickets a raised priority moved to another policy
        for fire in claimed:
            if self._apply(fire, tiers):
                moved.append(fire.ticket)
            result.fired += 1
            result.predicted += fire.predicted is not None
            action = fire.step.action.value
            result.by_action[action] = result.by_action.get(action, 0) + 1
        for fire in wanted:  # fired now, or by someone else since the batch was read
            fired[fire.ticket.id, fire.policy.name].add(fire.index)
        self._read_clocks(moved, replay=True)
        for ticket in tickets:
            self._schedule(ticket, fired[ticket.id, ticket.sla_policy])
        self._write(tickets)
        return result

    def _policy(self, ticket: _Due) -> SlaPolicy | None:
        return self.policies.get(ticket.sla_policy) if ticket.sla_policy else None

    def _fired(self, ids: list[str]) -> defaultdict[tuple[str, str | None], set[int]]:
        fired: defaultdict[tuple[str, str | None], set[int]] = defaultdict(set)
        rows = self.session.execute(
            select(EscalationRow.ticket_id, EscalationRow.policy, EscalationRow.step).where(
                EscalationRow.ticket_id.in_(ids)
            )
        )
        for ticket_id, policy, step in rows:
            fired[ticket_id, policy].add(step)
        return fired

    def _read_clocks(self, tickets: list[_Due], *, replay: bool = False) -> None:
        """Bring the tickets' clocks to now: carried forward, or replayed where they cannot be."""
        stale: list[tuple[_Due, SlaPolicy, BusinessCalendar]] = []
        for ticket in tickets:
            policy = self._policy(ticket)
            if policy is None:  # the policy left the configuration
                ticket.clocks = replace(ticket.clocks, status=None, check_at=None)
                continue
            calendar = CALENDARS.get(self.config, policy.calendar)
            moved = None if replay else carried(ticket.clocks, calendar, ticket.status, self.now)
            if moved is None:
                stale.append((ticket, policy, calendar))
            else:
                ticket.clocks = moved
        if stale:
            logs = histories(self.session, {t.id: t.created_at for t, _, _ in stale})
            for ticket, policy, calendar in stale:
                ticket.clocks = replayed(policy, calendar, logs[ticket.id], self.now)

    def _due(self, ticket: _Due, fired: set[int]) -> list[_Fire]:
        """The ticket's steps whose time has come, and its breach steps if a breach is likely."""
        policy = self._policy(ticket)
        if policy is None:
            return []
        calendar = CALENDARS.get(self.config, policy.calendar)
        pending = schedule(
            policy,
            calendar,
            ticket.clocks,
            fired,
            running=ticket.status in _CLOCK_RUNS,
            now=self.now,
        )
        due = [_Fire(ticket, policy, p.index, p.step) for p in pending if p.due <= self.now]
        early = [p for p in pending if p.due > self.now and _breach_step(p.step)]
        resolution_by = ticket.clocks.resolution_by
        if early and resolution_by is not None:
            expected = self.forecast.resolution(self.session, ticket)
            if expected is not None and expected > resolution_by:
                # Predicted to breach: the steps meant for the breach fire now, and say why.
                due += [_Fire(ticket, policy, p.index, p.step, expected) for p in early]
                due.sort(key=lambda f: f.index)
        return due

    def _claim(self, wanted: list[_Fire]) -> list[_Fire]:
        """Record the steps in the ledger; those already there (by anyone, at any time) drop out."""
        if not wanted:
            return []
        statement = (
            upsert_statement(self.session, _LEDGER)
            .on_conflict_do_nothing(index_elements=["ticket_id", "policy", "step"])
            .returning(_LEDGER.c.ticket_id, _LEDGER.c.policy, _LEDGER.c.step)
        )
        rows = [
            {
                "ticket_id": f.ticket.id,
                "policy": f.policy.name,
                "step": f.index,
                "action": f.step.action.value,
                "predicted": f.predicted is not None,
                "fired_at": self.now,
                "fired_by": self.actor,
            }
            for f in wanted
        ]
        inserted = set(map(tuple, self.session.execute(statement, rows)))
        return [f for f in wanted if (f.ticket.id, f.policy.name, f.index) in inserted]

    def _lock_agents(self, claimed: list[_Fire]) -> None:
        """Lock, in one order for every sweeper, the agents the batch's moves may touch."""
        moves = [f for f in claimed if f.step.action is EscalationAction.REASSIGN]
        if not moves:
            return
        named = {a for f in moves for a in (f.ticket.agent_id, f.step.agent) if a is not None}
        teams = {f.step.team for f in moves if f.step.team is not None}
        members = select(AgentTeamRow.agent_id).where(AgentTeamRow.team.in_(teams))
        self.session.execute(
            select(AgentRow.id)
            .where(or_(AgentRow.id.in_(named), AgentRow.id.in_(members)))
            .order_by(AgentRow.id)
            .with_for_update()
        ).all()

    def _tiers(self, claimed: list[_Fire]) -> dict[str, str]:
        """Partner tiers of the tickets whose priority may rise (the new policy may need them)."""
        partners = {
            f.ticket.partner_id
            for f in claimed
            if f.step.action is EscalationAction.RAISE_PRIORITY and f.ticket.partner_id
        }
        if not partners:
            return {}
        rows = self.session.execute(
            select(PartnerRow.id, PartnerRow.tier).where(PartnerRow.id.in_(partners))
        )
        return {partner_id: tier for partner_id, tier in rows}

    def _event(self, ticket: _Due, kind: str, data: dict[str, Any]) -> None:
        self.events.append(
            {
                "ticket_id": ticket.id,
                "kind": kind,
                "actor": self.actor,
                "data": data,
                "at": self.now,
            }
        )

    def _apply(self, fire: _Fire, tiers: dict[str, str]) -> bool:
        """Do what the step says; True if it moved the ticket to another policy."""
        ticket, policy, step = fire.ticket, fire.policy, fire.step
        data: dict[str, Any] = {
            "policy": policy.name,
            "step": fire.index,
            "action": step.action.value,
        }
        if fire.predicted is not None:
            data["predicted_breach"] = True
            data["expected_resolution"] = fire.predicted.isoformat()
        self._event(ticket, "escalated", data)
        if step.action is EscalationAction.NOTIFY and self.notify:
            message = data | {
                "ticket_id": ticket.id,
                "team": ticket.team,
                "priority": ticket.priority,
            }
            outbox.enqueue(
                session=self.session, target="webhook", kind=ESCALATED_EVENT, ticket_id=ticket.id,
                payload={"type": ESCALATED_EVENT, "data": message}, now=self.now,
            )  # fmt: skip
        ticket.changed, ticket.updated_at = True, self.now
        if step.action is EscalationAction.RAISE_PRIORITY:
            return self._raise(ticket, policy, step, tiers)
        if step.action is EscalationAction.ADD_TAG and step.tag and step.tag not in ticket.tags:
            ticket.tags = [*ticket.tags, step.tag]
        elif step.action is EscalationAction.REASSIGN:
            if step.agent is not None:
                self.to_agents.append(fire)
            else:
                assert step.team is not None  # the loader requires a team or an agent
                self._move(
                    ticket, step.team, f"SLA escalation: {policy.name} step {fire.index + 1}"
                )
        return False

    def _raise(
        self, ticket: _Due, policy: SlaPolicy, step: EscalationStep, tiers: dict[str, str]
    ) -> bool:
        current = PRIORITY_RANK[Priority(ticket.priority)]
        target = step.priority or Priority(f"p{max(1, current - 1)}")
        if PRIORITY_RANK[target] >= current:
            return False
        previous, ticket.priority = ticket.priority, target.value
        ticket.priority_rank = PRIORITY_RANK[target]
        changed = {"from": previous, "to": target.value, "reason": "sla escalation"}
        self._event(ticket, "priority_changed", changed)
        if not policy.priorities:
            return False
        # Chosen for the old priority: the new one's policy applies, its clocks from creation.
        tier = tiers.get(ticket.partner_id) if ticket.partner_id else None
        new_policy = sla_policy_for(self.config, target, tier, ticket.team) or ticket.sla_policy
        moved = new_policy != ticket.sla_policy
        ticket.sla_policy = new_policy
        return moved

    def _pool(self, team: str) -> AgentPool:
        pool = self.pools.get(team)
        if pool is None:  # read once per batch, after the agents were locked
            pool = self.pools[team] = team_pool(self.session, team, lock=False, excluded=set())
        return pool

    def _move(self, ticket: _Due, team: str, reason: str) -> None:
        """Reassign to a team (as ``tickets.reassign`` does): its best free agent, or its queue."""
        previous_team, previous_agent = ticket.team, ticket.agent_id
        if previous_agent is not None:
            self.freed.append(previous_agent)
        overturned = ticket.team_source
        ticket.team, ticket.team_source = team, f"escalation:{self.actor}"
        ticket.agent_id = None
        self._event(
            ticket, "reassigned",
            {"from_team": previous_team, "to_team": team, "from_agent": previous_agent,
             "to_agent": None, "reason": reason, "overturned": overturned, "misroute": False},
        )  # fmt: skip
        item = WorkItem(
            # The pool is this batch's scratch copy: a key per move keeps a ticket moved twice
            # from clashing with its first place.
            ticket_id=f"{ticket.id}#{len(self.events)}",
            team=team,
            priority=Priority(ticket.priority),
            score=ticket.score,
            created_at=ticket.created_at,
            skills=skills_from_json(ticket.required_skills),
        )
        pool = self._pool(team)
        chosen, reason = pool.choose(item)
        if chosen is not None:
            # Given to the chosen agent in the pool too, so the next choice sees its load.
            assignment = pool.offer(item, self.now).assignment
            assert assignment is not None and assignment.agent_id == chosen.id
            ticket.agent_id, ticket.queued = chosen.id, False
            self.taken[chosen.id] += 1
            self._event(ticket, "assigned", {"agent_id": chosen.id, "reason": assignment.reason})
        else:
            # Not offered: the pool would keep its own queue, which nothing here reads.
            ticket.queued = True
            self._event(ticket, "queued", {"team": team, "reason": reason})
        if previous_agent is not None and previous_agent != ticket.agent_id:
            self.to_pull.add(previous_agent)

    def _schedule(self, ticket: _Due, fired: set[int]) -> None:
        policy = self._policy(ticket)
        if policy is not None:
            calendar = CALENDARS.get(self.config, policy.calendar)
            running = ticket.status in _CLOCK_RUNS
            schedule(policy, calendar, ticket.clocks, fired, running=running, now=self.now)

    def _write(self, tickets: list[_Due]) -> None:
        session = self.session
        if self.events:
            session.execute(_INSERT_EVENTS, self.events)
        for changed in (False, True):  # one statement per set of columns
            rows = [t.changes() for t in tickets if t.changed is changed]
            if rows:
                session.execute(_UPDATE_TICKET, rows)
        if self.freed:
            session.execute(_FREE, [{"agent": agent_id} for agent_id in self.freed])
        if self.taken:
            takes = [{"agent": a, "count": n, "now": self.now} for a, n in self.taken.items()]
            session.execute(_TAKE, takes)
        for fire in self.to_agents:
            self._reassign_to_agent(fire)
        for agent_id in sorted(self.to_pull):
            pull_for_agent(session, agent_id, self.now, self.actor)

    def _reassign_to_agent(self, fire: _Fire) -> None:
        """A step that names an agent: the person's reassign, checks and all, or nothing."""
        from affroute.service import tickets  # the ticket use cases also refresh clocks

        assert fire.step.agent is not None
        try:
            with self.session.begin_nested():
                tickets.reassign(
                    session=self.session,
                    cache=self.cache,
                    ticket_id=fire.ticket.id,
                    team=fire.step.team,
                    agent_id=fire.step.agent,
                    reason=f"SLA escalation: {fire.policy.name} step {fire.index + 1}",
                    actor=self.actor,
                    now=self.now,
                    escalation=True,
                )
        except ConflictError:
            pass  # the agent is offline or full: the step is on record, the ticket stays put


class Forecast:
    """When a team will likely resolve a ticket, from its recent throughput and pace.

    A waiting ticket starts after the tickets ahead of it in the queue at the rate the
    team solved tickets over the last day, then takes the team's median time to solve;
    an assigned ticket takes that median from its creation. No history, no forecast.
    Each team's pace and queue are read once per sweep, when a ticket first needs them.
    """

    WINDOW = timedelta(days=1)
    SAMPLE = 200

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._teams: dict[str, tuple[float, timedelta] | None] = {}
        # Per team and priority rank, the creation instants of the queued tickets, sorted.
        self._queues: dict[str, dict[int, list[datetime]]] = {}

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

    def _ahead(self, session: Session, ticket: _Due) -> int:
        """Queued tickets of the team at the same or a higher priority, created earlier."""
        queue = self._queues.get(ticket.team)
        if queue is None:
            queue = self._queues[ticket.team] = defaultdict(list)
            rows = session.execute(
                select(TicketRow.priority_rank, TicketRow.created_at).where(
                    TicketRow.team == ticket.team, TicketRow.queued.is_(True)
                )
            )
            for rank, created in rows:
                queue[rank].append(created)
            for created_list in queue.values():
                created_list.sort()
        return sum(
            bisect_left(created, ticket.created_at)
            for rank, created in queue.items()
            if rank <= ticket.priority_rank
        )

    def resolution(self, session: Session, ticket: _Due) -> datetime | None:
        pace = self._team(session, ticket.team)
        if pace is None:
            return None
        per_hour, median = pace
        if ticket.agent_id is not None:
            return max(self.now, ticket.created_at + median)
        ahead = self._ahead(session, ticket)
        return self.now + timedelta(hours=ahead / per_hour) + median


# Statuses whose clock runs (the board shows these); the others are paused or final.
_RUNNING = ("first_response_due", "resolution_due", "breached")


def board(
    *, session: Session, now: datetime, team: str | None, agent_id: str | None, limit: int
) -> list[tuple[TicketRow, datetime]]:
    """Open tickets with a running clock and their nearest deadline, least time left first.

    A ticket among the ``limit`` nearest deadlines is among the ``limit`` nearest of the
    deadline column that holds its own: so the database returns those few per column
    instead of every open ticket (tens of thousands at a million stored).
    """
    mine: list[ColumnElement[bool]] = [
        TicketRow.status.in_(_OPEN),
        TicketRow.sla_status.in_(_RUNNING),
    ]
    if team is not None:
        mine.append(TicketRow.team == team)
    if agent_id is not None:
        mine.append(TicketRow.agent_id == agent_id)
    # Each deadline column, and when it counts (the first response only until answered).
    columns = (
        (TicketRow.next_response_by, true()),
        (TicketRow.resolution_by, true()),
        (TicketRow.first_response_by, TicketRow.sla_status == "first_response_due"),
    )
    found: dict[str, TicketRow] = {}
    for column, running in columns:
        nearest = (
            select(TicketRow)
            .where(*mine, running, column.is_not(None))
            .order_by(column, TicketRow.id)
            .limit(limit)
        )
        found.update((row.id, row) for row in session.scalars(nearest))
    with_due = [(row, due) for row in found.values() if (due := nearest_deadline(row))]
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
