"""/api/v1/integrations: inbound webhooks from Zendesk, Freshdesk and any Standard Webhooks
sender (authenticated by their signatures, not API keys), and the deliveries owed out."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from affroute.api.deps import Admin, AppState, Reader, StateDep
from affroute.api.errors import ERRORS
from affroute.api.schemas import TicketCreate
from affroute.config import HelpDeskMapping
from affroute.domain import Ticket
from affroute.integrations import helpdesk, signatures
from affroute.integrations.helpdesk import Decided, Desk, Inbound
from affroute.service import enrichment, inbound, outbox, tickets
from affroute.service.errors import InvalidInputError, NotFoundError
from affroute.service.outbox import OutboxStatus
from affroute.store.models import EnrichmentSourceRow, OutboxRow

router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"], responses=ERRORS)


class Receipt(BaseModel):
    ticket_id: str | None
    duplicate: bool = Field(description="this event id was received before: nothing was done")
    replayed: bool = Field(description="the ticket existed already: it was not routed again")


class DeliveryRead(BaseModel):
    delivery_id: str
    target: str
    kind: str
    ticket_id: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: OutboxRow) -> DeliveryRead:
        return cls.model_validate(row, from_attributes=True)


class SourceRead(BaseModel):
    name: str
    kind: str
    last_attempt_at: datetime
    last_success_at: datetime | None
    last_error: str | None
    deals: int
    partners: int

    @classmethod
    def of(cls, row: EnrichmentSourceRow) -> SourceRead:
        return cls.model_validate(row, from_attributes=True)


def _not_configured(what: str, variable: str) -> NotFoundError:
    return NotFoundError(f"{what} is not configured: set {variable}", {"setting": variable})


def _json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInputError("the body is not JSON", {"field": "body"}) from None
    if not isinstance(payload, dict):
        raise InvalidInputError("expected a JSON object", {"field": "body"})
    return payload


def _take(state: AppState, desk: Desk, event: Inbound, mapping: HelpDeskMapping | None) -> Receipt:
    now = state.clock()
    ticket = Ticket(
        id=tickets.new_ticket_id(now),
        subject=event.subject,
        body=event.body,
        created_at=event.created_at or now,
        tags=event.tags,
        external_id=f"{desk.value}:{event.external_id}",
        **event.fields,
    )
    build = helpdesk.zendesk_update if desk is Desk.ZENDESK else helpdesk.freshdesk_update

    def write_back(done: tickets.Ingested) -> dict[str, Any]:
        row = done.ticket
        trace = done.decision.trace if done.decision else {}
        decided = Decided(
            event.external_id, row.team, row.agent_id, row.priority, tuple(row.tags), trace
        )
        return {"external_id": event.external_id, "body": build(decided, mapping)}

    done = state.uow.run_grouped(
        lambda s: inbound.receive(
            session=s, cache=state.cache, source=desk.value, event_id=event.event_id,
            ticket=ticket, now=now, write_back=write_back,
            announce=bool(state.settings.events_webhook_url),
        )
    )  # fmt: skip
    return Receipt(ticket_id=done.ticket_id, duplicate=done.duplicate, replayed=done.replayed)


def _tolerance(state: AppState) -> timedelta:
    return timedelta(seconds=state.settings.webhook_tolerance_seconds)


@router.post("/zendesk", response_model=Receipt)
async def zendesk_event(request: Request, state: StateDep) -> Receipt:
    """A Zendesk ticket event (created/updated), signed with the webhook's secret."""
    secret = state.settings.zendesk_webhook_secret
    if not secret:
        raise _not_configured("Zendesk", "AFFROUTE_ZENDESK_WEBHOOK_SECRET")
    body = await request.body()
    signatures.verify_zendesk(
        secret, request.headers, body, now=state.clock(), tolerance=_tolerance(state)
    )
    mapping = await _mapping(state, Desk.ZENDESK)
    event = helpdesk.read_zendesk(
        _json(body), mapping, request.headers.get("x-zendesk-webhook-invocation-id")
    )
    return await _in_thread(state, Desk.ZENDESK, event, mapping)


@router.post("/freshdesk", response_model=Receipt)
async def freshdesk_event(request: Request, state: StateDep) -> Receipt:
    """A Freshdesk automation webhook: a shared token header, from an allowed address."""
    token = state.settings.freshdesk_webhook_token
    if not token:
        raise _not_configured("Freshdesk", "AFFROUTE_FRESHDESK_WEBHOOK_TOKEN")
    client_ip = request.client.host if request.client else None
    signatures.verify_freshdesk(
        token, request.headers, client_ip, state.settings.freshdesk_allowed_ips
    )
    body = await request.body()
    mapping = await _mapping(state, Desk.FRESHDESK)
    event = helpdesk.read_freshdesk(_json(body), mapping)
    return await _in_thread(state, Desk.FRESHDESK, event, mapping)


@router.post("/webhook", response_model=Receipt)
async def standard_webhook(request: Request, state: StateDep) -> Receipt:
    """Any tool, in the Standard Webhooks style: ``{"type": "ticket.created", "data":
    <a ticket as POST /api/v1/tickets takes it>}``."""
    secret = state.settings.inbound_webhook_secret
    if not secret:
        raise _not_configured("the generic webhook", "AFFROUTE_INBOUND_WEBHOOK_SECRET")
    body = await request.body()
    event_id = signatures.verify_standard(
        secret, request.headers, body, now=state.clock(), tolerance=_tolerance(state)
    )
    try:
        data = TicketCreate.model_validate(_json(body).get("data"))
    except ValidationError as exc:
        fields = [".".join(map(str, e["loc"])) for e in exc.errors(include_url=False)]
        raise InvalidInputError("data is not a valid ticket", {"fields": fields}) from None
    now = state.clock()
    ticket = Ticket(
        id=tickets.new_ticket_id(now),
        **data.model_dump(exclude={"tags", "created_at"}),
        tags=tuple(data.tags),
        created_at=data.created_at or now,
    )
    done = await run_in_threadpool(
        state.uow.run_grouped,
        lambda s: inbound.receive(
            session=s, cache=state.cache, source=Desk.WEBHOOK.value, event_id=event_id,
            ticket=ticket, now=now, write_back=None,
            announce=bool(state.settings.events_webhook_url),
        ),
    )  # fmt: skip
    return Receipt(ticket_id=done.ticket_id, duplicate=done.duplicate, replayed=done.replayed)


async def _mapping(state: AppState, desk: Desk) -> HelpDeskMapping | None:
    config = await run_in_threadpool(state.uow.run, lambda s: state.cache.current(s).config)
    return config.integrations.zendesk if desk is Desk.ZENDESK else config.integrations.freshdesk


async def _in_thread(
    state: AppState, desk: Desk, event: Inbound, mapping: HelpDeskMapping | None
) -> Receipt:
    return await run_in_threadpool(_take, state, desk, event, mapping)


@router.get("/deliveries", response_model=list[DeliveryRead])
def list_deliveries(
    state: StateDep,
    _: Reader,
    status: OutboxStatus | None = None,
    after: Annotated[int | None, Query(ge=0, description="the id after which to list")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryRead]:
    """Write-backs and webhooks owed, delivered or dead (``status=dead``: the dead letters)."""
    return state.uow.run(
        lambda s: [
            DeliveryRead.of(r)
            for r in outbox.list_deliveries(session=s, status=status, after=after, limit=limit)
        ]
    )


@router.post("/deliveries/{delivery_id}/retry", response_model=DeliveryRead)
def retry_delivery(delivery_id: str, state: StateDep, _: Admin) -> DeliveryRead:
    """Send a dead delivery again (after fixing what made it fail)."""
    return state.uow.run(
        lambda s: DeliveryRead.of(
            outbox.retry(session=s, delivery_id=delivery_id, now=state.clock())
        )
    )


@router.get("/enrichment", response_model=list[SourceRead])
def enrichment_sources(state: StateDep, _: Reader) -> list[SourceRead]:
    """Each CRM source: when it was last read, whether it answered, what it gave."""
    return state.uow.run(lambda s: [SourceRead.of(r) for r in enrichment.states(session=s)])
