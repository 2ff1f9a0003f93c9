"""A real database (a SQLite file, and a fresh PostgreSQL database) and a real HTTP server."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn

from affroute.analytics import facts
from affroute.api.app import create_app
from affroute.service import keys
from affroute.service.keys import Role
from affroute.service.uow import UnitOfWork
from affroute.settings import Settings
from affroute.store import migrate
from affroute.store.db import make_engine, session_factory
from tests.conftest import EXAMPLE

PG_ADMIN = os.environ.get("AFFROUTE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def pg_ok() -> bool:
    ok = postgres_available()
    if not ok and IN_CI:
        pytest.fail(f"CI=true but PostgreSQL is not reachable at {PG_ADMIN}")
    return ok


def _fresh_database(
    kind: str, tmp_path_factory: pytest.TempPathFactory, pg_ok: bool
) -> Iterator[str]:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'affroute.db'}"
        migrate.upgrade(url)
        yield url
        return
    if not pg_ok:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN} (set AFFROUTE_TEST_PG); runs in CI")
    name = f"affroute_test_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def chromium_path() -> str:
    """Debian's Chromium, for the browser tests (`make browser` installs it)."""
    path = shutil.which("chromium")
    if path is None:
        if IN_CI:
            pytest.fail("CI=true but Debian's chromium is not installed (make browser)")
        pytest.skip("Debian's chromium is not installed; `make browser` installs it")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    database_url: str
    keys: dict[str, str]

    def client(self, role: str = "admin") -> httpx.Client:
        headers = {"X-API-Key": self.keys[role]} if role in self.keys else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def new_key(self, role: Role, agent_id: str | None = None) -> str:
        uow = UnitOfWork(session_factory(make_engine(self.database_url)))
        _, plain = uow.run(
            lambda s: keys.create(session=s, role=role, agent_id=agent_id, now=datetime.now(UTC))
        )
        return plain


def run_server(database_url: str, config: Path = EXAMPLE, **settings: object) -> Iterator[Server]:
    """Serve the app with uvicorn on a loopback port in a thread; stop it afterwards."""
    app = create_app(
        Settings(  # type: ignore[arg-type]
            database_url=database_url,
            config_path=config,
            **{
                "rebalance_seconds": 0,
                "sla_sweep_seconds": 0,
                "survey_dispatch_seconds": 0,
                "tune_hours": 0,
                "anomaly_scan_seconds": 0,
                **settings,
            },
        )
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    handle = Server(f"http://127.0.0.1:{port}", database_url, {})
    handle.keys["admin"] = handle.new_key(Role.ADMIN)
    handle.keys["analyst"] = handle.new_key(Role.ANALYST)
    handle.keys["integration"] = handle.new_key(Role.INTEGRATION)
    handle.keys["agent"] = handle.new_key(Role.AGENT, agent_id="fi-01")
    try:
        yield handle
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_ok: bool
) -> Iterator[Server]:
    """A running API on a fresh database, for each database kind."""
    for url in _fresh_database(request.param, tmp_path_factory, pg_ok):
        yield from run_server(url)


@pytest.fixture
def admin(server: Server) -> Iterator[httpx.Client]:
    with server.client("admin") as client:
        yield client


def refresh_facts(server: Server) -> None:
    """What each worker does in the background: bring the analytics facts up to the log."""
    uow = UnitOfWork(session_factory(make_engine(server.database_url)))
    uow.run(lambda s: facts.refresh(session=s))


def seed_catalog(client: httpx.Client) -> None:
    """A few partners, deals and campaigns every API test can rely on."""
    partners = [
        {
            "id": f"P{i:03d}",
            "name": f"Partner {i}",
            "tier": "premium" if i > 17 else "silver",
            "region": ["NA", "EMEA", "APAC"][i % 3],
            "weekly_active_leads": i,
            "click_through_rate": i / 100,
            "portal_logins": i,
            "lead_volume": i * 10,
        }
        for i in range(20)
    ]
    assert client.post("/api/v1/partners/bulk", json=partners).status_code == 200
    deals = [
        {"id": "D-BIG", "partner_id": "P003", "value": 80_000},
        {"id": "D-SMALL", "partner_id": "P004", "value": 900},
    ]
    assert client.post("/api/v1/deals/bulk", json=deals).status_code == 200
    campaign = {
        "id": "C-XMAS",
        "name": "Holiday",
        "channel": "email",
        "region": "NA",
        "promotion_type": "seasonal",
    }
    assert client.put("/api/v1/campaigns/C-XMAS", json=campaign).status_code == 200
