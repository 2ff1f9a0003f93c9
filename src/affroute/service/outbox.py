"""The outbox: calls owed to other systems (help-desk write-backs, signed webhooks).

A row is written in the transaction that caused it, so nothing is lost when the other
system is down. Workers lease due rows (``SKIP LOCKED`` on PostgreSQL), call out without
holding a transaction, then record the outcome: delivered, retried later with exponential
backoff (or when a 429's ``Retry-After`` says), or parked as dead for a person to retry.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from affroute.service.errors import ConflictError, NotFoundError
from affroute.service.uow import UnitOfWork
from affroute.store.models import OutboxRow

# A claimed row is someone's for this long; a worker that died lets it come due again.
LEASE = timedelta(minutes=2)
MAX_DELAY = timedelta(hours=1)


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one delivery went."""

    ok: bool
    error: str | None = None
    retry_after: float | None = None  # seconds the receiver asked us to wait (429)
    permanent: bool = False  # retrying cannot help (e.g. 404): park it now


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    delivery_id: str
    target: str
    kind: str
    ticket_id: str | None
    payload: dict[str, Any]
    attempts: int  # including this one


def new_delivery_id() -> str:
    """Stable across retries: receivers drop repeats by it."""
    return f"msg_{secrets.token_hex(12)}"


def enqueue(
    *,
    session: Session,
    target: str,
    kind: str,
    ticket_id: str | None,
    payload: dict[str, Any],
    now: datetime,
) -> OutboxRow:
    row = OutboxRow(
        delivery_id=new_delivery_id(),
        target=target,
        kind=kind,
        ticket_id=ticket_id,
        payload=payload,
        status=OutboxStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    return row


def claim(
    *, session: Session, now: datetime, limit: int, lease: timedelta = LEASE
) -> list[Claimed]:
    """Lease up to ``limit`` due rows that no other worker holds."""
    rows = session.scalars(
        select(OutboxRow)
        .where(OutboxRow.status == OutboxStatus.PENDING.value, OutboxRow.next_attempt_at <= now)
        .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + lease
    return [
        Claimed(r.id, r.delivery_id, r.target, r.kind, r.ticket_id, dict(r.payload), r.attempts)
        for r in rows
    ]


def backoff_delay(attempts: int, first: timedelta, retry_after: float | None) -> timedelta:
    """``first``, doubled per attempt, capped; a receiver's Retry-After wins."""
    if retry_after is not None:
        return min(timedelta(seconds=max(retry_after, 0.0)), MAX_DELAY)
    delay: timedelta = first * 2 ** max(attempts - 1, 0)
    return min(delay, MAX_DELAY)


def settle(
    *,
    session: Session,
    claimed: Claimed,
    attempt: Attempt,
    now: datetime,
    max_attempts: int,
    first_delay: timedelta,
) -> OutboxStatus:
    row = session.get(OutboxRow, claimed.id, with_for_update=True)
    if row is None or row.status != OutboxStatus.PENDING.value:
        return OutboxStatus(row.status) if row else OutboxStatus.DEAD
    if attempt.ok:
        row.status, row.delivered_at, row.last_error = OutboxStatus.DELIVERED.value, now, None
    elif attempt.permanent or claimed.attempts >= max_attempts:
        row.status, row.last_error = OutboxStatus.DEAD.value, attempt.error
    else:
        row.last_error = attempt.error
        row.next_attempt_at = now + backoff_delay(
            claimed.attempts, first_delay, attempt.retry_after
        )
    return OutboxStatus(row.status)


@dataclass
class Processed:
    delivered: int = 0
    retrying: int = 0
    dead: int = 0


def process(
    *,
    uow: UnitOfWork,
    deliver: Callable[[Claimed], Attempt],
    now: Callable[[], datetime],
    limit: int = 50,
    max_attempts: int = 8,
    first_delay: timedelta = timedelta(seconds=5),
) -> Processed:
    """Deliver what is due, each call outside any transaction."""
    done = Processed()
    batch = uow.run(lambda s: claim(session=s, now=now(), limit=limit))
    for item in batch:
        attempt = deliver(item)
        status = uow.run(
            lambda s, item=item, attempt=attempt: settle(  # type: ignore[misc]
                session=s,
                claimed=item,
                attempt=attempt,
                now=now(),
                max_attempts=max_attempts,
                first_delay=first_delay,
            )
        )
        if status is OutboxStatus.DELIVERED:
            done.delivered += 1
        elif status is OutboxStatus.DEAD:
            done.dead += 1
        else:
            done.retrying += 1
    return done


def list_deliveries(
    *, session: Session, status: OutboxStatus | None, after: int | None, limit: int
) -> list[OutboxRow]:
    query = select(OutboxRow).order_by(OutboxRow.id).limit(limit)
    if status is not None:
        query = query.where(OutboxRow.status == status.value)
    if after is not None:
        query = query.where(OutboxRow.id > after)
    return list(session.scalars(query))


def retry(*, session: Session, delivery_id: str, now: datetime) -> OutboxRow:
    """Put a dead delivery back in line, with a fresh count of attempts."""
    row = session.scalars(
        select(OutboxRow).where(OutboxRow.delivery_id == delivery_id).with_for_update()
    ).first()
    if row is None:
        raise NotFoundError(f"delivery {delivery_id!r} does not exist")
    if row.status != OutboxStatus.DEAD.value:
        raise ConflictError(f"delivery {delivery_id} is {row.status}; only dead ones are retried")
    row.status, row.attempts, row.next_attempt_at = OutboxStatus.PENDING.value, 0, now
    return row
