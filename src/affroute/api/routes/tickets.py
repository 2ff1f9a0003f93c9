"""/api/v1/tickets: ingest with routing, list, detail with trace and events, status, reassign."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from affroute.api.deps import (
    Reassigner,
    StateDep,
    StatusChanger,
    TicketReader,
    TicketWriter,
    get_state,
)
from affroute.api.errors import ERRORS
from affroute.api.schemas import (
    DecisionRead,
    EventRead,
    IngestResult,
    Reassignment,
    ReplyCreate,
    StatusChange,
    TicketCreate,
    TicketDetail,
    TicketPage,
    TicketRead,
)
from affroute.domain import Priority, Ticket, TicketStatus
from affroute.service import inbound, learning, tickets
from affroute.service.errors import ForbiddenError, NotFoundError
from affroute.service.keys import Principal, Role
from affroute.store.models import TicketRow

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"], responses=ERRORS)


def _visible(session: Session, principal: Principal, ticket_id: str) -> TicketRow:
    """The ticket, if this caller may see it; otherwise it does not exist for them."""
    row = tickets.get(session=session, ticket_id=ticket_id)
    if principal.role is Role.AGENT and not tickets.can_agent_see(
        session, row, principal.agent_id or ""
    ):
        raise NotFoundError(f"ticket {ticket_id!r} does not exist")
    return row


@router.post(
    "", status_code=201, response_model=IngestResult, responses={200: {"model": IngestResult}}
)
def create_ticket(
    body: TicketCreate,
    request: Request,
    principal: TicketWriter,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> Response:
    """Store a ticket, route and assign it in one transaction, and return the decision.

    201 for a new ticket; 200 when an Idempotency-Key or external_id repeats an earlier one.
    """
    state = get_state(request)  # not a dependency: the hot path saves a resolution step
    now = state.clock()
    # Only a request with a key is ever compared with an earlier one.
    request_hash = (
        hashlib.sha256(body.model_dump_json().encode()).hexdigest() if idempotency_key else ""
    )
    ticket = Ticket(
        id=tickets.new_ticket_id(now),
        **body.model_dump(exclude={"tags", "created_at"}),
        tags=tuple(body.tags),
        created_at=body.created_at or now,
    )
    announce = bool(state.settings.events_webhook_url)

    def work(session: Session) -> tickets.Ingested:
        done = tickets.ingest(
            session=session,
            cache=state.cache,
            ticket=ticket,
            actor=principal.key_id,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            now=now,
        )
        if announce and not done.replayed:  # the events webhook hears of every decision
            inbound.announce_decision(session=session, ingested=done, now=now)
        return done

    done = state.uow.run_grouped(work)
    # Shaped outside the transaction, serialised once (no second validation pass).
    result = IngestResult.of(done.ticket, done.decision, replayed=done.replayed)
    return Response(
        result.model_dump_json(),
        status_code=200 if done.replayed else 201,
        media_type="application/json",
    )


@router.get("", response_model=TicketPage)
def list_tickets(
    state: StateDep,
    principal: TicketReader,
    status: TicketStatus | None = None,
    team: Annotated[str | None, Query(max_length=64)] = None,
    agent_id: Annotated[str | None, Query(max_length=64)] = None,
    priority: Priority | None = None,
    partner_id: Annotated[str | None, Query(max_length=64)] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int | None, Query(ge=1, description="clamped to the server's maximum")] = None,
) -> TicketPage:
    """Tickets newest first, filtered, one page at a time (follow ``next_cursor``)."""
    settings = state.settings
    size = min(limit or settings.default_page_size, settings.max_page_size)
    filters = tickets.TicketFilter(
        status=status,
        team=team,
        agent_id=agent_id,
        priority=priority.value if priority else None,
        partner_id=partner_id,
        created_from=created_from,
        created_to=created_to,
        visible_to_agent=principal.agent_id if principal.role is Role.AGENT else None,
    )

    def work(session: Session) -> TicketPage:
        rows = tickets.list_tickets(session=session, filters=filters, cursor=cursor, limit=size)
        following = tickets.encode_cursor(rows[-1]) if len(rows) == size else None
        return TicketPage(items=[TicketRead.of(r) for r in rows], next_cursor=following)

    return state.uow.run(work)


@router.get("/{ticket_id}", response_model=TicketDetail)
def get_ticket(ticket_id: str, state: StateDep, principal: TicketReader) -> TicketDetail:
    """One ticket with every routing decision (and its trace) and its event log."""

    def work(session: Session) -> TicketDetail:
        row = _visible(session, principal, ticket_id)
        return TicketDetail(
            **TicketRead.of(row).model_dump(),
            decisions=[
                DecisionRead.of(d) for d in tickets.decisions_of(session=session, ticket_id=row.id)
            ],
            events=[EventRead.of(e) for e in tickets.events_of(session=session, ticket_id=row.id)],
        )

    return state.uow.run(work)


def _own_ticket(session: Session, principal: Principal, ticket_id: str) -> None:
    """Agents may change only tickets assigned to them."""
    row = _visible(session, principal, ticket_id)
    if principal.role is Role.AGENT and row.agent_id != principal.agent_id:
        raise ForbiddenError(f"ticket {ticket_id!r} is not assigned to you")


@router.post("/{ticket_id}/status", response_model=TicketRead)
def change_status(
    ticket_id: str, body: StatusChange, state: StateDep, principal: StatusChanger
) -> TicketRead:
    """Move the ticket to a new status; solving or closing frees the agent's slot."""

    def work(session: Session) -> TicketRead:
        _own_ticket(session, principal, ticket_id)
        row = tickets.change_status(
            session=session,
            cache=state.cache,
            ticket_id=ticket_id,
            status=body.status,
            actor=principal.key_id,
            now=state.clock(),
        )
        return TicketRead.of(row)

    return state.uow.run(work)


class SuggestionRead(BaseModel):
    ticket_id: str
    path: list[str] = Field(description="the teams the ticket has been on, first to current")
    team: str | None = Field(description="the team to try next; null when there is none")
    probability: float | None = Field(description="the model's probability for that team")
    model: str | None
    reason: str


class ReassignedRead(TicketRead):
    suggestion: SuggestionRead = Field(
        description="the team to try next should this one be wrong too (as GET .../suggestion)"
    )


@router.post("/{ticket_id}/reassign", response_model=ReassignedRead)
def reassign(
    ticket_id: str, body: Reassignment, state: StateDep, principal: Reassigner
) -> ReassignedRead:
    """Send the ticket to another team or agent; the event records what made the first choice.

    The answer also names the team to try next, from the ticket's text and its path."""

    def work(session: Session) -> ReassignedRead:
        _own_ticket(session, principal, ticket_id)
        row = tickets.reassign(
            session=session,
            cache=state.cache,
            ticket_id=ticket_id,
            team=body.team,
            agent_id=body.agent_id,
            reason=body.reason,
            actor=principal.key_id,
            now=state.clock(),
        )
        found = learning.suggest_next_team(session=session, cache=state.cache, ticket_id=ticket_id)
        return ReassignedRead(
            **TicketRead.of(row).model_dump(),
            suggestion=SuggestionRead.model_validate(found, from_attributes=True),
        )

    return state.uow.run(work)


@router.get("/{ticket_id}/suggestion", response_model=SuggestionRead)
def suggest_next_team(ticket_id: str, state: StateDep, principal: TicketReader) -> SuggestionRead:
    """The team to try next: the model's most probable team the ticket has not been on."""

    def work(session: Session) -> SuggestionRead:
        _visible(session, principal, ticket_id)
        found = learning.suggest_next_team(session=session, cache=state.cache, ticket_id=ticket_id)
        return SuggestionRead.model_validate(found, from_attributes=True)

    return state.uow.run(work)


@router.post("/{ticket_id}/replies", response_model=TicketRead, status_code=201)
def add_reply(
    ticket_id: str, body: ReplyCreate, state: StateDep, principal: StatusChanger
) -> TicketRead:
    """Record a public reply (agent or partner); first and next response clocks follow it."""

    def work(session: Session) -> TicketRead:
        _own_ticket(session, principal, ticket_id)
        row = tickets.reply(
            session=session,
            cache=state.cache,
            ticket_id=ticket_id,
            author=body.author,
            actor=principal.key_id,
            now=state.clock(),
        )
        return TicketRead.of(row)

    return state.uow.run(work)
