"""What route handlers are given: the app's state, the caller, role checks, the clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from affroute.analytics.memo import FactsMemo
from affroute.service import keys
from affroute.service.anomalies import EventWindow
from affroute.service.errors import ForbiddenError
from affroute.service.keys import Principal, Role
from affroute.service.runtime import RoutingCache
from affroute.service.uow import UnitOfWork
from affroute.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    uow: UnitOfWork
    cache: RoutingCache
    clock: Callable[[], datetime] = utc_now
    # The continuous anomaly scan's events in memory: each scan reads only what arrived since.
    anomaly_window: EventWindow = field(default_factory=EventWindow)
    # The dashboard's answers from the analytics facts, kept until the facts change.
    facts_memo: FactsMemo = field(default_factory=FactsMemo)
    _keys: dict[str, tuple[float, Principal]] = field(default_factory=dict)
    _keys_lock: threading.Lock = field(default_factory=threading.Lock)

    def cached_principal(self, key: str | None) -> Principal | None:
        """A recent successful check of this key, trusted for ``key_cache_seconds``."""
        ttl = self.settings.key_cache_seconds
        if not key or not ttl:
            return None
        with self._keys_lock:
            hit = self._keys.get(key)
        return hit[1] if hit is not None and time.monotonic() - hit[0] < ttl else None

    def principal(self, key: str | None) -> Principal:
        """Check a key against the database (and remember the success)."""
        ttl = self.settings.key_cache_seconds
        now = time.monotonic()
        principal = self.uow.run(lambda s: keys.authenticate(session=s, key=key))
        if key and ttl:
            with self._keys_lock:
                if len(self._keys) > 10_000:
                    self._keys.clear()
                self._keys[key] = (now, principal)
        return principal


# The dependencies are async so that resolving them does not hop to the thread pool;
# only a key not seen recently is checked in a worker thread.
def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.affroute
    return state


async def _state(request: Request) -> AppState:
    return get_state(request)


StateDep = Annotated[AppState, Depends(_state)]
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="an affroute API key")


def require(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits only the given roles.

    It reads the app state and the key header itself rather than through other
    dependencies: each dependency level costs FastAPI tens of microseconds per request.
    """
    allowed = frozenset(roles)

    async def check(request: Request, key: Annotated[str | None, Security(_api_key)]) -> Principal:
        state = get_state(request)
        principal = state.cached_principal(key)
        if principal is None:
            principal = await run_in_threadpool(state.principal, key)
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise ForbiddenError(f"this needs one of the roles: {names}")
        return principal

    return check


PrincipalDep = Annotated[Principal, Depends(require(*Role))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Reader = Annotated[Principal, Depends(require(Role.ADMIN, Role.ANALYST))]
CatalogReader = Annotated[Principal, Depends(require(Role.ADMIN, Role.ANALYST, Role.INTEGRATION))]
CatalogWriter = Annotated[Principal, Depends(require(Role.ADMIN, Role.INTEGRATION))]
TicketReader = Annotated[
    Principal, Depends(require(Role.ADMIN, Role.ANALYST, Role.AGENT, Role.INTEGRATION))
]
TicketWriter = Annotated[Principal, Depends(require(Role.ADMIN, Role.INTEGRATION))]
StatusChanger = Annotated[Principal, Depends(require(Role.ADMIN, Role.AGENT, Role.INTEGRATION))]
AnomalyHandler = Annotated[Principal, Depends(require(Role.ADMIN, Role.ANALYST))]
Reassigner = Annotated[Principal, Depends(require(Role.ADMIN, Role.AGENT))]
AgentViewer = Annotated[Principal, Depends(require(Role.ADMIN, Role.ANALYST, Role.AGENT))]
