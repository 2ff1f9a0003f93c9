"""The SLA board's nearest deadlines, read per deadline column, against every open ticket."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from affroute.service import sla
from affroute.service.uow import UnitOfWork
from affroute.store.db import make_engine, session_factory
from affroute.store.models import TicketRow
from tests.analytics.conftest import ticket
from tests.api.conftest import _fresh_database, pg_ok  # noqa: F401 - a fixture
from tests.conftest import T0

STATUSES = ("open", "pending", "solved")
CLOCKS = ("first_response_due", "resolution_due", "breached", None)


@pytest.fixture(params=["sqlite", "postgresql"])
def uow(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_ok: bool,  # noqa: F811 - the fixture imported above
) -> Iterator[UnitOfWork]:
    """120 tickets with every mix of status, clock and deadlines (some missing, some tied)."""
    rng = np.random.default_rng(5)

    def due() -> object:
        return None if rng.random() < 0.3 else T0 + timedelta(hours=int(rng.integers(0, 40)))

    def build(session: Session) -> None:
        for i in range(120):
            row = ticket(f"k{i:03d}", T0, team=("finance", "general")[i % 2], agent_id=None)
            row.status = STATUSES[int(rng.integers(0, 3))]
            row.sla_status = CLOCKS[int(rng.integers(0, 4))]
            row.first_response_by, row.next_response_by, row.resolution_by = due(), due(), due()
            session.add(row)

    for url in _fresh_database(request.param, tmp_path_factory, pg_ok):
        unit = UnitOfWork(session_factory(make_engine(url)))
        unit.run(build)
        yield unit


def every_open_ticket(session: Session, team: str | None) -> list[tuple[str, object]]:
    """The board as it was computed before: every open ticket, sorted in Python."""
    rows = session.scalars(
        select(TicketRow).where(
            TicketRow.status.in_(("new", "open", "pending", "on_hold")),
            TicketRow.sla_status.in_(("first_response_due", "resolution_due", "breached")),
            *([TicketRow.team == team] if team else []),
        )
    )
    found = [(row.id, due) for row in rows if (due := sla.nearest_deadline(row))]
    return sorted(found, key=lambda pair: (pair[1], pair[0]))


@pytest.mark.parametrize("limit", [1, 3, 10, 200])
@pytest.mark.parametrize("team", [None, "finance"])
def test_the_board_is_the_nearest_deadlines_of_every_open_ticket(
    uow: UnitOfWork, limit: int, team: str | None
) -> None:
    def board(session: Session) -> list[tuple[str, object]]:
        found = sla.board(session=session, now=T0, team=team, agent_id=None, limit=limit)
        return [(row.id, due) for row, due in found]

    expected = uow.run(lambda s: every_open_ticket(s, team))[:limit]
    assert expected and uow.run(board) == expected
