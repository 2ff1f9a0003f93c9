"""SLA clocks on real tickets and the escalation sweeper, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from affroute.integrations.delivery import Deliverer
from affroute.service import outbox, sla
from affroute.service.runtime import RoutingCache
from affroute.service.uow import UnitOfWork
from affroute.settings import Settings
from affroute.store.db import make_engine, session_factory
from affroute.store.models import EscalationRow, TicketEventRow, TicketRow
from tests.api.conftest import Server, seed_catalog

PREMIUM = "P019"  # premium tier in seed_catalog: the "premium partners" policy (24x7)


def sweep_at(server: Server, at: datetime, actor: str = "sla", limit: int = 500) -> sla.SweepResult:
    uow = UnitOfWork(session_factory(make_engine(server.database_url)))
    cache = RoutingCache()
    return sla.sweep(uow=uow, cache=cache, now=at, limit=limit, actor=actor)


def new_ticket(admin: httpx.Client, **fields: object) -> dict[str, object]:
    body = {"subject": "Tracking pixel?", "body": "conversions look low", "partner_id": PREMIUM}
    body.update(fields)
    response = admin.post("/api/v1/tickets", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def at(value: object) -> datetime:
    return datetime.fromisoformat(str(value))


def test_clocks_start_on_ingest_and_follow_replies(admin: httpx.Client) -> None:
    seed_catalog(admin)
    ticket = new_ticket(admin)
    clock = ticket["sla"]
    assert isinstance(clock, dict)
    assert clock["policy"] == "premium partners"
    assert clock["status"] == "first_response_due"
    created = at(ticket["created_at"])
    assert at(clock["first_response_by"]) == created + timedelta(hours=1)  # a 24x7 calendar
    assert at(clock["resolution_by"]) == created + timedelta(hours=24)
    replied = admin.post(f"/api/v1/tickets/{ticket['id']}/replies", json={"author": "agent"})
    assert replied.status_code == 201, replied.text
    assert replied.json()["sla"]["status"] == "resolution_due"
    events = [e["kind"] for e in admin.get(f"/api/v1/tickets/{ticket['id']}").json()["events"]]
    assert events[-1] == "first_response"


def test_pending_pauses_the_resolution_clock(admin: httpx.Client) -> None:
    seed_catalog(admin)
    ticket = new_ticket(admin)
    # Waiting on the partner stops the resolution clock; the first answer is still owed
    # until it is given, so reply first.
    admin.post(f"/api/v1/tickets/{ticket['id']}/replies", json={"author": "agent"})
    paused = admin.post(f"/api/v1/tickets/{ticket['id']}/status", json={"status": "pending"}).json()
    assert paused["sla"]["status"] == "paused"
    resumed = admin.post(f"/api/v1/tickets/{ticket['id']}/status", json={"status": "open"}).json()
    assert resumed["sla"]["status"] == "resolution_due"
    assert at(resumed["sla"]["resolution_by"]) >= at(ticket["sla"]["resolution_by"])  # type: ignore[index]


def test_each_step_fires_once_at_its_time(server: Server, admin: httpx.Client) -> None:
    seed_catalog(admin)
    ticket = new_ticket(admin)
    created = at(ticket["created_at"])
    assert sweep_at(server, created + timedelta(hours=17)).fired == 0  # 75% of 24h is 18h
    first = sweep_at(server, created + timedelta(hours=19))
    assert (first.fired, first.by_action) == (1, {"notify": 1})
    assert sweep_at(server, created + timedelta(hours=19, minutes=5)).fired == 0
    later = sweep_at(server, created + timedelta(hours=49))  # premium: after 48h to senior managers
    assert later.by_action == {"reassign": 1}
    detail = admin.get(f"/api/v1/tickets/{ticket['id']}").json()
    assert detail["team"] == "senior_managers"
    assert detail["team_source"] == "escalation:sla"
    moved = next(e for e in detail["events"] if e["kind"] == "reassigned")
    assert moved["data"]["misroute"] is False  # running out of time is not a misroute
    assert [e["data"]["step"] for e in detail["events"] if e["kind"] == "escalated"] == [0, 1]
    assert sweep_at(server, created + timedelta(hours=60)).fired == 0
    stats = admin.get("/api/v1/sla/stats").json()
    premium = next(g for g in stats["by_partner_tier"] if g["key"] == "premium")
    assert premium["escalated"] >= 1


def test_board_orders_by_time_left(admin: httpx.Client) -> None:
    seed_catalog(admin)
    slow = new_ticket(admin, partner_id="P001")  # a standard policy on business hours
    fast = new_ticket(admin)  # premium: one hour to first response
    board = admin.get("/api/v1/sla/board").json()
    order = [item["ticket"]["id"] for item in board["items"]]
    assert order.index(fast["id"]) < order.index(slow["id"])
    assert board["items"][0]["seconds_left"] <= board["items"][-1]["seconds_left"]


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("server", ["postgresql"], indirect=True)
def test_three_concurrent_sweepers_fire_every_step_exactly_once(
    server: Server, admin: httpx.Client
) -> None:
    seed_catalog(admin)
    ids = [str(new_ticket(admin)["id"]) for _ in range(30)]
    when = datetime.now(UTC) + timedelta(hours=50)
    barrier = threading.Barrier(3)
    results: dict[str, list[sla.SweepResult]] = {}

    def sweeper(name: str) -> None:
        barrier.wait()
        runs = results.setdefault(name, [])
        while True:  # small batches so the three interleave over the same tickets
            done = sweep_at(server, when, actor=name, limit=3)
            runs.append(done)
            if done.examined == 0:
                return

    threads = [threading.Thread(target=sweeper, args=(f"sweeper-{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    engine = make_engine(server.database_url)
    with session_factory(engine)() as session:
        fired = Counter(session.execute(select(EscalationRow.ticket_id, EscalationRow.step)).all())
        escalated = session.scalar(
            select(func.count())
            .select_from(TicketEventRow)
            .where(TicketEventRow.kind == "escalated")
        )
        teams = set(session.scalars(select(TicketRow.team).where(TicketRow.id.in_(ids))))
    assert set(fired.values()) == {1}
    assert {ticket for ticket, _ in fired} == set(ids)
    assert len(fired) == 60 and escalated == 60  # two steps each: notify, reassign
    assert teams == {"senior_managers"}
    assert sum(r.fired for runs in results.values() for r in runs) == 60


def test_a_predicted_breach_escalates_early_and_says_so(
    server: Server, admin: httpx.Client
) -> None:
    seed_catalog(admin)
    month_ago = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    # The compliance team's recent pace: tickets written a month ago, solved today.
    for _ in range(3):
        old = new_ticket(admin, partner_id="P001", category="compliance", created_at=month_ago)
        admin.post(f"/api/v1/tickets/{old['id']}/status", json={"status": "solved"})
    # Urgent: at least P2, whose policy raises the priority when the resolution target is hit.
    ticket = new_ticket(admin, partner_id="P001", category="compliance", urgency="urgent")
    assert ticket["team"] == "compliance"
    assert ticket["sla"]["policy"] == "p2"  # type: ignore[index]
    policy = ticket["sla"]["policy"]  # type: ignore[index]
    swept = sweep_at(server, datetime.now(UTC) + timedelta(minutes=11))
    assert swept.predicted >= 1
    detail = admin.get(f"/api/v1/tickets/{ticket['id']}").json()
    early = [e for e in detail["events"] if e["kind"] == "escalated"]
    assert len(early) == 1 and early[0]["data"]["predicted_breach"] is True
    assert early[0]["data"]["policy"] == policy
    assert at(early[0]["data"]["expected_resolution"]) > at(detail["sla"]["resolution_by"])
    assert detail["sla"]["status"] != "breached"  # not late yet: this is the early warning


def test_raising_the_priority_moves_the_ticket_to_that_prioritys_policy(
    server: Server, admin: httpx.Client
) -> None:
    seed_catalog(admin)
    ticket = new_ticket(admin, partner_id="P012", category="account_access", urgency="normal")
    assert (ticket["priority"], ticket["sla"]["policy"]) == ("p3", "p3")  # type: ignore[index]
    # p3's ladder raises the priority once its 4 business days have run.
    swept = sweep_at(server, datetime.now(UTC) + timedelta(days=30))
    assert swept.by_action.get("raise_priority") == 1
    raised = admin.get(f"/api/v1/tickets/{ticket['id']}").json()
    assert (raised["priority"], raised["sla"]["policy"]) == ("p2", "p2")
    assert [e["data"]["to"] for e in raised["events"] if e["kind"] == "priority_changed"] == ["p2"]


def test_sweep_and_recompute_commands(server: Server, admin: httpx.Client) -> None:
    seed_catalog(admin)
    new_ticket(admin)
    common = ["--database-url", server.database_url]
    sweep = subprocess.run(
        [sys.executable, "-m", "affroute", "sla", "sweep", "--once", *common],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr
    assert "examined" in sweep.stdout and "fired" in sweep.stdout
    recompute = subprocess.run(
        [sys.executable, "-m", "affroute", "sla", "recompute", *common],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert recompute.returncode == 0, recompute.stderr
    assert "recomputed the clocks of" in recompute.stdout


def _running_clocks(server: Server) -> dict[str, tuple[object, ...]]:
    """What the API shows of each running clock, and when the sweeper looks at it next."""
    engine = make_engine(server.database_url)
    with session_factory(engine)() as session:
        rows = session.execute(
            select(
                TicketRow.id,
                TicketRow.sla_policy,
                TicketRow.sla_status,
                TicketRow.first_response_by,
                TicketRow.next_response_by,
                TicketRow.resolution_by,
                TicketRow.sla_paused_seconds,
                TicketRow.sla_check_at,
            ).where(TicketRow.status.in_(["new", "open"]))  # paused clocks wait for a change
        ).all()
    engine.dispose()
    return {ticket_id: tuple(values) for ticket_id, *values in rows}


def test_the_sweep_leaves_the_clocks_a_recompute_from_the_events_would(
    server: Server, admin: httpx.Client
) -> None:
    seed_catalog(admin)
    now = datetime.now(UTC)
    kinds = [  # partner, category, urgency: premium 24x7, p1 24x7, p2 and p3 on office hours
        ("P019", None, None),
        ("P001", "compliance", "urgent"),
        ("P012", "account_access", "normal"),
        ("P003", "payout", "urgent"),
    ]
    for i in range(16):
        partner, category, urgency = kinds[i % 4]
        created = (now - timedelta(hours=7 * i)).isoformat()
        body = {"partner_id": partner, "created_at": created, "category": category}
        ticket = new_ticket(admin, **body, urgency=urgency)
        path = f"/api/v1/tickets/{ticket['id']}"
        if i % 3 == 1:
            admin.post(f"{path}/replies", json={"author": "agent"})
        if i % 4 == 2:
            admin.post(f"{path}/replies", json={"author": "agent"})
            admin.post(f"{path}/replies", json={"author": "partner"})
        if i % 5 == 3:  # paused a while, then running again
            admin.post(f"{path}/status", json={"status": "pending"})
            admin.post(f"{path}/status", json={"status": "open"})
        if i % 7 == 6:  # paused: no sweep looks at it
            admin.post(f"{path}/status", json={"status": "on_hold"})
    engine = make_engine(server.database_url)
    uow = UnitOfWork(session_factory(engine))
    for hours in (1, 5, 13, 30, 49, 100, 250):
        when = now + timedelta(hours=hours)
        # Small batches: a sweep of several transactions, clocks carried forward, not replayed.
        done = sla.sweep(uow=uow, cache=RoutingCache(), now=when, limit=500, batch=5)
        swept = _running_clocks(server)
        uow.run(lambda s, when=when: sla.recompute_all(session=s, cache=RoutingCache(), now=when))
        recomputed = _running_clocks(server)
        differ = {t: (swept[t], recomputed[t]) for t in swept if swept[t] != recomputed[t]}
        assert differ == {}, f"{hours} hours on"
        # Nothing due is left behind, except tickets a raised priority moved to a new policy.
        with session_factory(engine)() as session:
            left = set(session.scalars(select(TicketRow.id).where(TicketRow.sla_check_at <= when)))
            moved = set(
                session.scalars(
                    select(TicketEventRow.ticket_id).where(
                        TicketEventRow.kind == "priority_changed", TicketEventRow.at == when
                    )
                )
            )
        assert left <= moved, f"{hours} hours on"
        assert done.examined > 0
    engine.dispose()


def test_a_notify_step_sends_a_signed_webhook(server: Server, admin: httpx.Client) -> None:
    """notify = an `escalated` event and a signed Standard Webhook, delivered by the outbox."""
    from tests.api.test_surveys import SECRET, Receiver

    seed_catalog(admin)
    ticket = new_ticket(admin)
    created = at(ticket["created_at"])
    uow = UnitOfWork(session_factory(make_engine(server.database_url)))
    when = created + timedelta(hours=19)
    fired = sla.sweep(uow=uow, cache=RoutingCache(), now=when, notify=True)
    assert fired.by_action == {"notify": 1}
    receiver = Receiver()
    try:
        settings = Settings(
            database_url=server.database_url,
            events_webhook_url=receiver.url,
            webhook_secret=SECRET,
        )
        with httpx.Client(timeout=10) as client:
            deliver = Deliverer(settings, client, lambda: datetime.now(UTC))
            done = outbox.process(uow=uow, deliver=deliver, now=lambda: when)
        assert done.delivered == 1
        [escalated] = receiver.wait_for("ticket.escalated")
        headers, body = receiver.deliveries[0]
        verified = Webhook(SECRET).verify(body, {k.lower(): v for k, v in headers.items()})
        assert verified["data"]["ticket_id"] == ticket["id"] == escalated["data"]["ticket_id"]
    finally:
        receiver.server.shutdown()
