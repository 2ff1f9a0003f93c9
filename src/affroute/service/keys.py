"""API keys: created once (shown once), stored as SHA-256, each with one role."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from affroute.service.errors import InvalidInputError, UnauthorizedError
from affroute.store.models import AgentRow, ApiKeyRow

PREFIX = "afr"


class Role(StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    AGENT = "agent"
    INTEGRATION = "integration"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id (safe to log) and role; agents also their agent id."""

    key_id: str
    role: Role
    agent_id: str | None = None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create(
    *, session: Session, role: Role, now: datetime, agent_id: str | None = None, name: str = ""
) -> tuple[ApiKeyRow, str]:
    """A new key; the plain key is returned once and never stored."""
    if role is Role.AGENT:
        if agent_id is None:
            raise InvalidInputError("an agent key needs the agent's id", {"field": "agent_id"})
        if session.get(AgentRow, agent_id) is None:
            raise InvalidInputError(f"unknown agent {agent_id!r}", {"field": "agent_id"})
    elif agent_id is not None:
        raise InvalidInputError("only agent keys name an agent", {"field": "agent_id"})
    key_id = secrets.token_hex(6)
    plain = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = ApiKeyRow(
        id=key_id,
        key_hash=_digest(plain),
        role=role.value,
        agent_id=agent_id,
        name=name,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, plain


def authenticate(*, session: Session, key: str | None) -> Principal:
    if not key:
        raise UnauthorizedError("an API key is required (header X-API-Key)")
    row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.key_hash == _digest(key))).first()
    if row is None or row.revoked:
        raise UnauthorizedError("the API key is not valid")
    return Principal(row.id, Role(row.role), row.agent_id)


def revoke(*, session: Session, key_id: str) -> bool:
    row = session.get(ApiKeyRow, key_id)
    if row is None:
        return False
    row.revoked = True
    return True
