"""Queues and the SLA board, live."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from affroute.analytics import metrics, operational
from affroute.api.deps import AppState, StateDep
from affroute.service import agents, sla
from affroute.service.keys import Role
from affroute.service.users import WebUser
from affroute.web.auth import Anyone
from affroute.web.pages.common import config_teams, my_teams, render

router = APIRouter(include_in_schema=False)


def queues_data(state: AppState, session: Session, user: WebUser, now: datetime) -> dict[str, Any]:
    mine = my_teams(session, user)
    loads = operational.open_queues(session=session, filters=metrics.Filters())
    queues = []
    for team in config_teams(state, session):
        if mine is not None and team not in mine:
            continue
        members = agents.list_agents(session=session, team=team)
        mine_loads = [q for q in loads if q.team == team]
        since = [q.oldest_waiting_since for q in mine_loads if q.oldest_waiting_since]
        queues.append(
            {
                "team": team,
                "queued": sum(q.waiting for q in mine_loads),
                "agents": len(members),
                "online": sum(1 for a in members if a.status == "online"),
                "oldest": min(since, default=None),
                "waiting": agents.queue(session=session, team=team, limit=5),
            }
        )
    agent = user.agent_id if user.role is Role.AGENT else None
    board = [
        (row, due, (due - now).total_seconds())
        for row, due in sla.board(session=session, now=now, team=None, agent_id=agent, limit=25)
    ]
    return {"queues": queues, "board": board}


@router.get("/queues")
def queues_page(request: Request, state: StateDep, user: Anyone) -> Response:
    now = state.clock()
    data = state.uow.run(lambda s: queues_data(state, s, user, now))
    return render(request, "queues.html", user, active="queues", **data)


@router.get("/queues/live")
def queues_live(request: Request, state: StateDep, user: Anyone) -> Response:
    now = state.clock()
    data = state.uow.run(lambda s: queues_data(state, s, user, now))
    return render(request, "_queues_live.html", user, **data)
