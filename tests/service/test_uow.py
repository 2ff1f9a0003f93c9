"""Group commit on SQLite: waiting writers share a transaction, never each other's errors."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from affroute.service.uow import UnitOfWork
from affroute.store import migrate
from affroute.store.db import make_engine, session_factory
from affroute.store.models import MetaRow


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'uow.db'}"
    migrate.upgrade(url)
    return make_engine(url)


def count_commits(engine: Engine) -> list[int]:
    commits = [0]

    @event.listens_for(engine, "commit")
    def _count(_connection: Any) -> None:
        commits[0] += 1

    return commits


def add_counter(key: str) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        session.add(MetaRow(key=key, value=1))
        return key

    return work


def stored_keys(engine: Engine) -> set[str]:
    with Session(engine) as session:
        return set(session.scalars(select(MetaRow.key).where(MetaRow.key.like("k%"))))


def test_concurrent_writers_share_commits_and_each_gets_its_own_result(engine: Engine) -> None:
    uow = UnitOfWork(session_factory(engine))
    commits = count_commits(engine)
    slow = threading.Event()

    def hold_the_lock(session: Session) -> None:
        slow.wait(5)  # the others queue behind this one meanwhile

    with ThreadPoolExecutor(max_workers=17) as pool:
        first = pool.submit(uow.run_grouped, hold_the_lock)
        futures = [pool.submit(uow.run_grouped, add_counter(f"k{i:02d}")) for i in range(16)]
        slow.set()
        first.result(timeout=30)
        results = [f.result(timeout=30) for f in futures]

    assert results == [f"k{i:02d}" for i in range(16)]
    assert stored_keys(engine) == set(results)
    # Sixteen units of work, committed in fewer transactions than there were writers.
    assert commits[0] < 17


def test_a_failing_unit_of_work_fails_alone(engine: Engine) -> None:
    uow = UnitOfWork(session_factory(engine))
    gate = threading.Event()

    def hold_the_lock(session: Session) -> None:
        gate.wait(5)

    def broken(session: Session) -> str:
        session.add(MetaRow(key="kbroken", value=1))
        raise ValueError("this one is wrong")

    with ThreadPoolExecutor(max_workers=8) as pool:
        first = pool.submit(uow.run_grouped, hold_the_lock)
        good = [pool.submit(uow.run_grouped, add_counter(f"k{i}")) for i in range(3)]
        bad = pool.submit(uow.run_grouped, broken)
        more = [pool.submit(uow.run_grouped, add_counter(f"k{i}")) for i in range(3, 6)]
        gate.set()
        first.result(timeout=30)
        with pytest.raises(ValueError, match="this one is wrong"):
            bad.result(timeout=30)
        done = [f.result(timeout=30) for f in good + more]

    assert done == [f"k{i}" for i in range(6)]
    assert stored_keys(engine) == set(done)  # and nothing of the broken one


def test_grouped_work_sees_what_earlier_work_in_the_group_wrote(engine: Engine) -> None:
    uow = UnitOfWork(session_factory(engine))
    gate = threading.Event()

    def hold_the_lock(session: Session) -> None:
        gate.wait(5)

    numbers = itertools.count()

    def count_seen(session: Session) -> int:
        session.add(MetaRow(key=f"k-{next(numbers)}", value=1))
        return int(session.scalar(select(func.count()).select_from(MetaRow)) or 0)

    with ThreadPoolExecutor(max_workers=6) as pool:
        first = pool.submit(uow.run_grouped, hold_the_lock)
        futures = [pool.submit(uow.run_grouped, count_seen) for _ in range(5)]
        gate.set()
        first.result(timeout=30)
        seen = sorted(f.result(timeout=30) for f in futures)

    # Each unit saw the rows of those before it: the counts are all different.
    assert len(set(seen)) == 5
