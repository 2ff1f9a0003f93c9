"""/api/v1/sla: the board of open tickets by time left, and breach and escalation counts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from affroute.api.deps import AgentViewer, Reader, StateDep
from affroute.api.errors import ERRORS
from affroute.api.schemas import SlaBoard, SlaBoardItem, SlaGroup, SlaStats, TicketRead
from affroute.service import sla
from affroute.service.keys import Role

router = APIRouter(prefix="/api/v1/sla", tags=["sla"], responses=ERRORS)


@router.get("/board", response_model=SlaBoard)
def board(
    state: StateDep,
    principal: AgentViewer,
    team: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> SlaBoard:
    """Open tickets with a running clock, the one with least time left first."""
    size = min(limit or state.settings.default_page_size, state.settings.max_page_size)
    now = state.clock()
    agent = principal.agent_id if principal.role is Role.AGENT else None

    def work(session: Session) -> SlaBoard:
        rows = sla.board(session=session, now=now, team=team, agent_id=agent, limit=size)
        return SlaBoard(
            at=now,
            items=[
                SlaBoardItem(
                    ticket=TicketRead.of(row), due=due, seconds_left=(due - now).total_seconds()
                )
                for row, due in rows
            ],
        )

    return state.uow.run(work)


@router.get("/stats", response_model=SlaStats)
def stats(
    state: StateDep,
    _: Reader,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> SlaStats:
    """Tickets, breaches and escalations per team, priority and partner tier."""
    counts = state.uow.run(
        lambda s: sla.stats(session=s, created_from=created_from, created_to=created_to)
    )

    def groups(axis: str) -> list[SlaGroup]:
        return [
            SlaGroup(key=g.key, tickets=g.tickets, breached=g.breached, escalated=g.escalated,
                     compliance=g.compliance)
            for g in counts[axis]
        ]  # fmt: skip

    return SlaStats(
        by_team=groups("team"), by_priority=groups("priority"), by_partner_tier=groups("tier")
    )
