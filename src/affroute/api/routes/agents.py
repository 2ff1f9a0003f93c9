"""/api/v1/agents and /api/v1/teams: presence, capacity, load, team queues."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from affroute.api.deps import Admin, AgentViewer, PrincipalDep, StateDep
from affroute.api.errors import ERRORS
from affroute.api.schemas import (
    AgentChange,
    AgentRead,
    CapacityChange,
    PresenceChange,
    QueueRead,
    TeamRead,
    TicketRead,
)
from affroute.service import agents
from affroute.service.errors import ForbiddenError, NotFoundError
from affroute.service.keys import Principal, Role

router = APIRouter(prefix="/api/v1", tags=["agents"], responses=ERRORS)


def _read(session: Session, agent_id: str) -> AgentRead:
    row = agents.get(session=session, agent_id=agent_id)
    return AgentRead.of(row, agents.teams_of(session=session, agent_id=agent_id))


@router.get("/agents", response_model=list[AgentRead])
def list_agents(
    state: StateDep,
    principal: AgentViewer,
    team: Annotated[str | None, Query(max_length=64)] = None,
) -> list[AgentRead]:
    """Agents with their load and presence (an agent sees only itself)."""

    def work(session: Session) -> list[AgentRead]:
        rows = agents.list_agents(session=session, team=team)
        if principal.role is Role.AGENT:
            rows = [r for r in rows if r.id == principal.agent_id]
        return [AgentRead.of(r, agents.teams_of(session=session, agent_id=r.id)) for r in rows]

    return state.uow.run(work)


@router.get("/agents/{agent_id}", response_model=AgentRead)
def get_agent(agent_id: str, state: StateDep, principal: AgentViewer) -> AgentRead:
    if principal.role is Role.AGENT and agent_id != principal.agent_id:
        raise NotFoundError(f"agent {agent_id!r} does not exist")
    return state.uow.run(lambda s: _read(s, agent_id))


@router.put("/agents/{agent_id}/presence", response_model=AgentChange)
def set_presence(
    agent_id: str, body: PresenceChange, state: StateDep, principal: PrincipalDep
) -> AgentChange:
    """Go online, away or offline; coming online pulls queued tickets up to capacity."""
    _may_change_presence(principal, agent_id)

    def work(session: Session) -> AgentChange:
        _, pulled = agents.set_presence(
            session=session,
            agent_id=agent_id,
            status=body.status,
            actor=principal.key_id,
            now=state.clock(),
        )
        return AgentChange(agent=_read(session, agent_id), pulled=pulled)

    return state.uow.run(work)


def _may_change_presence(principal: Principal, agent_id: str) -> None:
    if principal.role is Role.ADMIN or (
        principal.role is Role.AGENT and principal.agent_id == agent_id
    ):
        return
    raise ForbiddenError("only admins, or the agent itself, may change presence")


@router.put("/agents/{agent_id}/capacity", response_model=AgentChange)
def set_capacity(
    agent_id: str, body: CapacityChange, state: StateDep, principal: Admin
) -> AgentChange:
    """Change how many open tickets the agent may hold; more room pulls queued tickets."""

    def work(session: Session) -> AgentChange:
        _, pulled = agents.set_capacity(
            session=session,
            agent_id=agent_id,
            capacity=body.capacity,
            actor=principal.key_id,
            now=state.clock(),
        )
        return AgentChange(agent=_read(session, agent_id), pulled=pulled)

    return state.uow.run(work)


@router.get("/teams", response_model=list[TeamRead])
def list_teams(state: StateDep, principal: AgentViewer) -> list[TeamRead]:
    """Teams of the active configuration with their agent count and queue length."""

    def work(session: Session) -> list[TeamRead]:
        config = state.cache.current(session).config
        mine = (
            set(agents.teams_of(session=session, agent_id=principal.agent_id or ""))
            if principal.role is Role.AGENT
            else None
        )
        return [
            TeamRead(
                name=team.name,
                skills=sorted(team.skills),
                calendar=team.calendar,
                agents=len(agents.list_agents(session=session, team=team.name)),
                queued=agents.queue_length(session=session, team=team.name),
            )
            for team in config.teams.values()
            if mine is None or team.name in mine
        ]

    return state.uow.run(work)


@router.get("/teams/{team}/queue", response_model=QueueRead)
def team_queue(
    team: str,
    state: StateDep,
    principal: AgentViewer,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> QueueRead:
    """The team's waiting tickets, next first (priority, then score, then age)."""
    size = min(limit or state.settings.default_page_size, state.settings.max_page_size)

    def work(session: Session) -> QueueRead:
        config = state.cache.current(session).config
        if team not in config.teams:
            raise NotFoundError(f"team {team!r} does not exist")
        if principal.role is Role.AGENT and team not in agents.teams_of(
            session=session, agent_id=principal.agent_id or ""
        ):
            raise NotFoundError(f"team {team!r} does not exist")
        return QueueRead(
            team=team,
            items=[TicketRead.of(r) for r in agents.queue(session=session, team=team, limit=size)],
        )

    return state.uow.run(work)
