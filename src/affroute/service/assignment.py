"""Assignment against stored agents, safe across threads, processes and databases.

The choice itself is the engine's ``AgentPool.choose`` on the team's current rows. Taking
the agent is one conditional ``UPDATE ... WHERE load < capacity AND status = 'online'``:
the database row lock makes it atomic, so two requests can never both fill the last slot
nor hand a ticket to an agent who just went offline. A loser re-chooses without that
agent. Before a ticket is queued the team's agent rows are read again ``FOR SHARE``, so
an agent freeing capacity concurrently either commits first (and is seen) or waits for
this ticket to be queued (and pulls it). Pulling takes queued tickets ``FOR UPDATE SKIP
LOCKED`` so concurrent pulls never take the same ticket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from affroute.config import SkillRequirement
from affroute.domain import Agent, AgentStatus, Priority
from affroute.engine import AgentPool, WorkItem
from affroute.store.models import AgentRow, AgentTeamRow, TicketEventRow, TicketRow

_PULL_BATCH = 25


@dataclass(frozen=True, slots=True)
class Taken:
    agent_id: str | None
    reason: str


def skills_from_json(raw: Sequence[Any]) -> tuple[SkillRequirement, ...]:
    return tuple(SkillRequirement(s["name"], int(s["level"])) for s in raw)


def skills_to_json(skills: Sequence[SkillRequirement]) -> list[dict[str, Any]]:
    return [{"name": s.name, "level": s.level} for s in skills]


_AGENT_COLUMNS = (
    AgentRow.id,
    AgentRow.skills,
    AgentRow.capacity,
    AgentRow.status,
    AgentRow.load,
    AgentRow.last_assigned_at,
)


_TEAM_AGENTS = (
    select(*_AGENT_COLUMNS)
    .join(AgentTeamRow, AgentTeamRow.agent_id == AgentRow.id)
    .where(AgentTeamRow.team == bindparam("team"), AgentRow.retired.is_(False))
    .order_by(AgentRow.id)
)
_TEAM_AGENTS_LOCKED = _TEAM_AGENTS.with_for_update(read=True, of=AgentRow)
_TAKE = (
    update(AgentRow)
    .where(
        AgentRow.id == bindparam("agent_id"),
        AgentRow.load < AgentRow.capacity,
        AgentRow.status == AgentStatus.ONLINE.value,
        AgentRow.retired.is_(False),
    )
    .values(load=AgentRow.load + 1, last_assigned_at=bindparam("now"))
)


def team_pool(session: Session, team: str, *, lock: bool, excluded: set[str]) -> AgentPool:
    """The team's active agents as they are now in the database (plain rows, no ORM objects)."""
    query = _TEAM_AGENTS_LOCKED if lock else _TEAM_AGENTS
    pool = AgentPool(())
    rows = session.connection().execute(query, {"team": team})
    for agent_id, skills, capacity, status, load, last_assigned in rows:
        if agent_id in excluded:
            continue
        agent = Agent(
            id=agent_id,
            name=agent_id,
            teams=(team,),
            skills={k: int(v) for k, v in skills.items()},
            capacity=capacity,
            status=AgentStatus(status),
        )
        pool.add_agent(agent, load=load, last_assigned=last_assigned)
    return pool


def take_agent(session: Session, agent_id: str, now: datetime) -> bool:
    """Give the agent one more ticket if it is online, active and under capacity."""
    result = session.connection().execute(_TAKE, {"agent_id": agent_id, "now": now})
    return bool(result.rowcount)


def free_agent(session: Session, agent_id: str) -> None:
    session.execute(
        update(AgentRow)
        .where(AgentRow.id == agent_id, AgentRow.load > 0)
        .values(load=AgentRow.load - 1)
        .execution_options(synchronize_session=False)
    )


def assign(session: Session, item: WorkItem, now: datetime) -> Taken:
    """Take the best eligible agent of the item's team, or say why nobody can."""
    excluded: set[str] = set()
    for lock in (False, True):
        pool = team_pool(session, item.team, lock=lock, excluded=excluded)
        while True:
            agent, reason = pool.choose(item)
            if agent is None:
                break
            if take_agent(session, agent.id, now):
                return Taken(agent.id, reason)
            excluded.add(agent.id)  # lost a race for its last slot, or it just went offline
            pool.set_status(agent.id, AgentStatus.OFFLINE, now)
    return Taken(None, reason)


def pull_for_agent(session: Session, agent_id: str, now: datetime, actor: str) -> list[str]:
    """Give an agent queued tickets of its teams, best first, while it has free capacity."""
    agent = session.scalars(
        select(AgentRow)
        .where(AgentRow.id == agent_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if agent is None or agent.retired or agent.status != AgentStatus.ONLINE.value:
        return []
    teams = list(
        session.scalars(select(AgentTeamRow.team).where(AgentTeamRow.agent_id == agent_id))
    )
    skills = {k: int(v) for k, v in agent.skills.items()}
    taken: list[str] = []
    skipped: set[str] = set()
    while agent.load < agent.capacity and teams:
        query = (
            select(TicketRow)
            .where(TicketRow.queued.is_(True), TicketRow.team.in_(teams))
            .order_by(
                TicketRow.priority_rank, TicketRow.score.desc(), TicketRow.created_at, TicketRow.id
            )
            .limit(_PULL_BATCH + len(skipped))
            .with_for_update(skip_locked=True)
        )
        candidates = [t for t in session.scalars(query) if t.id not in skipped]
        ticket = next(
            (
                t
                for t in candidates
                if all(
                    skills.get(s.name, 0) >= s.level for s in skills_from_json(t.required_skills)
                )
            ),
            None,
        )
        if ticket is None:
            if len(candidates) < _PULL_BATCH:
                break
            skipped.update(t.id for t in candidates)
            continue
        ticket.queued = False
        ticket.agent_id = agent.id
        ticket.updated_at = now
        agent.load += 1
        agent.last_assigned_at = now
        session.add(
            TicketEventRow(
                ticket_id=ticket.id,
                kind="assigned",
                actor=actor,
                data={"agent_id": agent.id, "reason": "pulled from the team queue"},
                at=now,
            )
        )
        taken.append(ticket.id)
    return taken


def work_item(row: TicketRow) -> WorkItem:
    return WorkItem(
        ticket_id=row.id,
        team=row.team,
        priority=Priority(row.priority),
        score=row.score,
        created_at=row.created_at,
        skills=skills_from_json(row.required_skills),
    )
