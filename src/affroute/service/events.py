"""The ticket event log: append-only, one row per thing that happened to a ticket."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from affroute.store.models import TicketEventRow


def record_event(
    session: Session, ticket_id: str, kind: str, actor: str, now: datetime, **data: object
) -> None:
    session.add(TicketEventRow(ticket_id=ticket_id, kind=kind, actor=actor, data=data, at=now))
