"""Load a generated affiliate program into the database through the real use cases."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from affroute.domain import Ticket, TicketStatus
from affroute.service import catalog, tickets
from affroute.service.runtime import RoutingCache
from affroute.service.uow import UnitOfWork
from affroute.synth import AffiliateProgram

FIRST_ANSWER_AFTER = timedelta(minutes=40)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in row.items()}


def load_catalog(*, uow: UnitOfWork, program: AffiliateProgram, now: datetime) -> None:
    """Store the program's partners, deals, campaigns and anomalies."""
    tables: dict[str, Sequence[Any]] = {
        "partners": program.partners,
        "deals": program.deals,
        "campaigns": program.campaigns,
        "anomalies": program.anomalies,
    }
    for kind, items in tables.items():
        rows = [_plain(asdict(item)) for item in items]
        uow.run(partial(_upsert, kind=kind, rows=rows, now=now))


def load_program(
    *,
    uow: UnitOfWork,
    cache: RoutingCache,
    program: AffiliateProgram,
    handling_time: timedelta,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Store the catalog, then replay the tickets: each is ingested (routed, assigned or
    queued) at its creation time and solved ``handling_time`` after it was assigned."""
    load_catalog(uow=uow, program=program, now=now)
    solve_at: list[tuple[datetime, str]] = []
    for count, labelled in enumerate(program.tickets, start=1):
        ticket = labelled.ticket
        while solve_at and solve_at[0][0] <= ticket.created_at:
            at, ticket_id = heapq.heappop(solve_at)
            uow.run(partial(_solve, cache=cache, ticket_id=ticket_id, now=at))
        stored = replace(
            ticket, id=tickets.new_ticket_id(ticket.created_at), external_id=f"demo-{ticket.id}"
        )
        done = uow.run(partial(_ingest, cache=cache, ticket=stored, now=ticket.created_at))
        # An agent answers within the hour, so the first-response clocks are mostly met.
        answered = ticket.created_at + FIRST_ANSWER_AFTER
        uow.run(partial(_answer, cache=cache, ticket_id=done.ticket.id, now=answered))
        # Queued tickets count as solved after the same time; good enough for a demo.
        heapq.heappush(solve_at, (ticket.created_at + handling_time, done.ticket.id))
        if progress is not None and count % 100 == 0:
            progress(count)
    return len(program.tickets)


def _upsert(session: Session, *, kind: str, rows: list[dict[str, Any]], now: datetime) -> int:
    return catalog.upsert(session=session, kind=kind, rows=rows, now=now)


def _solve(session: Session, *, cache: RoutingCache, ticket_id: str, now: datetime) -> object:
    return tickets.change_status(
        session=session,
        cache=cache,
        ticket_id=ticket_id,
        status=TicketStatus.SOLVED,
        actor="demo",
        now=now,
    )


def _answer(session: Session, *, cache: RoutingCache, ticket_id: str, now: datetime) -> object:
    return tickets.reply(
        session=session,
        cache=cache,
        ticket_id=ticket_id,
        author=tickets.ReplyAuthor.AGENT,
        actor="demo",
        now=now,
    )


def _ingest(
    session: Session, *, cache: RoutingCache, ticket: Ticket, now: datetime
) -> tickets.Ingested:
    return tickets.ingest(
        session=session,
        cache=cache,
        ticket=ticket,
        actor="demo",
        idempotency_key=None,
        request_hash="",
        now=now,
    )
