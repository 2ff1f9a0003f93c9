"""Agents and their load, live."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from affroute.api.deps import StateDep
from affroute.service import agents
from affroute.service.users import WebUser
from affroute.web.auth import Anyone
from affroute.web.pages.common import my_teams, render

router = APIRouter(include_in_schema=False)


def agents_data(session: Session, user: WebUser) -> list[dict[str, Any]]:
    mine = my_teams(session, user)
    rows = []
    for agent in agents.list_agents(session=session):
        teams = agents.teams_of(session=session, agent_id=agent.id)
        if mine is not None and not mine.intersection(teams):
            continue
        rows.append(
            {
                "id": agent.id,
                "name": agent.name,
                "teams": teams,
                "status": agent.status,
                "load": agent.load,
                "capacity": agent.capacity,
            }
        )
    return rows


@router.get("/agents")
def agents_page(request: Request, state: StateDep, user: Anyone) -> Response:
    rows = state.uow.run(lambda s: agents_data(s, user))
    return render(request, "agents.html", user, active="agents", agents=rows)


@router.get("/agents/live")
def agents_live(request: Request, state: StateDep, user: Anyone) -> Response:
    rows = state.uow.run(lambda s: agents_data(s, user))
    return render(request, "_agents_live.html", user, agents=rows)
