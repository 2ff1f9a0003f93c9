"""The peer for bench/api.py: a bare FastAPI endpoint that validates the same body and
inserts the same ticket row into the same kind of database, with no routing at all."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime

from fastapi import FastAPI

from affroute.api.schemas import TicketCreate
from affroute.service.uow import UnitOfWork
from affroute.store.db import make_engine, session_factory
from affroute.store.models import TicketRow

engine = make_engine(os.environ["AFFROUTE_DATABASE_URL"])
# The same unit of work as affroute's (on SQLite it queues writers on a lock rather than
# letting them spin in SQLite's busy handler), so the peer is as good as it can be.
uow = UnitOfWork(session_factory(engine))
app = FastAPI()


@app.post("/api/v1/tickets", status_code=201)
def create(body: TicketCreate) -> dict[str, str]:
    now = datetime.now(UTC)
    row = TicketRow(
        id=f"{int(now.timestamp() * 1000):012x}{secrets.token_hex(6)}",
        external_id=body.external_id,
        partner_id=body.partner_id,
        deal_id=body.deal_id,
        campaign_id=body.campaign_id,
        subject=body.subject,
        body=body.body,
        category=body.category.value if body.category else None,
        urgency=body.urgency.value if body.urgency else None,
        channel=body.channel,
        region=body.region,
        tags=body.tags,
        status="new",
        score=50.0,
        priority="p3",
        priority_rank=3,
        team="general_support",
        team_source="default",
        agent_id=None,
        queued=True,
        required_skills=[],
        sla_policy=None,
        created_at=body.created_at or now,
        updated_at=now,
    )
    uow.run(lambda session: session.add(row))
    return {"id": row.id}
