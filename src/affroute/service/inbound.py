"""Inbound help-desk events: each sender's event taken once, the ticket ingested (routed and
assigned), and the write-back and decision webhook owed put in the outbox, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from affroute.domain import Ticket
from affroute.service import outbox, tickets
from affroute.service.runtime import RoutingCache
from affroute.store.models import WebhookReceiptRow

DECISION_EVENT = "ticket.routed"


@dataclass(frozen=True, slots=True)
class Received:
    ticket_id: str | None
    duplicate: bool  # this event was taken before
    replayed: bool  # a new event about a ticket we already have


def decision_event(ingested: tickets.Ingested) -> dict[str, Any]:
    """The data of a ``ticket.routed`` webhook."""
    trace = ingested.decision.trace if ingested.decision else {}
    row = ingested.ticket
    return {
        "ticket_id": row.id,
        "external_id": row.external_id,
        "team": row.team,
        "agent_id": row.agent_id,
        "priority": row.priority,
        "score": row.score,
        "tags": list(row.tags),
        "trace": trace,
    }


def receive(
    *,
    session: Session,
    cache: RoutingCache,
    source: str,
    event_id: str,
    ticket: Ticket,
    now: datetime,
    write_back: Callable[[tickets.Ingested], dict[str, Any]] | None,
    announce: bool,
) -> Received:
    """Take one event. A concurrent copy of it loses on the receipt's key and, retried by
    the unit of work, finds the receipt."""
    seen = session.get(WebhookReceiptRow, (source, event_id))
    if seen is not None:
        return Received(seen.ticket_id, duplicate=True, replayed=True)
    receipt = WebhookReceiptRow(source=source, event_id=event_id, received_at=now)
    session.add(receipt)
    session.flush()
    done = tickets.ingest(
        session=session,
        cache=cache,
        ticket=ticket,
        actor=source,
        idempotency_key=None,
        request_hash="",
        now=now,
    )
    receipt.ticket_id = done.ticket.id
    if not done.replayed:
        if write_back is not None:
            outbox.enqueue(
                session=session, target=source, kind="write_back", ticket_id=done.ticket.id,
                payload=write_back(done), now=now,
            )  # fmt: skip
        if announce:
            announce_decision(session=session, ingested=done, now=now)
    return Received(done.ticket.id, duplicate=False, replayed=done.replayed)


def announce_decision(*, session: Session, ingested: tickets.Ingested, now: datetime) -> None:
    """Owe the events webhook a signed ``ticket.routed``."""
    outbox.enqueue(
        session=session, target="webhook", kind=DECISION_EVENT, ticket_id=ingested.ticket.id,
        payload={"type": DECISION_EVENT, "data": decision_event(ingested)}, now=now,
    )  # fmt: skip
