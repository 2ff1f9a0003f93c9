"""Answers from the facts are kept until a refresh changes the facts, and no longer."""

from __future__ import annotations

from sqlalchemy.orm import Session

from affroute.analytics import facts, metrics
from affroute.analytics.memo import FactsMemo
from affroute.service.uow import UnitOfWork
from tests.analytics.conftest import NOW, event


def test_an_answer_is_kept_until_the_facts_change(uow: UnitOfWork) -> None:
    memo, computed = FactsMemo(), []

    def misroutes(session: Session) -> list[metrics.MisrouteRate]:
        def compute() -> list[metrics.MisrouteRate]:
            computed.append(1)
            return metrics.misroute_rate(session=session, filters=metrics.Filters())

        return memo.get(session, ("misroutes",), compute)

    assert not memo.asked(("misroutes",))
    first = uow.run(misroutes)
    assert memo.asked(("misroutes",))
    assert uow.run(misroutes) == first and len(computed) == 1  # kept
    uow.run(lambda s: facts.refresh(session=s))  # no new events (PostgreSQL re-reads a few)
    assert uow.run(misroutes) == first and len(computed) == 1  # nothing changed: still kept

    # A person moves the open ticket t5 to another team: its facts change at the refresh.
    moved = event("t5", "reassigned", NOW, from_team="general", to_team="finance",
                  misroute=True, overturned="default")  # fmt: skip
    uow.run(lambda s: s.add(moved))
    assert uow.run(misroutes) == first  # the facts have not seen it yet
    assert uow.run(lambda s: facts.refresh(session=s)).tickets >= 1
    after = {m.decided_by: m.misrouted for m in uow.run(misroutes)}
    assert len(computed) == 2 and after["default"] == 1 and after["all"] == 3
