"""A small program built by hand in a real database, with every figure known in advance.

Five tickets, created an hour apart from T0 (a Monday), each with its first decision,
its events and (for three) an answered survey:

| ticket | tier   | deal   | decided by | first team | score | solved after |
|--------|--------|--------|------------|------------|-------|--------------|
| t1     | gold   | 1,000  | rule:r1    | finance    | 90    | 2 h          |
| t2     | gold   | 3,000  | rule:r1    | finance    | 70    | 4 h          |
| t3     | silver | 60,000 | model:m1   | analytics  | 40    | 10 h         |
| t4     | silver | none   | model:m1   | finance    | 20    | 20 h         |
| t5     | none   | none   | default    | general    | 50    | open, queued |

t2 and t4 were moved to analytics by a person; t1 was reopened an hour after it was solved
and solved again an hour later (its resolution time stays 2 h); t2 was escalated and
breached its SLA;
t5's resolution is due 30 minutes after NOW. Surveys (CSAT / NPS): t1 5 / 10 and t2 3 / 6
(top engagement), t3 4 / 9 (low), t4 scheduled.

Configuration v2 was activated at T0 + 2.5 h: t1..t3 came before it, t4 and t5 after.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from affroute.analytics import facts
from affroute.service.uow import UnitOfWork
from affroute.store.db import make_engine, session_factory
from affroute.store.models import (
    AnomalyRow,
    ConfigVersionRow,
    DealRow,
    DecisionRow,
    PartnerRow,
    SurveyRow,
    TicketEventRow,
    TicketRow,
)
from tests.api.conftest import _fresh_database, pg_ok  # noqa: F401 - a fixture
from tests.conftest import T0

H = timedelta(hours=1)
NOW = T0 + 30 * H
V2_AT = T0 + 2.5 * H


def ticket(ticket_id: str, created: datetime, **fields: Any) -> TicketRow:
    values: dict[str, Any] = {
        "id": ticket_id, "external_id": None, "partner_id": None, "deal_id": None,
        "campaign_id": None, "subject": "s", "body": "b", "category": None, "urgency": None,
        "channel": "portal", "region": "", "tags": [], "status": "solved", "score": 50.0,
        "priority": "p3", "priority_rank": 3, "team": "general", "team_source": "default",
        "agent_id": None, "queued": False, "required_skills": [], "sla_policy": "p3",
        "created_at": created, "updated_at": created, "sla_status": "fulfilled",
        "sla_paused_seconds": 0.0,
    }  # fmt: skip
    values.update(fields)
    return TicketRow(**values)


def event(ticket_id: str, kind: str, at: datetime, **data: Any) -> TicketEventRow:
    return TicketEventRow(ticket_id=ticket_id, kind=kind, actor="test", data=data, at=at)


def decision(ticket_id: str, team: str, source: str, score: float, at: datetime) -> DecisionRow:
    return DecisionRow(
        ticket_id=ticket_id, config_version="v1", team=team, team_source=source,
        priority="p3", score=score, trace={}, decided_at=at,
    )  # fmt: skip


def survey(ticket_id: str, at: datetime, band: str, csat: int | None, nps: int | None) -> SurveyRow:
    return SurveyRow(
        id=f"s-{ticket_id}", ticket_id=ticket_id, status="answered" if csat else "scheduled",
        team="x", team_source="x", priority="p3", engagement_band=band, created_at=at,
        send_at=at, delivery_attempts=1, csat=csat, nps=nps,
    )  # fmt: skip


def build(session: Session) -> None:
    day = T0 - 24 * H
    session.add_all([
        ConfigVersionRow(version="v1", yaml="", created_at=day, created_by="t", active=False),
        ConfigVersionRow(version="v2", yaml="", created_at=V2_AT, created_by="t", active=True),
        PartnerRow(id="P1", name="Gold", tier="gold", updated_at=day),
        PartnerRow(id="P2", name="Silver", tier="silver", updated_at=day),
        DealRow(id="D1", partner_id="P1", value=1_000, updated_at=day),
        DealRow(id="D2", partner_id="P1", value=3_000, updated_at=day),
        DealRow(id="D3", partner_id="P2", value=60_000, updated_at=day),
    ])  # fmt: skip
    session.flush()
    plan = [
        # id, partner, deal, source, first team, final team, score, priority, solved after
        ("t1", "P1", "D1", "rule:r1", "finance", "finance", 90.0, "p1", 2),
        ("t2", "P1", "D2", "rule:r1", "finance", "analytics", 70.0, "p2", 4),
        ("t3", "P2", "D3", "model:m1", "analytics", "analytics", 40.0, "p3", 10),
        ("t4", "P2", None, "model:m1", "finance", "analytics", 20.0, "p4", 20),
        ("t5", None, None, "default", "general", "general", 50.0, "p3", None),
    ]
    for i, (tid, partner, deal, source, first, final, score, priority, hours) in enumerate(plan):
        created = T0 + i * H
        row = ticket(
            tid, created, partner_id=partner, deal_id=deal, score=score, priority=priority,
            team=final, team_source=source if first == final else "person:k1",
        )  # fmt: skip
        if hours is None:
            row.status, row.queued, row.sla_status = "open", True, "resolution_due"
            row.resolution_by = NOW + 30 * timedelta(minutes=1)
        if tid == "t2":
            row.sla_status = "breached"
        session.add(row)
        session.flush()
        session.add(decision(tid, first, source, score, created))
        session.add(event(tid, "created", created))
        if hours is None:
            session.add(event(tid, "queued", created, team=first))
        else:
            session.add(event(tid, "assigned", created + 0.25 * H, agent_id="a1"))
        if first != final:
            session.add(event(tid, "reassigned", created + H, from_team=first, to_team=final,
                              misroute=True, overturned=source))  # fmt: skip
        if tid == "t2":
            session.add(event(tid, "escalated", created + 1.5 * H, step=0))
        if hours is not None:
            solved = created + hours * H
            session.add(event(tid, "status_changed", solved, **{"from": "open", "to": "solved"}))
        if tid == "t1":
            session.add(
                event(tid, "status_changed", solved + H, **{"from": "solved", "to": "open"})
            )
            session.add(
                event(tid, "status_changed", solved + 2 * H, **{"from": "open", "to": "solved"})
            )
    session.flush()
    session.add_all([
        survey("t1", T0 + 2 * H, "top", 5, 10),
        survey("t2", T0 + 5 * H, "top", 3, 6),
        survey("t3", T0 + 12 * H, "low", 4, 9),
        survey("t4", T0 + 23 * H, "low", None, None),
        AnomalyRow(id="a1", kind="duplicate_leads", partner_id="P1", severity=1.0,
                   status="open", updated_at=T0, detected_at=T0),
        AnomalyRow(id="a2", kind="spike", partner_id="P2", severity=1.0,
                   status="resolved", updated_at=T0 + H, detected_at=T0, resolved_at=T0 + H),
        AnomalyRow(id="a3", kind="drop", partner_id="P1", severity=1.0, status="resolved",
                   updated_at=T0 + 7 * 24 * H, detected_at=T0 + 7 * 24 * H,
                   resolved_at=T0 + 7 * 24 * H),
    ])  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_ok: bool,  # noqa: F811 - the fixture imported above
) -> Iterator[str]:
    """A migrated database (SQLite file, PostgreSQL) holding the hand-built program."""
    for url in _fresh_database(request.param, tmp_path_factory, pg_ok):
        uow = UnitOfWork(session_factory(make_engine(url)))
        uow.run(build)
        uow.run(lambda s: facts.refresh(session=s))
        yield url


@pytest.fixture
def uow(database_url: str) -> UnitOfWork:
    return UnitOfWork(session_factory(make_engine(database_url)))
