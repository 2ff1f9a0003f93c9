"""Agents: presence and capacity (each may free a slot and pull queued work), team queues."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from affroute.domain import AgentStatus
from affroute.service.assignment import pull_for_agent
from affroute.service.errors import InvalidInputError, NotFoundError
from affroute.store.models import AgentRow, AgentTeamRow, TicketRow


def get(*, session: Session, agent_id: str) -> AgentRow:
    row = session.get(AgentRow, agent_id)
    if row is None or row.retired:
        raise NotFoundError(f"agent {agent_id!r} does not exist")
    return row


def teams_of(*, session: Session, agent_id: str) -> list[str]:
    return list(session.scalars(select(AgentTeamRow.team).where(AgentTeamRow.agent_id == agent_id)))


def list_agents(*, session: Session, team: str | None = None) -> list[AgentRow]:
    query = select(AgentRow).where(AgentRow.retired.is_(False)).order_by(AgentRow.id)
    if team is not None:
        query = query.join(AgentTeamRow, AgentTeamRow.agent_id == AgentRow.id).where(
            AgentTeamRow.team == team
        )
    return list(session.scalars(query))


def set_presence(
    *, session: Session, agent_id: str, status: AgentStatus, actor: str, now: datetime
) -> tuple[AgentRow, list[str]]:
    """Change presence; coming online pulls queued tickets up to capacity."""
    row = get(session=session, agent_id=agent_id)
    row.status = status.value
    session.flush()
    pulled = pull_for_agent(session, agent_id, now, actor) if status is AgentStatus.ONLINE else []
    return row, pulled


def set_capacity(
    *, session: Session, agent_id: str, capacity: int, actor: str, now: datetime
) -> tuple[AgentRow, list[str]]:
    """Change capacity; open tickets above a lowered capacity stay until solved."""
    if capacity < 0:
        raise InvalidInputError("capacity must be 0 or more", {"field": "capacity"})
    row = get(session=session, agent_id=agent_id)
    row.capacity = capacity
    session.flush()
    return row, pull_for_agent(session, agent_id, now, actor)


def rebalance(*, session: Session, now: datetime, actor: str = "system") -> int:
    """Let every online agent with free capacity pull from its queues (a safety net)."""
    ids = session.scalars(
        select(AgentRow.id).where(
            AgentRow.retired.is_(False),
            AgentRow.status == AgentStatus.ONLINE.value,
            AgentRow.load < AgentRow.capacity,
        )
    )
    return sum(len(pull_for_agent(session, agent_id, now, actor)) for agent_id in list(ids))


def queue(*, session: Session, team: str, limit: int) -> list[TicketRow]:
    """The team's waiting tickets in the order they will be taken."""
    return list(
        session.scalars(
            select(TicketRow)
            .where(TicketRow.queued.is_(True), TicketRow.team == team)
            .order_by(
                TicketRow.priority_rank, TicketRow.score.desc(), TicketRow.created_at, TicketRow.id
            )
            .limit(limit)
        )
    )


def queue_length(*, session: Session, team: str) -> int:
    """How many tickets wait in the team's queue."""
    waiting = select(func.count()).where(TicketRow.queued.is_(True), TicketRow.team == team)
    return int(session.scalar(waiting) or 0)
