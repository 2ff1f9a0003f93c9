"""Units of work: one transaction per request or command, retried when a race is lost."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
# PostgreSQL: serialization_failure, deadlock_detected. SQLite: "database is locked".
_RETRYABLE_SQLSTATES = {"40001", "40P01"}


def _retryable(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate in _RETRYABLE_SQLSTATES or "database is locked" in str(exc.orig)


class UnitOfWork:
    """Runs a function in a transaction that commits on success and rolls back on error.

    On SQLite, where one writer runs at a time anyway, this process's transactions queue
    on a lock instead of spinning in SQLite's busy handler (which sleeps and retries).
    """

    def __init__(self, sessions: sessionmaker[Session], attempts: int = 5) -> None:
        self.sessions = sessions
        self.attempts = attempts
        bind = sessions.kw.get("bind")
        serial = bind is not None and bind.dialect.name == "sqlite"
        self._lock: AbstractContextManager[object] = threading.Lock() if serial else nullcontext()

    def run(self, work: Callable[[Session], T]) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                with self._lock, self.sessions() as session, session.begin():
                    return work(session)
            except IntegrityError:
                # A unique key taken by a concurrent request: the retry sees its row.
                if attempt == self.attempts:
                    raise
            except DBAPIError as exc:
                if not _retryable(exc) or attempt == self.attempts:
                    raise
                # Two transactions that deadlocked would meet again if both retried at
                # once: a random, growing pause lets one of them through first.
                time.sleep(random.uniform(0, 0.01 * attempt))
        raise AssertionError("unreachable")
