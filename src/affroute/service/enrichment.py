"""Deal values and partner engagement read from CRM sources into the catalog.

The catalog is the cache: routing reads it (through the routing context) and never waits
for a CRM. A refresh that fails leaves the last values in place and says so in the trace
of every decision made until the next good refresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from affroute.config import EnrichmentSource
from affroute.service.runtime import CONTEXT_COUNTER, bump
from affroute.store.models import DealRow, EnrichmentSourceRow, PartnerRow

ENGAGEMENT_FIELDS = ("weekly_active_leads", "click_through_rate", "portal_logins", "lead_volume")


@dataclass(frozen=True, slots=True)
class DealValue:
    deal_id: str
    partner_id: str
    value: float


@dataclass(frozen=True, slots=True)
class Engagement:
    partner_id: str
    metrics: dict[str, float]  # some of ENGAGEMENT_FIELDS


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one read of a source returned."""

    deals: list[DealValue] = field(default_factory=list)
    engagement: list[Engagement] = field(default_factory=list)


def due(
    *, session: Session, sources: Sequence[EnrichmentSource], now: datetime
) -> list[EnrichmentSource]:
    """The sources whose refresh interval has passed since their last attempt."""
    last = {r.name: r.last_attempt_at for r in session.scalars(select(EnrichmentSourceRow))}
    return [s for s in sources if s.name not in last or last[s.name] + s.refresh <= now]


def record(
    *,
    session: Session,
    source: EnrichmentSource,
    snapshot: Snapshot | None,
    error: str | None,
    now: datetime,
) -> EnrichmentSourceRow:
    """Store a refresh's outcome: new values into the catalog, or the error beside the old."""
    row = session.get(EnrichmentSourceRow, source.name, with_for_update=True)
    if row is None:
        row = EnrichmentSourceRow(name=source.name, kind=source.kind.value, deals=0, partners=0)
        session.add(row)
    row.last_attempt_at, row.last_error = now, error
    if snapshot is not None:
        row.last_success_at = now
        row.deals = _deals(session, snapshot.deals, now)
        row.partners = _engagement(session, snapshot.engagement, now)
    bump(session, CONTEXT_COUNTER)  # the values or the trace's note changed
    return row


def _deals(session: Session, deals: Sequence[DealValue], now: datetime) -> int:
    for deal in deals:
        row = session.get(DealRow, deal.deal_id)
        if row is None:
            session.add(
                DealRow(
                    id=deal.deal_id, partner_id=deal.partner_id, value=deal.value, updated_at=now
                )
            )
        elif (row.value, row.partner_id) != (deal.value, deal.partner_id):
            row.value, row.partner_id, row.updated_at = deal.value, deal.partner_id, now
    return len(deals)


def _engagement(session: Session, rows: Sequence[Engagement], now: datetime) -> int:
    """Metrics of partners the catalog knows (a CRM company is not a partner by itself)."""
    known = 0
    for item in rows:
        partner = session.get(PartnerRow, item.partner_id)
        if partner is None:
            continue
        known += 1
        for name, value in item.metrics.items():
            setattr(partner, name, value)
        partner.updated_at = now
    return known


def states(*, session: Session) -> list[EnrichmentSourceRow]:
    return list(session.scalars(select(EnrichmentSourceRow).order_by(EnrichmentSourceRow.name)))


def trace_notes(session: Session) -> dict[str, Any]:
    """How fresh each source's values are, for decision traces (empty without sources)."""
    notes: dict[str, Any] = {}
    for row in states(session=session):
        as_of = row.last_success_at.isoformat() if row.last_success_at else None
        fresh = row.last_error is None
        if fresh:
            note = f"values as of {as_of}"
        else:
            cached = f"cached values as of {as_of}" if as_of else "no values yet"
            tried = row.last_attempt_at.isoformat()
            note = f"{cached}; the refresh at {tried} failed: {row.last_error}"
        notes[row.name] = {"as_of": as_of, "fresh": fresh, "note": note}
    return notes
