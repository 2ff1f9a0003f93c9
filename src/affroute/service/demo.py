"""Load a generated affiliate program into the database through the real use cases."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from affroute.domain import PRIORITY_RANK, Priority, Ticket, TicketStatus
from affroute.service import catalog, surveys, tickets
from affroute.service.runtime import RoutingCache
from affroute.service.uow import UnitOfWork
from affroute.synth import AffiliateProgram, LabelledTicket

FIRST_ANSWER_AFTER = timedelta(minutes=40)
RESPONSE_RATE = 0.45
ANSWER_AFTER = timedelta(hours=3)


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
    surveys_rng: np.random.Generator | None = None,
) -> int:
    """Store the catalog, then replay the tickets: each is ingested (routed, assigned or
    queued) at its creation time and solved ``handling_time`` after it was assigned.

    With ``surveys_rng``, some partners answer their survey; satisfaction is lower when
    the ticket went to another team than an expert would choose, or got a lower priority.
    """
    load_catalog(uow=uow, program=program, now=now)
    solve_at: list[tuple[datetime, str, LabelledTicket]] = []
    for count, labelled in enumerate(program.tickets, start=1):
        ticket = labelled.ticket
        while solve_at and solve_at[0][0] <= ticket.created_at:
            at, ticket_id, truth = heapq.heappop(solve_at)
            solved = uow.run(partial(_solve, cache=cache, ticket_id=ticket_id, now=at))
            if surveys_rng is not None and surveys_rng.random() < RESPONSE_RATE:
                answer = _demo_answer(solved, truth, surveys_rng)
                uow.run(partial(_respond, cache=cache, ticket_id=ticket_id, answer=answer, now=at))
        stored = replace(
            ticket, id=tickets.new_ticket_id(ticket.created_at), external_id=f"demo-{ticket.id}"
        )
        done = uow.run(partial(_ingest, cache=cache, ticket=stored, now=ticket.created_at))
        # An agent answers within the hour, so the first-response clocks are mostly met.
        answered = ticket.created_at + FIRST_ANSWER_AFTER
        uow.run(partial(_answer, cache=cache, ticket_id=done.ticket.id, now=answered))
        # Queued tickets count as solved after the same time; good enough for a demo.
        heapq.heappush(solve_at, (ticket.created_at + handling_time, done.ticket.id, labelled))
        if progress is not None and count % 100 == 0:
            progress(count)
    return len(program.tickets)


def _upsert(session: Session, *, kind: str, rows: list[dict[str, Any]], now: datetime) -> int:
    return catalog.upsert(session=session, kind=kind, rows=rows, now=now)


def _solve(
    session: Session, *, cache: RoutingCache, ticket_id: str, now: datetime
) -> tuple[str, str]:
    row = tickets.change_status(
        session=session,
        cache=cache,
        ticket_id=ticket_id,
        status=TicketStatus.SOLVED,
        actor="demo",
        now=now,
    )
    return row.team, row.priority


def _demo_answer(
    solved: tuple[str, str], truth: LabelledTicket, rng: np.random.Generator
) -> surveys.Answer:
    team, priority = solved
    csat = 4.4 + rng.normal(0, 0.7)
    if team != truth.true_team:
        csat -= 1.4
    if PRIORITY_RANK[Priority(priority)] > PRIORITY_RANK[truth.true_priority]:
        csat -= 0.5  # treated as less urgent than it was
    score = int(np.clip(round(csat), 1, 5))
    nps = int(np.clip(round(2 * csat + rng.normal(0, 1.2)), 0, 10))
    return surveys.Answer(csat=score, nps=nps, comment=None)


def _respond(
    session: Session,
    *,
    cache: RoutingCache,
    ticket_id: str,
    answer: surveys.Answer,
    now: datetime,
) -> object:
    if surveys.for_ticket(session=session, ticket_id=ticket_id) is None:
        return None  # not surveyed (e.g. the partner was surveyed recently)
    response = surveys.ExternalResponse(
        answer=answer, ticket_id=ticket_id, answered_at=now + ANSWER_AFTER
    )
    return surveys.record_response(
        session=session,
        routing=cache.current(session),
        response=response,
        source=surveys.ResponseSource.IMPORT,
        now=now + ANSWER_AFTER,
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
