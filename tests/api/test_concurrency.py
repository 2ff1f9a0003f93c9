"""Assignment and ingest under concurrent load: several threads on SQLite, several worker
processes on PostgreSQL. At the end no agent is over capacity, every load matches its open
tickets, no ticket went to an agent who was offline, and duplicates made one ticket."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from affroute.service.keys import Role
from affroute.store.db import make_engine, session_factory
from affroute.store.models import OPEN_STATUSES, AgentRow, TicketEventRow, TicketRow
from tests.api.conftest import Server, _fresh_database, free_port
from tests.conftest import EXAMPLE

FINANCE = ("fi-01", "fi-02", "fi-03")
NEVER_ONLINE = "fi-04"


def check_invariants(database_url: str) -> dict[str, int]:
    """What must hold whatever the interleaving; returns counts for the test's own checks."""
    engine = make_engine(database_url)
    open_values = [s.value for s in OPEN_STATUSES]
    with session_factory(engine)() as session:
        agents = {a.id: a for a in session.scalars(select(AgentRow))}
        held = dict(
            session.execute(
                select(TicketRow.agent_id, func.count())
                .where(TicketRow.agent_id.is_not(None), TicketRow.status.in_(open_values))
                .group_by(TicketRow.agent_id)
            ).all()
        )
        for agent in agents.values():
            assert agent.load == held.get(agent.id, 0), (
                f"{agent.id}: load {agent.load} != {held.get(agent.id, 0)}"
            )
            assert agent.load <= agent.capacity, f"{agent.id} over capacity"
        tickets = list(session.scalars(select(TicketRow)))
        for t in tickets:
            if t.status in open_values:
                assert (t.agent_id is None) == t.queued, (
                    f"ticket {t.id} both/neither assigned and queued"
                )
        to_never_online = session.scalar(
            select(func.count())
            .select_from(TicketEventRow)
            .where(
                TicketEventRow.kind == "assigned",
                TicketEventRow.data["agent_id"].as_string() == NEVER_ONLINE,
            )
        )
        assert to_never_online == 0
        counts = {
            "tickets": len(tickets),
            "assigned_events": session.scalar(
                select(func.count())
                .select_from(TicketEventRow)
                .where(TicketEventRow.kind == "assigned")
            )
            or 0,
        }
    engine.dispose()
    return counts


def hammer(
    base_url: str, key: str, *, workers: int = 8, rounds: int = 40, seed: int = 1
) -> dict[str, Any]:
    """Concurrent ingest, solves and presence flips; returns created ticket ids."""
    created: list[str] = []

    def worker(index: int) -> None:
        rng = random.Random(seed * 100 + index)
        with httpx.Client(base_url=base_url, headers={"X-API-Key": key}, timeout=60) as client:
            mine: list[str] = []
            for _ in range(rounds):
                roll = rng.random()
                if roll < 0.65:
                    body = {
                        "subject": "payout?",
                        "body": "where is it",
                        "category": "payout",
                        "urgency": rng.choice(["low", "normal", "urgent"]),
                    }
                    response = client.post("/api/v1/tickets", json=body)
                    assert response.status_code == 201, response.text
                    mine.append(response.json()["id"])
                elif roll < 0.85 and mine:
                    ticket_id = mine.pop(rng.randrange(len(mine)))
                    response = client.post(
                        f"/api/v1/tickets/{ticket_id}/status", json={"status": "solved"}
                    )
                    assert response.status_code == 200, response.text
                else:
                    agent = rng.choice(FINANCE)
                    status = rng.choice(["online", "away", "offline", "online"])
                    response = client.put(
                        f"/api/v1/agents/{agent}/presence", json={"status": status}
                    )
                    assert response.status_code == 200, response.text
            created.extend(mine)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(worker, range(workers)))
    return {"open": created}


def prepare(client: httpx.Client) -> None:
    """Small capacities so agents fill up and the queue is exercised."""
    for agent in FINANCE:
        assert (
            client.put(f"/api/v1/agents/{agent}/capacity", json={"capacity": 2}).status_code == 200
        )
    assert (
        client.put(
            f"/api/v1/agents/{NEVER_ONLINE}/presence", json={"status": "offline"}
        ).status_code
        == 200
    )


def burst_at_capacity(
    base_url: str, key: str, capacity: int = 5, requests: int = 40
) -> list[dict[str, Any]]:
    """One online agent with room for ``capacity``; many ingests released at the same instant."""
    with httpx.Client(base_url=base_url, headers={"X-API-Key": key}, timeout=60) as admin:
        for agent in (*FINANCE[1:], NEVER_ONLINE):
            admin.put(f"/api/v1/agents/{agent}/presence", json={"status": "offline"})
        # Solve the backlog (solving pulls queued tickets, so repeat until none is left).
        params = {"status": "new", "limit": 500}
        while backlog := admin.get("/api/v1/tickets", params=params).json()["items"]:
            for ticket in backlog:
                admin.post(f"/api/v1/tickets/{ticket['id']}/status", json={"status": "solved"})
        admin.put(f"/api/v1/agents/{FINANCE[0]}/capacity", json={"capacity": capacity})
        admin.put(f"/api/v1/agents/{FINANCE[0]}/presence", json={"status": "online"})
    barrier = threading.Barrier(requests)

    def send(i: int) -> dict[str, Any]:
        with httpx.Client(base_url=base_url, headers={"X-API-Key": key}, timeout=60) as client:
            barrier.wait()
            response = client.post(
                "/api/v1/tickets", json={"subject": f"burst {i}", "category": "payout"}
            )
            assert response.status_code == 201, response.text
            return dict(response.json())

    with ThreadPoolExecutor(requests) as pool:
        return list(pool.map(send, range(requests)))


def idempotency_race(base_url: str, key: str, attempts: int = 12) -> set[str]:
    body = {
        "subject": "duplicate?",
        "body": "sent twice by a retrying webhook",
        "external_id": "race-1",
    }

    def send(i: int) -> str:
        headers = {"X-API-Key": key, "Idempotency-Key": "race-key"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            response = client.post("/api/v1/tickets", json=body)
            assert response.status_code in (200, 201), response.text
            return str(response.json()["id"])

    with ThreadPoolExecutor(attempts) as pool:
        return set(pool.map(send, range(attempts)))


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
def test_threads_on_sqlite_keep_every_invariant(server: Server) -> None:
    with server.client() as admin:
        prepare(admin)
    hammer(server.url, server.keys["admin"])
    counts = check_invariants(server.database_url)
    assert counts["tickets"] >= 150
    burst = burst_at_capacity(server.url, server.keys["admin"])
    assert sum(1 for t in burst if t["agent_id"] == FINANCE[0]) == 5
    check_invariants(server.database_url)
    assert len(idempotency_race(server.url, server.keys["admin"])) == 1


@pytest.fixture
def pg_workers(tmp_path_factory: pytest.TempPathFactory, pg_ok: bool) -> Iterator[Server]:
    """`affroute serve --workers 3` on a fresh PostgreSQL database, as an operator runs it."""
    for url in _fresh_database("postgresql", tmp_path_factory, pg_ok):
        port = free_port()
        env = dict(
            os.environ,
            AFFROUTE_DATABASE_URL=url,
            AFFROUTE_CONFIG_PATH=str(EXAMPLE),
            AFFROUTE_REBALANCE_SECONDS="0",
            AFFROUTE_SLA_SWEEP_SECONDS="0",
        )
        log = tmp_path_factory.mktemp("log") / "serve.log"
        with log.open("w") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "affroute", "serve", "--port", str(port), "--workers", "3"],
                env=env, stdout=sink, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                handle = Server(f"http://127.0.0.1:{port}", url, {})
                _wait_ready(handle.url, process, log)
                handle.keys["admin"] = handle.new_key(Role.ADMIN)
                yield handle
            finally:
                process.terminate()
                process.wait(timeout=30)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not ready: {log.read_text()}")


def test_worker_processes_on_postgres_keep_every_invariant(pg_workers: Server) -> None:
    with pg_workers.client() as admin:
        prepare(admin)
    hammer(pg_workers.url, pg_workers.keys["admin"], workers=10, rounds=40, seed=2)
    counts = check_invariants(pg_workers.database_url)
    assert counts["tickets"] >= 200
    burst = burst_at_capacity(pg_workers.url, pg_workers.keys["admin"])
    assert sum(1 for t in burst if t["agent_id"] == FINANCE[0]) == 5
    check_invariants(pg_workers.database_url)
    assert len(idempotency_race(pg_workers.url, pg_workers.keys["admin"])) == 1
