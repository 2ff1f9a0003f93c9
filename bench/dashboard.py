"""Every metric endpoint and dashboard page over HTTP on 1,000,000 stored tickets, beside
peers (issue 8).

The database is filled with bulk inserts of generated rows (not the API): tickets spread
over a year, each with its decision and events (created, routed, assigned, solved, and
for some a misroute, an escalation), a survey for a third of the solved ones, SLA states;
then ``affroute analytics refresh``'s function derives the facts (timed: the refresh's
throughput). A uvicorn process serves the API and the dashboard; each endpoint is asked
``--rounds`` times over the whole history and the median is kept. The pages are asked the
same way by a browser-like client: an admin (and an agent, for the pages an agent sees
differently) signed in through ``/login``, the session cookie reused. Peers, measured in
the same run:

- the endpoints that already computed a figure from the source tables (``/sla/stats``,
  ``/surveys/satisfaction``, ``/surveys/outcomes``), beside the metric that replaces them;
- every facts-based endpoint and page again after the facts' covering indexes are dropped
  (``--no-unindexed`` skips this; a kept database gets its indexes back afterwards);
- with ``--peer-ref REV``, every page served by the code of that git revision, on the
  same database (e.g. ``--peer-ref main`` from a branch).

Target: every endpoint and page <= 500 ms. SQLite, then PostgreSQL (``--postgresql URL``,
a database to CREATE DATABASE from; ``--no-postgresql`` to skip). ``--keep DIR`` keeps the
built databases (a SQLite file in DIR, a PostgreSQL database named after the size and
seed) and reuses them on the next run with the same size and seed, migrated to head and
their facts refreshed. The exit code is 0 either way.

    .venv/bin/python bench/dashboard.py [--tickets N] [--rounds R] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import Table as SaTable
from sqlalchemy import insert, select, text, update

from affroute.analytics import facts
from affroute.config import load_config
from affroute.service import configs, keys, users
from affroute.service.demo import load_catalog
from affroute.service.keys import Role
from affroute.service.uow import UnitOfWork
from affroute.store import migrate
from affroute.store.db import make_engine, session_factory
from affroute.store.models import (
    AgentTeamRow,
    ConfigVersionRow,
    DecisionRow,
    SurveyRow,
    TicketEventRow,
    TicketFactRow,
    TicketRow,
    UserRow,
)
from affroute.synth import GeneratorSpec, generate_program

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "affiliate.yaml"
PG_ADMIN = os.environ.get("AFFROUTE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TARGET_MS = 500.0
CHUNK = 50_000
DUE = "resolution_due"
console = Console()
if not console.is_terminal:
    console = Console(width=160)

ENDPOINTS = [
    "resolution", "resolution?around=latest", "satisfaction/engagement", "satisfaction/trend",
    "misroutes", "attribution", "correlation", "sla", "models", "operational/queues",
    "operational/agents", "operational/waiting", "operational/at-risk",
]  # fmt: skip
# Endpoints outside /api/v1/metrics that the dashboard's figures come from too.
MORE = {
    "surveys/outcomes?by=decided_by": "/api/v1/surveys/outcomes?by=decided_by",
    "surveys/outcomes?by=team": "/api/v1/surveys/outcomes?by=team",
    "/metrics (scrape)": "/metrics",
}
# The endpoints that still compute a figure from the source tables, beside the metric
# that replaces them.
EXISTING = {
    "sla": "/api/v1/sla/stats",
    "satisfaction/engagement": "/api/v1/surveys/satisfaction?by=engagement_band",
}
FACT_INDEXES = ("ix_facts_created", "ix_facts_sample", "ix_facts_deal", "ix_facts_decided",
                "ix_facts_sla", "ix_facts_survey", "ix_facts_assigned")  # fmt: skip
TICKET_TEMPLATE: dict[str, Any] = {
    "external_id": None, "campaign_id": None, "subject": "s", "body": "b", "category": None,
    "urgency": None, "channel": "portal", "region": "", "tags": [], "agent_id": None,
    "required_skills": [], "sla_paused_seconds": 0.0, "sla_elapsed_seconds": 0.0,
}  # fmt: skip


def fill(url: str, count: int, seed: int, now: datetime) -> None:
    """Migrate and fill the database."""
    migrate.upgrade(url)
    uow = UnitOfWork(session_factory(make_engine(url)))
    config = load_config(CONFIG)
    uow.run(lambda s: configs.activate(session=s, yaml_text=CONFIG.read_text(), actor="b", now=now))
    rng = np.random.default_rng(seed)
    program = generate_program(GeneratorSpec(tickets=0, partners=2_000), rng)
    load_catalog(uow=uow, program=program, now=now)
    start = now - timedelta(days=365)
    # The example configuration replaced an older one half-way through the year.
    old = ConfigVersionRow(version="bench-v0", yaml="", created_at=start, created_by="b")
    old.active = False
    halfway = update(ConfigVersionRow).values(created_at=start + timedelta(days=182))
    uow.run(lambda s: (s.execute(halfway), s.add(old)))
    teams = list(config.teams)
    sources = [f"rule:{r.name}" for r in config.rules] + ["model:triage", "default"]
    partners = [p.id for p in program.partners]
    deals = {d.partner_id: d.id for d in program.deals}
    for begin in range(0, count, CHUNK):
        size = min(CHUNK, count - begin)
        tickets, decisions, events, surveys = rows(
            rng, begin, size, start, teams, sources, partners, deals
        )
        uow.run(lambda s, t=tickets: s.execute(insert(_table(TicketRow)), t))
        uow.run(lambda s, d=decisions: s.execute(insert(_table(DecisionRow)), d))
        uow.run(lambda s, e=events: s.execute(insert(_table(TicketEventRow)), e))
        uow.run(lambda s, v=surveys: s.execute(insert(_table(SurveyRow)), v))
        console.print(f"  {begin + size:,} tickets stored", end="\r")


def _table(model: Any) -> SaTable:
    table: SaTable = model.__table__
    return table


def rows(
    rng: np.random.Generator,
    begin: int,
    size: int,
    start: datetime,
    teams: list[str],
    sources: list[str],
    partners: list[str],
    deals: dict[str, str],
) -> tuple[list[dict[str, Any]], ...]:
    """Generated tickets with their decision, events and survey: a year of a busy program."""
    offsets = np.sort(rng.uniform(0, 365 * 86_400, size))
    scores = rng.uniform(0, 100, size).round(1)
    # Higher scores resolve faster: hours lognormal around 30 h at score 0, 6 h at 100.
    hours = np.exp(rng.normal(np.log(30) - scores / 100 * np.log(5), 0.8))
    solved = rng.random(size) < 0.97
    misrouted = rng.random(size) < 0.04
    escalated = rng.random(size) < 0.03
    breached = rng.random(size) < 0.06
    surveyed = solved & (rng.random(size) < 0.33)
    team_of = rng.integers(0, len(teams), size)
    source_of = rng.integers(0, len(sources), size)
    partner_of = rng.integers(0, len(partners), size)
    tickets, decisions, events, surveys = [], [], [], []
    for i in range(size):
        created = start + timedelta(seconds=float(offsets[i]))
        tid = f"b{begin + i:09d}"
        team, source = teams[team_of[i]], sources[source_of[i]]
        partner = partners[partner_of[i]]
        rank = 1 + int((100 - scores[i]) // 25.01)
        final = teams[(team_of[i] + 1) % len(teams)] if misrouted[i] else team
        status = "solved" if solved[i] else "open"
        done = created + timedelta(hours=float(hours[i]))
        tickets.append(TICKET_TEMPLATE | {
            "id": tid, "partner_id": partner, "deal_id": deals.get(partner),
            "status": status, "score": float(scores[i]), "priority": f"p{rank}",
            "priority_rank": rank, "team": final,
            "team_source": "person:k" if misrouted[i] else source,
            "queued": not solved[i] and i % 3 == 0, "sla_policy": f"p{rank}",
            "created_at": created, "updated_at": done if solved[i] else created,
            "sla_status": "breached" if breached[i] else "fulfilled" if solved[i] else DUE,
            "resolution_by": created + timedelta(hours=24),
        })  # fmt: skip
        decisions.append({
            "ticket_id": tid, "config_version": "v", "team": team, "team_source": source,
            "priority": f"p{rank}", "score": float(scores[i]), "decided_at": created,
            "trace": trace(float(scores[i]), f"p{rank}", team, source),
        })  # fmt: skip
        assigned = created + timedelta(minutes=float(i % 30))
        log = [("created", {}, created), ("routed", {"team": team}, created),
               ("assigned", {"agent_id": "x"}, assigned)]  # fmt: skip
        if misrouted[i]:
            log.append(("reassigned", {"from_team": team, "to_team": final, "misroute": True},
                        created + timedelta(minutes=30)))  # fmt: skip
        if escalated[i]:
            log.append(("escalated", {"step": 0}, created + timedelta(hours=1)))
        if solved[i]:
            log.append(("status_changed", {"from": "open", "to": "solved"}, done))
        events.extend({"ticket_id": tid, "kind": k, "actor": "b", "data": d, "at": at}
                      for k, d, at in log)  # fmt: skip
        if surveyed[i]:
            answered = i % 2 == 0
            surveys.append({
                "id": f"s{tid}", "ticket_id": tid, "partner_id": partner,
                "status": "answered" if answered else "sent", "team": final,
                "team_source": source, "agent_id": None, "priority": f"p{rank}",
                "category": None, "partner_tier": None,
                "engagement_band": ("top", "middle", "low")[i % 3], "created_at": done,
                "send_at": done, "delivery_attempts": 1,
                "csat": int(1 + i % 5) if answered else None,
                "nps": int(i % 11) if answered else None,
            })  # fmt: skip
    return tickets, decisions, events, surveys


FACTORS = ("deal_value", "engagement", "lead_volume", "urgency", "attribution_anomaly")


def trace(score: float, priority: str, team: str, source: str) -> dict[str, Any]:
    """A decision trace of the shape the engine writes (what the ticket page shows)."""
    share = score / 100
    return {
        "score": score, "priority": priority, "tier_priority": priority, "team": team,
        "team_source": source, "agent_id": None, "assignment_reason": "queued: no capacity",
        "factors": {name: {"raw": share, "normalised": share, "weight": 0.2,
                           "points": round(20 * share, 2)} for name in FACTORS},
        "rules_matched": [{"name": source[5:], "actions": [f"team={team}"]}]
        if source.startswith("rule:") else [],
        "prediction": None, "flags": [], "anomalies": [],
    }  # fmt: skip


def refresh_all(url: str) -> float:
    """Derive every ticket's facts, as a bulk load: indexes built after the rows; seconds.

    A refresh keeps the indexes up as it writes, which is right for the few tickets of
    each round; for a million at once, sorting each index once is many times faster than
    a million random inserts into six of them.
    """
    engine = make_engine(url)
    uow = UnitOfWork(session_factory(engine))
    began = time.perf_counter()
    indexes = list(_table(TicketFactRow).indexes)
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    while uow.run(lambda s: facts.refresh(session=s, limit=500_000)).events:
        pass
    with engine.begin() as conn:
        for index in indexes:
            index.create(conn)
    engine.dispose()
    return time.perf_counter() - began


@contextmanager
def serve(url: str, source: Path | None = None) -> Iterator[str]:
    """A uvicorn process on ``url``: this checkout's code, or the one under ``source``."""
    with socket_port() as port:
        # Every background job off, so a figure is the request's alone.
        quiet = ("REBALANCE", "SLA_SWEEP", "SURVEY_DISPATCH", "ANALYTICS_REFRESH",
                 "ANOMALY_SCAN", "OUTBOX", "ENRICHMENT")  # fmt: skip
        env = dict(os.environ, AFFROUTE_DATABASE_URL=url, AFFROUTE_CONFIG_PATH=str(CONFIG))
        env.update({f"AFFROUTE_{job}_SECONDS": "0" for job in quiet}, AFFROUTE_TUNE_HOURS="0")
        if source is not None:
            env["PYTHONPATH"] = str(source / "src")
            env["AFFROUTE_WEB_PACKAGES"] = str(ROOT / "web" / "node_modules")
        command = [sys.executable, "-m", "uvicorn", "affroute.api.app:create_app", "--factory",
                   "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                   "--log-level", "warning"]  # fmt: skip
        process = subprocess.Popen(command, env=env, cwd=source or ROOT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/health", timeout=1)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def socket_port() -> Iterator[int]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    yield port


@contextmanager
def checkout(ref: str | None) -> Iterator[Path | None]:
    """The tree of a git revision in a temporary folder (None: no revision asked)."""
    if ref is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="affroute-peer-") as folder:
        archive = subprocess.run(["git", "archive", ref, "src", "examples"],
                                 cwd=ROOT, check=True, capture_output=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        yield Path(folder)


# The warm-up call of each path, last asked: the first answer of a server just started, before
# the dashboard has kept any answer from the facts.
FIRST_CALL: dict[str, float] = {}


def timed(client: httpx.Client, path: str, rounds: int) -> float:
    """Median milliseconds of ``rounds`` requests, after one warm-up (kept in FIRST_CALL)."""
    began = time.perf_counter()
    client.get(path).raise_for_status()
    FIRST_CALL[path] = (time.perf_counter() - began) * 1000
    spans = []
    for _ in range(rounds):
        began = time.perf_counter()
        client.get(path).raise_for_status()
        spans.append((time.perf_counter() - began) * 1000)
    console.print(f"  {path}: {statistics.median(spans):,.0f} ms", style="dim")
    return statistics.median(spans)


# -- the dashboard's pages ----------------------------------------------------------------

PASSWORD = "bench password, not a secret"
AGENT = "gs-06"  # general support and compliance: an agent with two queues


@dataclass(frozen=True, slots=True)
class Page:
    name: str  # what the table shows
    path: str
    facts: bool = False  # reads the analytics facts: also timed without their indexes


def pages(role: str, ticket: str) -> list[Page]:
    """The pages and live fragments a person in this role opens, in the menu's order."""
    if role == "agent":  # the overview redirects an agent to the ticket list
        return [
            Page("/queues", "/queues"), Page("/queues/live", "/queues/live"),
            Page("/tickets", "/tickets"), Page("/tickets/rows", "/tickets/rows"),
            Page("/tickets/{id}", f"/tickets/{ticket}"),
            Page("/agents", "/agents"), Page("/agents/live", "/agents/live"),
        ]  # fmt: skip
    return [
        Page("/", "/", facts=True), Page("/overview/cards", "/overview/cards", facts=True),
        Page("/queues", "/queues"), Page("/queues/live", "/queues/live"),
        Page("/tickets", "/tickets"), Page("/tickets/rows", "/tickets/rows"),
        Page("/tickets/{id}", f"/tickets/{ticket}"),
        Page("/agents", "/agents"), Page("/agents/live", "/agents/live"),
        Page("/satisfaction", "/satisfaction", facts=True), Page("/anomalies", "/anomalies"),
        Page("/models", "/models"), Page("/simulate", "/simulate"), Page("/tuning", "/tuning"),
        Page("/deliveries", "/deliveries"), Page("/config", "/config"),
    ]  # fmt: skip


def add_users(url: str) -> None:
    """An admin and an agent to sign in as (again on a kept database: a no-op then)."""
    uow = UnitOfWork(session_factory(make_engine(url)))
    now = datetime.now(UTC)
    for name, role, agent in (
        ("bench-admin", Role.ADMIN, None),
        ("bench-agent", Role.AGENT, AGENT),
    ):
        exists = uow.run(
            lambda s, n=name: s.scalar(select(UserRow.id).where(UserRow.username == n))
        )
        if exists is None:
            uow.run(lambda s, n=name, r=role, a=agent: users.create(
                session=s, username=n, password=PASSWORD, role=r, agent_id=a, now=now))  # fmt: skip


def agent_ticket(url: str) -> str:
    """A ticket the agent may open: queued in one of the agent's teams."""
    uow = UnitOfWork(session_factory(make_engine(url)))
    teams = select(AgentTeamRow.team).where(AgentTeamRow.agent_id == AGENT)
    found = uow.run(lambda s: s.scalar(
        select(TicketRow.id).where(TicketRow.queued.is_(True), TicketRow.team.in_(teams))
        .order_by(TicketRow.id).limit(1)
    ))  # fmt: skip
    return str(found)


@contextmanager
def signed_in(base: str, username: str) -> Iterator[httpx.Client]:
    """A client signed in through the login form, as a browser does; the cookie is kept."""
    with httpx.Client(base_url=base, timeout=600) as client:
        form = client.get("/login")
        form.raise_for_status()
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None, "no CSRF token on the login form"
        done = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf": csrf.group(1), "next": "/"})  # fmt: skip
        if done.status_code != 303:
            raise RuntimeError(f"sign-in as {username} failed: {done.status_code}")
        yield client


Figures = dict[str, dict[str, float]]


def time_pages(base: str, ticket: str, rounds: int, facts_only: bool = False) -> Figures:
    """Median ms per page, for the admin (``admin``) and the agent (``agent``)."""
    figures: Figures = {"admin": {}, "agent": {}}
    for role, username in (("admin", "bench-admin"), ("agent", "bench-agent")):
        with signed_in(base, username) as client:
            for page in pages(role, ticket):
                if page.facts or not facts_only:
                    figures[role][page.name] = timed(client, page.path, rounds)
    return figures


# -- one database ---------------------------------------------------------------------------


@dataclass
class Run:
    """What one database's run measured: ours and each peer, keyed by what was asked."""

    endpoints: Figures = field(
        default_factory=lambda: {"ours": {}, "existing": {}, "unindexed": {}}
    )
    pages: dict[str, Figures] = field(default_factory=dict)  # ours, unindexed, <peer-ref>
    first_pages: dict[str, float] = field(default_factory=dict)  # our pages' first calls


def endpoints() -> dict[str, str]:
    """What the table calls each endpoint, and its path."""
    return {name: f"/api/v1/metrics/{name}" for name in ENDPOINTS} | MORE


def measure(
    url: str, key: str, rounds: int, indexes: Indexes | None, peer: tuple[str, Path] | None
) -> Run:
    run = Run()
    ticket = agent_ticket(url)
    add_users(url)
    with serve(url) as base, httpx.Client(base_url=base, headers={"X-API-Key": key},
                                           timeout=600) as client:  # fmt: skip
        for name, path in endpoints().items():
            run.endpoints["ours"][name] = timed(client, path, rounds)
        for name, path in EXISTING.items():
            run.endpoints["existing"][name] = timed(client, path, max(1, rounds // 2))
        run.pages["ours"] = time_pages(base, ticket, rounds)
        run.first_pages = {p: FIRST_CALL[p] for p in ("/", "/overview/cards", "/satisfaction")}
        if indexes is not None:
            indexes.drop()
            try:
                for name, path in endpoints().items():
                    if not name.startswith(("operational", "/metrics")):
                        run.endpoints["unindexed"][name] = timed(client, path, 1)
                run.pages["unindexed"] = time_pages(base, ticket, 1, facts_only=True)
            finally:
                indexes.restore()
    if peer is not None:
        ref, source = peer
        with serve(url, source) as base:
            with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=600) as client:
                run.endpoints[ref] = {
                    name: timed(client, path, max(1, rounds // 2)) for name, path in MORE.items()
                }
            run.pages[ref] = time_pages(base, ticket, max(1, rounds // 2))
    return run


class Indexes:
    """The facts' covering indexes, dropped for the peer and built again after."""

    def __init__(self, url: str) -> None:
        self.url = url

    def drop(self) -> None:
        engine = make_engine(self.url)
        with engine.begin() as conn:
            for name in FACT_INDEXES:
                conn.execute(text(f"DROP INDEX {name}"))
        engine.dispose()

    def restore(self) -> None:
        engine = make_engine(self.url)
        with engine.begin() as conn:
            for index in _table(TicketFactRow).indexes:
                if index.name in FACT_INDEXES:
                    index.create(conn)
        engine.dispose()
        if self.url.startswith("postgresql"):
            vacuum(self.url)


def vacuum(url: str) -> None:
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # index-only scans need the visibility map


def verdict(ms: float) -> str:
    return "PASS" if ms <= TARGET_MS else "NOT MET"


def show(title: str, run: Run, build: dict[str, Any]) -> None:
    figures = run.endpoints
    table = Table(title=f"{title}: metric endpoints")
    for column in ("endpoint", "ms", "peer", "peer ms", "ratio", "<= 500 ms"):
        table.add_column(column, justify="left" if column in ("endpoint", "peer") else "right")
    for name, ms in figures["ours"].items():
        peers = [
            (f"source-table endpoint {EXISTING.get(name)}", figures["existing"].get(name)),
            ("facts without indexes", figures["unindexed"].get(name)),
        ]
        peers += [(f"code at {ref}", f.get(name)) for ref, f in figures.items()
                  if ref not in ("ours", "existing", "unindexed")]  # fmt: skip
        shown = [(p, v) for p, v in peers if v is not None] or [("-", None)]
        for i, (peer, value) in enumerate(shown):
            table.add_row(
                name if i == 0 else "", f"{ms:,.0f}" if i == 0 else "", peer,
                f"{value:,.0f}" if value is not None else "-",
                f"{value / ms:,.1f}x" if value is not None else "-",
                verdict(ms) if i == 0 else "",
            )  # fmt: skip
    console.print(table)
    pages_table = Table(title=f"{title}: dashboard pages, signed in")
    for column in ("page", "as", "ms", "peer", "peer ms", "ratio", "<= 500 ms"):
        pages_table.add_column(
            column, justify="left" if column in ("page", "as", "peer") else "right"
        )
    ours = run.pages.get("ours", {})
    peers = {name: run.pages[name] for name in run.pages if name != "ours"}
    for role, timings in ours.items():
        for name, ms in timings.items():
            shown = [(("facts without indexes" if p == "unindexed" else f"code at {p}"),
                      f[role].get(name)) for p, f in peers.items()]  # fmt: skip
            shown = [(p, v) for p, v in shown if v is not None] or [("-", None)]
            for i, (peer, value) in enumerate(shown):
                pages_table.add_row(
                    name if i == 0 else "", role if i == 0 else "",
                    f"{ms:,.0f}" if i == 0 else "", peer,
                    f"{value:,.0f}" if value is not None else "-",
                    f"{value / ms:,.1f}x" if value is not None else "-",
                    verdict(ms) if i == 0 else "",
                )  # fmt: skip
    console.print(pages_table)
    cold = ", ".join(f"{path} {ms:,.0f} ms {verdict(ms)}" for path, ms in run.first_pages.items())
    console.print(f"first call after the server started, before any answer from the facts "
                  f"was kept (the table: the median after it): {cold}")  # fmt: skip
    if build.get("reused"):
        console.print(f"database kept from an earlier run ({build['reused']}); facts brought "
                      f"up to date in {build['refresh']:.0f} s")  # fmt: skip
    else:
        console.print(
            f"build: rows stored in {build['fill']:.0f} s, facts derived and indexed in "
            f"{build['refresh']:.0f} s ({build['tickets'] / build['refresh']:,.0f} tickets/s)"
        )


def prepare(url: str, count: int, seed: int, stamp: Path | None) -> dict[str, Any]:
    """Build the database, or bring a kept one (``stamp`` exists) up to this code."""
    if stamp is not None and stamp.exists():
        migrate.upgrade(url)
        began = time.perf_counter()
        engine = make_engine(url)
        uow = UnitOfWork(session_factory(engine))
        while uow.run(lambda s: facts.refresh(session=s, limit=500_000)).events:
            pass
        engine.dispose()
        build = json.loads(stamp.read_text())
        return build | {"reused": build.get("built", "?"), "refresh": time.perf_counter() - began}
    build = build_database(url, count, seed)
    if stamp is not None:
        stamp.write_text(json.dumps(build | {"built": datetime.now(UTC).isoformat()}))
    return build


def analyst_key(url: str) -> str:
    uow = UnitOfWork(session_factory(make_engine(url)))
    now = datetime.now(UTC)
    _, key = uow.run(lambda s: keys.create(session=s, role=Role.ANALYST, now=now, name="bench"))
    return str(key)


def run_sqlite(args: argparse.Namespace, peer: tuple[str, Path] | None) -> None:
    with tempfile.TemporaryDirectory(prefix="affroute-dash-") as scratch:
        folder = Path(args.keep) if args.keep else Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"dash-{args.tickets}-{args.seed}"
        url = f"sqlite:///{folder / name}.db"
        stamp = folder / f"{name}.sqlite.json" if args.keep else None
        build = prepare(url, args.tickets, args.seed, stamp)
        indexes = None if args.no_unindexed else Indexes(url)
        run = measure(url, analyst_key(url), args.rounds, indexes, peer)
        show(f"SQLite, {args.tickets:,} tickets", run, build)


def run_postgresql(args: argparse.Namespace, peer: tuple[str, Path] | None) -> None:
    admin = args.postgresql
    if args.keep:
        name = f"affroute_dash_keep_{args.tickets}_{args.seed}"
        stamp: Path | None = Path(args.keep) / f"{name}.postgresql.json"
        Path(args.keep).mkdir(parents=True, exist_ok=True)
    else:
        name, stamp = f"affroute_dash_{secrets.token_hex(4)}", None
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    if stamp is None or not stamp.exists():
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        build = prepare(url, args.tickets, args.seed, stamp)
        vacuum(url)
        indexes = None if args.no_unindexed else Indexes(url)
        run = measure(url, analyst_key(url), args.rounds, indexes, peer)
        show(f"PostgreSQL, {args.tickets:,} tickets", run, build)
    finally:
        if stamp is None:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def build_database(url: str, count: int, seed: int) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    began = time.perf_counter()
    fill(url, count, seed, now)
    filled = time.perf_counter() - began
    console.print(f"  {count:,} tickets stored in {filled:.0f} s; deriving facts ...")
    refreshed = refresh_all(url)
    return {"fill": filled, "refresh": refreshed, "tickets": float(count)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--postgresql", default=PG_ADMIN)
    parser.add_argument("--no-postgresql", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--keep", metavar="DIR", help="keep the built databases; reuse them")
    parser.add_argument("--no-unindexed", action="store_true", help="skip that peer")
    parser.add_argument("--peer-ref", metavar="REV", help="also time the pages on this code")
    args = parser.parse_args()
    with checkout(args.peer_ref) as source:
        peer = None if source is None else (str(args.peer_ref), source)
        if not args.no_sqlite:
            run_sqlite(args, peer)
        if not args.no_postgresql:
            try:
                psycopg.connect(args.postgresql, connect_timeout=3).close()
            except psycopg.Error as exc:
                reason = " ".join(str(exc).split())[:120]
                console.print(f"PostgreSQL skipped: {reason}")
                return
            run_postgresql(args, peer)


if __name__ == "__main__":
    main()
