"""The operational view, live from the tickets: queues, agent load, waits, deadlines near.

These read open tickets only (through the status index), so they need no facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from affroute.analytics.metrics import Filters
from affroute.service.sla import nearest_deadline
from affroute.store.models import OPEN_STATUSES, AgentRow, AgentTeamRow, PartnerRow, TicketRow

_OPEN = tuple(s.value for s in OPEN_STATUSES)
_RUNNING = ("first_response_due", "resolution_due")


def _open_tickets(query: Any, filters: Filters) -> Any:
    """Open tickets of the filters (the creation window applies to them too)."""
    query = query.where(TicketRow.status.in_(_OPEN))
    if filters.team is not None:
        query = query.where(TicketRow.team == filters.team)
    if filters.partner_tier is not None:
        tiers = select(PartnerRow.id).where(PartnerRow.tier == filters.partner_tier)
        query = query.where(
            TicketRow.partner_id.is_(None) if filters.partner_tier == "unknown"
            else TicketRow.partner_id.in_(tiers)
        )  # fmt: skip
    if filters.created_from is not None:
        query = query.where(TicketRow.created_at >= filters.created_from)
    if filters.created_to is not None:
        query = query.where(TicketRow.created_at < filters.created_to)
    return query


@dataclass(frozen=True, slots=True)
class QueueLoad:
    team: str
    priority: str
    open: int  # open tickets of this team and priority, assigned or waiting
    waiting: int  # of which wait in the team queue for an agent
    oldest_waiting_since: datetime | None


def open_queues(*, session: Session, filters: Filters) -> list[QueueLoad]:
    """Open and waiting tickets per team and priority."""
    query = _open_tickets(
        select(
            TicketRow.team,
            TicketRow.priority,
            func.count(),
            func.count().filter(TicketRow.queued.is_(True)),
            func.min(TicketRow.created_at).filter(TicketRow.queued.is_(True)),
        ),
        filters,
    ).group_by(TicketRow.team, TicketRow.priority)
    rows = session.execute(query)
    return sorted(
        (
            QueueLoad(team, priority, int(n), int(w), oldest)
            for team, priority, n, w, oldest in rows
        ),
        key=lambda q: (q.team, q.priority),
    )


@dataclass(frozen=True, slots=True)
class AgentLoad:
    agent_id: str
    name: str
    status: str  # online, away, offline
    teams: list[str]
    load: int  # open tickets assigned
    capacity: int
    utilisation: float | None  # load / capacity


def agent_load(*, session: Session, filters: Filters) -> list[AgentLoad]:
    """Each agent's load beside capacity (agents of the team, with a team filter)."""
    teams: dict[str, list[str]] = {}
    for agent_id, team in session.execute(select(AgentTeamRow.agent_id, AgentTeamRow.team)):
        teams.setdefault(agent_id, []).append(team)
    query = select(AgentRow).where(AgentRow.retired.is_(False)).order_by(AgentRow.id)
    result = []
    for agent in session.scalars(query):
        mine = sorted(teams.get(agent.id, []))
        if filters.team is not None and filters.team not in mine:
            continue
        result.append(
            AgentLoad(
                agent_id=agent.id, name=agent.name, status=agent.status, teams=mine,
                load=agent.load, capacity=agent.capacity,
                utilisation=agent.load / agent.capacity if agent.capacity else None,
            )
        )  # fmt: skip
    return result


@dataclass(frozen=True, slots=True)
class WaitingTicket:
    ticket_id: str
    team: str
    priority: str
    score: float
    created_at: datetime
    waiting_hours: float


def oldest_waiting(
    *, session: Session, filters: Filters, now: datetime, limit: int = 10
) -> list[WaitingTicket]:
    """The tickets waiting longest in a queue for an agent, oldest first."""
    query = _open_tickets(select(TicketRow), filters).where(TicketRow.queued.is_(True))
    query = query.order_by(TicketRow.created_at, TicketRow.id).limit(limit)
    return [
        WaitingTicket(
            row.id, row.team, row.priority, row.score, row.created_at,
            (now - row.created_at).total_seconds() / 3600,
        )
        for row in session.scalars(query)
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class AtRisk:
    ticket_id: str
    team: str
    priority: str
    agent_id: str | None
    sla_status: str
    due: datetime
    minutes_left: float


def about_to_breach(
    *,
    session: Session,
    filters: Filters,
    now: datetime,
    within: timedelta = timedelta(hours=1),
    limit: int = 50,
) -> list[AtRisk]:
    """Open tickets whose running SLA clock comes due within ``within``, least time first."""
    horizon = now + within
    query = _open_tickets(select(TicketRow), filters).where(
        TicketRow.sla_status.in_(_RUNNING),
        # Only deadlines still ahead: tickets long past theirs are not "about to" breach.
        or_(
            TicketRow.first_response_by.between(now, horizon),
            TicketRow.next_response_by.between(now, horizon),
            TicketRow.resolution_by.between(now, horizon),
        ),
    )
    found = []
    for row in session.scalars(query):
        due = nearest_deadline(row)
        if due is not None and now <= due <= horizon:
            found.append(
                AtRisk(
                    row.id, row.team, row.priority, row.agent_id, row.sla_status or "",
                    due, (due - now).total_seconds() / 60,
                )
            )  # fmt: skip
    found.sort(key=lambda r: (r.due, r.ticket_id))
    return found[:limit]
