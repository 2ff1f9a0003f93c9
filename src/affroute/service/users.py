"""Dashboard users and their browser sessions.

Passwords are hashed with Argon2id (argon2-cffi). Five wrong passwords in a row lock the
account for a quarter of an hour. A session is a random id in an HttpOnly cookie, stored
only as its SHA-256 hash, with its own CSRF token; signing out deletes it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from affroute.service.errors import ConflictError, InvalidInputError
from affroute.service.keys import Role
from affroute.store.models import AgentRow, UserRow, WebSessionRow

SESSION_LIFETIME = timedelta(hours=12)
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10
WEB_ROLES = (Role.ADMIN, Role.ANALYST, Role.AGENT)

_hasher = PasswordHasher()
# Checked when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True, slots=True)
class WebUser:
    id: str
    username: str
    role: Role
    agent_id: str | None
    csrf: str


def create(
    *,
    session: Session,
    username: str,
    password: str,
    role: Role,
    now: datetime,
    agent_id: str | None = None,
) -> UserRow:
    username = username.strip()
    if not username or len(username) > 64:
        raise InvalidInputError("a username has 1 to 64 characters", {"field": "username"})
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"a password has at least {MIN_PASSWORD_LENGTH} characters", {"field": "password"}
        )
    if role not in WEB_ROLES:
        names = ", ".join(r.value for r in WEB_ROLES)
        raise InvalidInputError(f"dashboard users are one of: {names}", {"field": "role"})
    if role is Role.AGENT:
        if agent_id is None or session.get(AgentRow, agent_id) is None:
            raise InvalidInputError("an agent user needs a known agent id", {"field": "agent_id"})
    elif agent_id is not None:
        raise InvalidInputError("only agent users name an agent", {"field": "agent_id"})
    if session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
        raise ConflictError(f"user {username!r} exists already", {"field": "username"})
    row = UserRow(
        id=secrets.token_hex(6),
        username=username,
        password_hash=_hasher.hash(password),
        role=role.value,
        agent_id=agent_id,
        created_at=now,
        disabled=False,
        failed_logins=0,
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True, slots=True)
class Login:
    """A sign-in attempt: the user, or what to tell the person (kept vague on purpose)."""

    user: UserRow | None
    problem: str | None = None


WRONG = "wrong username or password"
LOCKED = "too many wrong passwords; try again in a few minutes"


def authenticate(*, session: Session, username: str, password: str, now: datetime) -> Login:
    """Check a password. A failure is returned, not raised, so its count is committed."""
    row = session.scalars(
        select(UserRow).where(UserRow.username == username.strip()).with_for_update()
    ).first()
    if row is None:
        _verify(_DUMMY_HASH, password)
        return Login(None, WRONG)
    if row.locked_until is not None and row.locked_until > now:
        return Login(None, LOCKED)
    if not _verify(row.password_hash, password) or row.disabled:
        row.failed_logins += 1
        if row.failed_logins >= MAX_FAILED_LOGINS:
            row.locked_until, row.failed_logins = now + LOCKOUT, 0
        return Login(None, WRONG)
    row.failed_logins, row.locked_until = 0, None
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
    return Login(row)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(*, session: Session, user: UserRow, now: datetime) -> str:
    """A new signed-in session; returns the cookie value (never stored as such)."""
    session_id = secrets.token_urlsafe(32)
    session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at <= now))
    session.add(
        WebSessionRow(
            id_hash=_digest(session_id),
            user_id=user.id,
            csrf=secrets.token_hex(32),
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    return session_id


def resolve(*, session: Session, session_id: str, now: datetime) -> WebUser | None:
    found = session.execute(
        select(WebSessionRow, UserRow)
        .join(UserRow, UserRow.id == WebSessionRow.user_id)
        .where(WebSessionRow.id_hash == _digest(session_id))
    ).first()
    if found is None:
        return None
    web, user = found
    if web.expires_at <= now or user.disabled:
        return None
    return WebUser(user.id, user.username, Role(user.role), user.agent_id, web.csrf)


def end_session(*, session: Session, session_id: str) -> None:
    session.execute(delete(WebSessionRow).where(WebSessionRow.id_hash == _digest(session_id)))
