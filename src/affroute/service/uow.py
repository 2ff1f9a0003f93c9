"""Units of work: one transaction per request or command, retried when a race is lost."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
# PostgreSQL: serialization_failure, deadlock_detected. SQLite: "database is locked".
_RETRYABLE_SQLSTATES = {"40001", "40P01"}
# The most units of work one grouped transaction takes.
GROUP_LIMIT = 64


def _retryable(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate in _RETRYABLE_SQLSTATES or "database is locked" in str(exc.orig)


class _Pending(Generic[T]):
    """A unit of work waiting for a grouped transaction, and then its outcome."""

    __slots__ = ("error", "result", "settled", "work")

    def __init__(self, work: Callable[[Session], T]) -> None:
        self.work = work
        self.settled = False
        self.result: T | None = None
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


def _flushed(work: Callable[[Session], T], session: Session) -> T:
    """Run one of a group's units of work and write what it added, for the next to see."""
    result = work(session)
    session.flush()
    return result


class UnitOfWork:
    """Runs a function in a transaction that commits on success and rolls back on error.

    On SQLite, where one writer runs at a time anyway, this process's transactions queue
    on a lock instead of spinning in SQLite's busy handler (which sleeps and retries).
    """

    def __init__(self, sessions: sessionmaker[Session], attempts: int = 5) -> None:
        self.sessions = sessions
        self.attempts = attempts
        bind = sessions.kw.get("bind")
        self._serial = bind is not None and bind.dialect.name == "sqlite"
        self._lock: AbstractContextManager[object] = (
            threading.Lock() if self._serial else nullcontext()
        )
        self._queue: list[_Pending[Any]] = []
        self._queue_lock = threading.Lock()

    def run(self, work: Callable[[Session], T]) -> T:
        with self._lock:
            return self._transact(work)

    def run_grouped(self, work: Callable[[Session], T]) -> T:
        """Like ``run``, but on SQLite it may share a transaction with other waiting work.

        Writers take turns on SQLite, so while one commits, others queue for the lock. The
        next one to get the lock runs every queued unit of work in one transaction and
        commits once (group commit): each caller still returns only after its own work
        is committed. If any of them fails, the group is rolled back and each runs again
        in its own transaction, so one caller's error never becomes another's. ``work``
        must be safe to run again, as it must for ``run``'s retries.
        """
        if not self._serial:
            return self._transact(work)
        pending = _Pending(work)
        with self._queue_lock:
            self._queue.append(pending)
        while not pending.settled:  # more may be queued than one group takes
            with self._lock:
                if not pending.settled:
                    with self._queue_lock:
                        group = self._queue[:GROUP_LIMIT]
                        del self._queue[:GROUP_LIMIT]
                    self._settle(group)
        return pending.outcome()

    def _settle(self, group: list[_Pending[Any]]) -> None:
        if len(group) > 1:
            try:
                results = self._transact(lambda session: [_flushed(p.work, session) for p in group])
            except Exception:
                pass  # each runs alone below and keeps its own error
            else:
                for p, result in zip(group, results, strict=True):
                    p.result, p.settled = result, True
                return
        for p in group:
            try:
                p.result = self._transact(p.work)
            except Exception as exc:
                p.error = exc
            p.settled = True

    def _transact(self, work: Callable[[Session], T]) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                with self.sessions() as session, session.begin():
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
