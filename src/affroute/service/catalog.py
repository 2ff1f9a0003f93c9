"""Partners, deals, campaigns and anomalies: create, update and bulk upsert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from affroute.service.errors import NotFoundError
from affroute.service.runtime import CONTEXT_COUNTER, bump
from affroute.store.db import upsert_statement
from affroute.store.models import AnomalyRow, Base, CampaignRow, DealRow, PartnerRow

KINDS: dict[str, type[Base]] = {
    "partners": PartnerRow,
    "deals": DealRow,
    "campaigns": CampaignRow,
    "anomalies": AnomalyRow,
}
SINGULAR = {"partners": "partner", "deals": "deal", "campaigns": "campaign", "anomalies": "anomaly"}
_CHUNK = 500


def upsert(*, session: Session, kind: str, rows: Sequence[dict[str, Any]], now: datetime) -> int:
    """Insert or update rows by id in one statement per chunk; the context cache goes stale."""
    model = KINDS[kind]
    if not rows:
        return 0
    # An uploaded anomaly counts as detected when it is first stored.
    first_seen = {"detected_at": now} if model is AnomalyRow else {}
    stamped = [dict(row, updated_at=now, **first_seen) for row in rows]
    columns = [c for c in stamped[0] if c not in ("id", "detected_at")]
    for start in range(0, len(stamped), _CHUNK):
        statement = upsert_statement(session, model).values(stamped[start : start + _CHUNK])
        statement = statement.on_conflict_do_update(
            index_elements=["id"], set_={c: statement.excluded[c] for c in columns}
        )
        session.execute(statement)
    bump(session, CONTEXT_COUNTER)
    return len(stamped)


def get(*, session: Session, kind: str, item_id: str) -> Any:
    row = session.get(KINDS[kind], item_id)
    if row is None:
        raise NotFoundError(f"{SINGULAR[kind]} {item_id!r} does not exist")
    return row


def list_rows(*, session: Session, kind: str, after: str | None, limit: int) -> list[Any]:
    """Rows ordered by id, ``limit`` of them after the id ``after`` (keyset pagination)."""
    model: Any = KINDS[kind]
    query = select(model).order_by(model.id).limit(limit)
    if after is not None:
        query = query.where(model.id > after)
    return list(session.scalars(query))
