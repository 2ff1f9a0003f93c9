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

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from affroute.config import SkillRequirement
from affroute.domain import Agent, AgentStatus, Priority, Seniority
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


def _team_agents(session: Session, team: str, *, lock: bool) -> list[AgentRow]:
    query = (
        select(AgentRow)
        .join(AgentTeamRow, AgentTeamRow.agent_id == AgentRow.id)
        .where(AgentTeamRow.team == team, AgentRow.retired.is_(False))
        .order_by(AgentRow.id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update(read=True)
    return list(session.scalars(query).unique())


def _pool(rows: Sequence[AgentRow], team: str) -> AgentPool:
    pool = AgentPool(())
    for row in rows:
        agent = Agent(
            id=row.id,
            name=row.name,
            teams=(team,),
            skills={k: int(v) for k, v in row.skills.items()},
            capacity=row.capacity,
            status=AgentStatus(row.status),
            seniority=Seniority(row.seniority),
        )
        pool.add_agent(agent, load=row.load, last_assigned=row.last_assigned_at)
    return pool


def take_agent(session: Session, agent_id: str, now: datetime) -> bool:
    """Give the agent one more ticket if it is online, active and under capacity."""
    result = session.execute(
        update(AgentRow)
        .where(
            AgentRow.id == agent_id,
            AgentRow.load < AgentRow.capacity,
            AgentRow.status == AgentStatus.ONLINE.value,
            AgentRow.retired.is_(False),
        )
        .values(load=AgentRow.load + 1, last_assigned_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


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
        rows = [r for r in _team_agents(session, item.team, lock=lock) if r.id not in excluded]
        pool = _pool(rows, item.team)
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
