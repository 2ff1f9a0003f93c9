"""Per-ticket facts, kept in step with the append-only event log.

A refresh reads the events written since the last one (a counter in ``meta``), and
recomputes whole the fact rows of the tickets they belong to, from the ticket, its first
decision, its events and its survey. Recomputing a row is idempotent, so reading an event
twice is harmless; that is what makes two safeguards cheap:

- On PostgreSQL, ids come from a sequence before commit, so an event with a lower id
  can become visible after a higher one was read. Each refresh reads again the last
  ``OVERLAP`` ids before its counter.
- A clock breaches as time passes, without an event: each refresh also takes the open
  tickets whose stored SLA status says breached while their facts do not.

Refreshers take the counter's row ``FOR UPDATE SKIP LOCKED``: one runs, the others skip.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from affroute.service.history import History
from affroute.service.satisfaction import monday
from affroute.store.db import upsert_statement
from affroute.store.models import (
    OPEN_STATUSES,
    DealRow,
    DecisionRow,
    MetaRow,
    PartnerRow,
    SurveyRow,
    TicketEventRow,
    TicketFactRow,
    TicketRow,
)

WATERMARK = "analytics_events"
# Counts the refreshes that changed fact rows: answers computed from the facts at one
# version stay right until the next (see ``analytics.memo``).
VERSION = "analytics_facts"
OVERLAP = 5_000
CHUNK = 2_000
_OPEN = tuple(s.value for s in OPEN_STATUSES)
_KINDS = ("status_changed", "reassigned", "assigned", "escalated")  # what facts_of reads


@dataclass(frozen=True, slots=True)
class Refreshed:
    tickets: int  # fact rows written
    events: int  # new events read
    busy: bool = False  # another refresher held the counter: this one did nothing


@dataclass(frozen=True, slots=True)
class TicketSource:
    id: str
    created_at: datetime
    team: str
    team_source: str
    priority: str
    score: float
    status: str
    sla_status: str | None
    partner_tier: str | None
    deal_value: float | None


@dataclass(frozen=True, slots=True)
class SurveySource:
    status: str
    created_at: datetime
    engagement_band: str | None
    csat: int | None
    nps: int | None


def sample_key(ticket_id: str) -> float:
    """A uniform number in [0, 1) that depends only on the ticket id."""
    return zlib.crc32(ticket_id.encode()) / 2**32


def facts_of(
    ticket: TicketSource,
    first_decision: tuple[str, str] | None,
    events: Iterable[tuple[str, dict[str, Any], datetime]],
    survey: SurveySource | None,
) -> dict[str, Any]:
    """A ticket's fact row from its sources; ``events`` are (kind, data, at), oldest first."""
    first_team, decided_by = first_decision or (ticket.team, ticket.team_source)
    history = History()  # the first solve, a misroute, a reopen: as every outcome reads them
    assigned_at = None
    escalated = False
    for kind, data, at in events:
        history.add(kind, data, at)
        if kind == "assigned" and assigned_at is None:
            assigned_at = at
        elif kind == "escalated":
            escalated = True
    resolved_at = history.solved_at
    issued = survey is not None and survey.status != "scheduled"
    return {
        "ticket_id": ticket.id,
        "created_at": ticket.created_at,
        "team": ticket.team,
        "first_team": first_team,
        "decided_by": decided_by,
        "priority": ticket.priority,
        "partner_tier": ticket.partner_tier or "unknown",
        "deal_value": ticket.deal_value,
        "score": ticket.score,
        "status": ticket.status,
        "resolved_at": resolved_at,
        "resolution_seconds": _seconds(ticket.created_at, resolved_at),
        "assigned_seconds": _seconds(ticket.created_at, assigned_at),
        "misrouted": history.misrouted,
        "reopened": history.reopened,
        "escalated": escalated,
        "has_sla": ticket.sla_status is not None,
        "breached": ticket.sla_status == "breached",
        "survey_week": monday(survey.created_at) if survey is not None else None,
        "survey_issued": issued,
        "engagement_band": survey.engagement_band if survey is not None else None,
        "csat": survey.csat if survey is not None else None,
        "nps": survey.nps if survey is not None else None,
        "sample_key": sample_key(ticket.id),
    }


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else max(0.0, (end - start).total_seconds())


def refresh(*, session: Session, limit: int | None = 100_000) -> Refreshed:
    """Bring the facts up to the event log (at most ``limit`` new events), in this transaction."""
    counter = session.scalars(
        select(MetaRow).where(MetaRow.key == WATERMARK).with_for_update(skip_locked=True)
    ).first()
    if counter is None:
        return Refreshed(0, 0, busy=True)
    seen = counter.value
    top = session.scalar(select(func.max(TicketEventRow.id))) or 0
    if limit is not None:
        top = min(top, seen + limit)
    overlap = OVERLAP if session.get_bind().dialect.name == "postgresql" else 0
    touched = set(
        session.scalars(
            select(TicketEventRow.ticket_id)
            .where(TicketEventRow.id > seen - overlap, TicketEventRow.id <= top)
            .distinct()
        )
    )
    breached = set(
        session.scalars(
            select(TicketRow.id)
            .join(TicketFactRow, TicketFactRow.ticket_id == TicketRow.id)
            .where(
                TicketRow.status.in_(_OPEN),
                TicketRow.sla_status == "breached",
                TicketFactRow.breached.is_(False),
            )
        )
    )
    ordered = sorted(touched | breached)
    for start in range(0, len(ordered), CHUNK):
        write(session, ordered[start : start + CHUNK])
    counter.value = max(seen, top)
    # New events or new breaches change facts; the overlap alone re-reads what was written
    # (a late commit it catches counts at the next new event).
    if top > seen or breached:
        session.execute(
            update(MetaRow).where(MetaRow.key == VERSION).values(value=MetaRow.value + 1)
        )
    return Refreshed(len(ordered), max(0, top - seen))


def version(session: Session) -> int | None:
    """How many refreshes have changed the facts (None before the migration that counts)."""
    return session.scalar(select(MetaRow.value).where(MetaRow.key == VERSION))


def write(session: Session, ticket_ids: Sequence[str]) -> None:
    """Recompute and store the fact rows of these tickets."""
    rows = list(compute(session, ticket_ids))
    if not rows:
        return
    # The table, not the mapped class: the ORM's bulk path splits the rows by which values
    # are None, one statement per shape (~2,000 per 3,000 rows); Core sends them in batches.
    statement = upsert_statement(session, TicketFactRow.__table__)
    columns = {key: statement.excluded[key] for key in rows[0] if key != "ticket_id"}
    session.execute(
        statement.on_conflict_do_update(index_elements=["ticket_id"], set_=columns), rows
    )


def compute(session: Session, ticket_ids: Sequence[str]) -> Iterable[dict[str, Any]]:
    """The fact rows of these tickets, read from their sources (five queries)."""
    ids = list(ticket_ids)
    tickets = [
        TicketSource(*tuple(row))
        for row in session.execute(
            select(
                TicketRow.id, TicketRow.created_at, TicketRow.team, TicketRow.team_source,
                TicketRow.priority, TicketRow.score, TicketRow.status, TicketRow.sla_status,
                PartnerRow.tier, DealRow.value,
            )
            .outerjoin(PartnerRow, PartnerRow.id == TicketRow.partner_id)
            .outerjoin(DealRow, DealRow.id == TicketRow.deal_id)
            .where(TicketRow.id.in_(ids))
        )
    ]  # fmt: skip
    first: dict[str, tuple[str, str]] = {}
    for ticket_id, team, source in session.execute(
        select(DecisionRow.ticket_id, DecisionRow.team, DecisionRow.team_source)
        .where(DecisionRow.ticket_id.in_(ids))
        .order_by(DecisionRow.id)
    ):
        first.setdefault(ticket_id, (team, source))
    events: dict[str, list[tuple[str, dict[str, Any], datetime]]] = {}
    for ticket_id, kind, data, at in session.execute(
        select(
            TicketEventRow.ticket_id, TicketEventRow.kind, TicketEventRow.data, TicketEventRow.at
        )
        # ``kind || ''``: SQLite would otherwise pick the kind index and read every event of
        # those kinds (millions) for each chunk of tickets, instead of the tickets' own.
        .where(TicketEventRow.ticket_id.in_(ids), TicketEventRow.kind.concat("").in_(_KINDS))
        .order_by(TicketEventRow.id)
    ):
        events.setdefault(ticket_id, []).append((kind, data, at))
    surveys = {
        ticket_id: SurveySource(status, created_at, band, csat, nps)
        for ticket_id, status, created_at, band, csat, nps in session.execute(
            select(
                SurveyRow.ticket_id, SurveyRow.status, SurveyRow.created_at,
                SurveyRow.engagement_band, SurveyRow.csat, SurveyRow.nps,
            ).where(SurveyRow.ticket_id.in_(ids))
        )
    }  # fmt: skip
    for ticket in tickets:
        yield facts_of(
            ticket, first.get(ticket.id), events.get(ticket.id, ()), surveys.get(ticket.id)
        )
