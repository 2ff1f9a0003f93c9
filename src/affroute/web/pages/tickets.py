"""The ticket list (live rows) and a ticket's decision trace and timeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from affroute.api.deps import StateDep
from affroute.domain import Priority, TicketStatus
from affroute.service import surveys, tickets
from affroute.service.errors import InvalidInputError, NotFoundError
from affroute.service.keys import Role
from affroute.service.users import WebUser
from affroute.store.models import TicketRow
from affroute.web.auth import Anyone
from affroute.web.pages.common import FilterParams, config_teams, render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class TicketView:
    status: str | None = None
    team: str | None = None
    priority: str | None = None


async def _ticket_view(
    status: FilterParams = None, team: FilterParams = None, priority: FilterParams = None
) -> TicketView:
    return TicketView(status or None, team or None, priority or None)


TicketViewDep = Annotated[TicketView, Depends(_ticket_view)]


def ticket_rows(session: Session, user: WebUser, view: TicketView) -> list[TicketRow]:
    try:
        chosen = TicketStatus(view.status) if view.status else None
    except ValueError:
        raise InvalidInputError(f"unknown status {view.status!r}", {"field": "status"}) from None
    filters = tickets.TicketFilter(
        status=chosen,
        team=view.team,
        priority=view.priority,
        visible_to_agent=user.agent_id if user.role is Role.AGENT else None,
    )
    return tickets.list_tickets(session=session, filters=filters, cursor=None, limit=50)


@router.get("/tickets")
def tickets_page(request: Request, state: StateDep, user: Anyone, view: TicketViewDep) -> Response:
    def work(session: Session) -> dict[str, Any]:
        return {
            "rows": ticket_rows(session, user, view),
            "teams": config_teams(state, session),
        }

    data = state.uow.run(work)
    return render(
        request, "tickets.html", user, active="tickets", query=request.url.query,
        filters=view,
        statuses=[s.value for s in TicketStatus], priorities=[p.value for p in Priority], **data,
    )  # fmt: skip


@router.get("/tickets/rows")
def ticket_rows_fragment(
    request: Request, state: StateDep, user: Anyone, view: TicketViewDep
) -> Response:
    rows = state.uow.run(lambda s: ticket_rows(s, user, view))
    return render(request, "_ticket_rows.html", user, rows=rows)


@router.get("/tickets/{ticket_id}")
def ticket_page(ticket_id: str, request: Request, state: StateDep, user: Anyone) -> Response:
    def work(session: Session) -> dict[str, Any]:
        row = tickets.get(session=session, ticket_id=ticket_id)
        if user.role is Role.AGENT and not tickets.can_agent_see(session, row, user.agent_id or ""):
            raise NotFoundError(f"ticket {ticket_id!r} does not exist")
        return {
            "ticket": row,
            "decisions": tickets.decisions_of(session=session, ticket_id=ticket_id),
            "events": tickets.events_of(session=session, ticket_id=ticket_id),
            "survey": surveys.for_ticket(session=session, ticket_id=ticket_id),
        }

    data = state.uow.run(work)
    return render(request, "ticket.html", user, active="tickets", **data)
