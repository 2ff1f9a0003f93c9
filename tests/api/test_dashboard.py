"""The dashboard: sign-in, roles and CSRF over HTTP on both databases, and the pages in a
real headless Chromium showing the same numbers as the API, live."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from affroute.analytics import facts
from affroute.service import configs, users
from affroute.service.demo import load_program
from affroute.service.keys import Role
from affroute.service.runtime import RoutingCache
from affroute.service.uow import UnitOfWork
from affroute.store.db import make_engine, session_factory
from affroute.store.models import UserRow
from affroute.synth import GeneratorSpec, generate_program
from tests.api.conftest import Server, _fresh_database, chromium_path, run_server, seed_catalog
from tests.conftest import EXAMPLE

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "test-artifacts"
PASSWORD = "correct horse battery"


def add_user(server: Server, name: str, role: Role, agent_id: str | None = None) -> None:
    uow = UnitOfWork(session_factory(make_engine(server.database_url)))
    uow.run(
        lambda s: users.create(
            session=s, username=name, password=PASSWORD, role=role, agent_id=agent_id,
            now=datetime.now(UTC),
        )
    )  # fmt: skip


@contextmanager
def signed_in(server: Server, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        csrf = page_csrf_login(client)
        done = client.post(
            "/login", data={"username": name, "password": PASSWORD, "csrf": csrf, "next": "/"}
        )
        assert done.status_code == 303, done.text
        yield client


def page_csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]


def test_pages_need_a_sign_in_and_the_cookie_is_safe(server: Server) -> None:
    add_user(server, "ana", Role.ANALYST)
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        first = anonymous.get("/tickets?team=finance")
        assert first.status_code == 303
        assert first.headers["location"] == "/login?next=%2Ftickets%3Fteam%3Dfinance"
        live = anonymous.get("/queues/live", headers={"HX-Request": "true"})
        assert live.headers["hx-redirect"].startswith("/login")
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        form = browser.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        wrong = browser.post(
            "/login", data={"username": "ana", "password": "nope", "csrf": csrf, "next": "/"}
        )
        assert wrong.status_code == 401 and "wrong username or password" in wrong.text
        forged = browser.post(
            "/login", data={"username": "ana", "password": PASSWORD, "csrf": "x", "next": "/"}
        )
        assert forged.status_code == 403
        right = browser.post(
            "/login",
            data={"username": "ana", "password": PASSWORD, "csrf": csrf, "next": "//evil.test/"},
        )
        assert right.status_code == 303 and right.headers["location"] == "/"  # never off-site
        cookie = right.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        overview = browser.get("/")
        assert overview.status_code == 200
        assert "script-src 'self'" in overview.headers["content-security-policy"]
        no_csrf = browser.post("/logout", data={"csrf": "0" * 64})
        assert no_csrf.status_code == 403
        out = browser.post("/logout", data={"csrf": page_csrf(overview.text)})
        assert out.status_code == 303
        assert browser.get("/").status_code == 303  # the session is gone on the server


def test_five_wrong_passwords_lock_the_account(server: Server) -> None:
    add_user(server, "bob", Role.ANALYST)
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        csrf = page_csrf_login(browser)
        for _ in range(users.MAX_FAILED_LOGINS):
            browser.post("/login", data={"username": "bob", "password": "bad", "csrf": csrf})
        locked = browser.post(
            "/login", data={"username": "bob", "password": PASSWORD, "csrf": csrf}
        )
        assert locked.status_code == 401 and "too many wrong passwords" in locked.text
    engine = make_engine(server.database_url)
    with engine.connect() as conn:
        until = conn.execute(select(UserRow.locked_until).where(UserRow.username == "bob")).scalar()
    engine.dispose()
    assert until is not None and until > datetime.now(UTC) + timedelta(minutes=10)


def page_csrf_login(browser: httpx.Client) -> str:
    form = browser.get("/login")
    return re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]


def test_each_role_sees_its_pages(server: Server) -> None:
    with server.client("admin") as admin:
        seed_catalog(admin)
        theirs = admin.post(
            "/api/v1/tickets", json={"subject": "Payout", "body": "x", "category": "compliance"}
        ).json()
    add_user(server, "agent1", Role.AGENT, agent_id="fi-01")
    add_user(server, "analyst1", Role.ANALYST)
    with signed_in(server, "agent1") as agent:
        assert agent.get("/").headers["location"] == "/tickets"
        assert agent.get("/config").status_code == 403
        assert agent.get("/satisfaction").status_code == 403
        assert agent.get(f"/tickets/{theirs['id']}").status_code == 404  # not theirs
        queues = agent.get("/queues").text
        assert 'data-team="finance"' in queues and 'data-team="compliance"' not in queues
    with signed_in(server, "analyst1") as analyst:
        page = analyst.get("/config")
        assert page.status_code == 200 and "Save and activate" not in page.text
        saved = analyst.post("/config/save", data={"csrf": page_csrf(page.text), "yaml": "x"})
        assert saved.status_code == 403
        assert analyst.get(f"/tickets/{theirs['id']}").status_code == 200


# -- in a real browser ------------------------------------------------------------------------


def activate_example(session: Session, now: datetime) -> None:
    configs.activate(session=session, yaml_text=EXAMPLE.read_text(), actor="test", now=now)


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory, pg_ok: bool) -> Iterator[Server]:
    """A server on a database filled by replaying a generated program, as `make run` does."""
    for url in _fresh_database("sqlite", tmp_path_factory, pg_ok):
        uow = UnitOfWork(session_factory(make_engine(url)))
        program = generate_program(GeneratorSpec(tickets=300, weeks=1), np.random.default_rng(11))
        now = datetime.now(UTC)
        uow.run(partial(activate_example, now=now))
        load_program(
            uow=uow, cache=RoutingCache(), program=program, handling_time=timedelta(hours=30),
            now=now,
        )  # fmt: skip
        # The analytics facts, as `affroute analytics refresh` brings them up to date.
        while uow.run(lambda s: facts.refresh(session=s)).events:
            pass
        yield from run_server(url)


def test_the_dashboard_in_a_browser(demo_server: Server) -> None:
    from playwright.sync_api import expect, sync_playwright

    executable = chromium_path()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    add_user(demo_server, "lead", Role.ADMIN)
    with demo_server.client("admin") as api, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        page.goto(f"{demo_server.url}/queues")
        assert "/login" in page.url  # signed out: sent to the login, then back
        page.fill("input[name=username]", "lead")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{demo_server.url}/queues")

        # Overview: the cards equal the API's numbers; the charts are drawn.
        page.goto(demo_server.url + "/")
        open_tickets = [
            t for t in _all_tickets(api) if t["status"] in ("new", "open", "pending", "on_hold")
        ]
        shown = page.locator('[data-metric="open_tickets"] .value').inner_text()
        assert int(shown) == len(open_tickets)
        queued = page.locator('[data-metric="queued"] .value').inner_text()
        assert int(queued) == sum(1 for t in open_tickets if t["queued"])
        misroutes = api.get("/api/v1/metrics/misroutes").json()
        overall = next(m for m in misroutes if m["decided_by"] == "all")
        shown = page.locator('[data-metric="misroute_rate"] .value').inner_text()
        assert shown == f"{100 * overall['misroute_rate']:.1f}%"
        expect(page.locator("canvas[data-chart]").first).to_be_visible()
        drawn = page.evaluate(
            "() => [...document.querySelectorAll('canvas[data-chart]')]"
            ".every(c => Chart.getChart(c) !== undefined)"
        )
        assert drawn
        page.screenshot(path=ARTIFACTS / "overview.png", full_page=True)

        # Queues: the counts equal the API's; click through to a ticket's trace.
        page.goto(demo_server.url + "/queues")
        for team in api.get("/api/v1/teams").json():
            cell = page.locator(f'tr[data-team="{team["name"]}"] [data-field="queued"]')
            assert int(cell.inner_text()) == team["queued"], team
        page.screenshot(path=ARTIFACTS / "queues.png", full_page=True)
        page.locator("table.board a").first.click()
        page.wait_for_url(re.compile(r".*/tickets/[0-9a-f]+$"))
        ticket_id = page.url.rsplit("/", 1)[1]
        detail = api.get(f"/api/v1/tickets/{ticket_id}").json()
        expect(page.locator('[data-metric="team"] .value')).to_have_text(detail["team"])
        assert page.locator("article.decision table.factors tr").count() == 6  # head + 5
        assert page.locator("ol.timeline li").count() == len(detail["events"])
        page.screenshot(path=ARTIFACTS / "ticket.png", full_page=True)

        # Agents: load as the API reports it.
        page.goto(demo_server.url + "/agents")
        for agent in api.get("/api/v1/agents").json()[:5]:
            load = page.locator(f'tr[data-agent="{agent["id"]}"] [data-field="load"]')
            assert load.inner_text() == f"{agent['load']}/{agent['capacity']}"

        # A new ticket appears on the ticket list without reloading.
        page.goto(demo_server.url + "/tickets")
        created = api.post(
            "/api/v1/tickets", json={"subject": "Brand new: clicks not tracked", "body": "x"}
        ).json()
        expect(page.locator(f'tr[data-ticket="{created["id"]}"]')).to_be_visible(timeout=15_000)
        page.screenshot(path=ARTIFACTS / "tickets-live.png")

        # Anomalies: the unresolved ones, as the API lists them; resolving one from the page.
        listed = api.get(
            "/api/v1/anomalies", params={"status": ["open", "acknowledged"], "limit": 200}
        ).json()
        page.goto(demo_server.url + "/anomalies")
        rows = page.locator("tr[data-anomaly]")
        assert rows.count() == len(listed) > 0
        first = rows.first.get_attribute("data-anomaly")
        rows.first.get_by_role("button", name="Resolve").click()
        expect(page.get_by_role("status")).to_contain_text("Anomaly resolved")
        expect(page.locator(f'tr[data-anomaly="{first}"]')).to_have_count(0)
        assert api.get(f"/api/v1/anomalies/{first}").json()["status"] == "resolved"
        page.screenshot(path=ARTIFACTS / "anomalies.png", full_page=True)

        # Config: a candidate is checked and previewed before it is saved.
        page.goto(demo_server.url + "/config")
        before = page.locator('[data-field="version"]').inner_text()
        yaml_text = page.locator("textarea.yaml").input_value()
        page.locator("textarea.yaml").fill(
            yaml_text.replace("deal_value: 0.4", "deal_value: 0.5", 1)
        )
        page.get_by_role("button", name="Check and preview").click()
        expect(page.locator('[data-section="dry-run"]')).to_be_visible()
        diff = page.locator("pre.diff").inner_text().splitlines()
        changed = [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]
        assert len(changed) == 2 and "deal_value: 0.50" in changed[1], diff
        page.screenshot(path=ARTIFACTS / "config-preview.png", full_page=True)
        page.get_by_role("button", name="Save and activate").click()
        expect(page.get_by_role("status")).to_contain_text("Saved and activated")
        assert api.get("/api/v1/config").json()["version"] != before
        page.locator("textarea.yaml").fill("teams: [")
        page.get_by_role("button", name="Check and preview").click()
        expect(page.get_by_role("alert")).to_be_visible()

        for path in ("/satisfaction", "/tuning", "/tickets"):
            page.goto(demo_server.url + path)
            assert page.locator("h1").count() == 1
        browser.close()
    # The one page answered with an error status on purpose: the refused config (422).
    assert [p for p in problems if "status of 422" not in p] == []


def _all_tickets(api: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 500} | ({"cursor": cursor} if cursor else {})
        page = api.get("/api/v1/tickets", params=params).json()
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found
        time.sleep(0)
