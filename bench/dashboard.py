"""Every metric endpoint over HTTP on 1,000,000 stored tickets, beside peers (issue 8).

The database is filled with bulk inserts of generated rows (not the API): tickets spread
over a year, each with its decision and events (created, routed, assigned, solved, and
for some a misroute, an escalation), a survey for a third of the solved ones, SLA states;
then ``affroute analytics refresh``'s function derives the facts (timed: the refresh's
throughput). A uvicorn process serves the API; each endpoint is asked ``--rounds`` times
over the whole history and the median is kept. Peers, measured in the same run:

- the endpoints that already computed a figure from the source tables (``/sla/stats``,
  ``/surveys/satisfaction``, ``/surveys/outcomes``), beside the metric that replaces them;
- every facts-based endpoint again after the facts' covering indexes are dropped.

Target: every metric endpoint <= 500 ms. SQLite, then PostgreSQL (``--postgresql URL``, a
database to CREATE DATABASE from; ``--no-postgresql`` to skip). The exit code is 0 either way.

    .venv/bin/python bench/dashboard.py [--tickets N] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import Table as SaTable
from sqlalchemy import insert, text, update

from affroute.analytics import facts
from affroute.config import load_config
from affroute.service import configs, keys
from affroute.service.demo import load_catalog
from affroute.service.keys import Role
from affroute.service.uow import UnitOfWork
from affroute.store import migrate
from affroute.store.db import make_engine, session_factory
from affroute.store.models import (
    ConfigVersionRow,
    DecisionRow,
    SurveyRow,
    TicketEventRow,
    TicketFactRow,
    TicketRow,
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
# The endpoints that computed a figure from the source tables before the facts existed.
EXISTING = {
    "sla": "/api/v1/sla/stats",
    "satisfaction/engagement": "/api/v1/surveys/satisfaction?by=engagement_band",
    "misroutes": "/api/v1/surveys/outcomes?by=decided_by",
    "resolution": "/api/v1/surveys/outcomes?by=team",
}
FACT_INDEXES = ("ix_facts_created", "ix_facts_sample", "ix_facts_deal", "ix_facts_decided",
                "ix_facts_sla", "ix_facts_survey")  # fmt: skip
TICKET_TEMPLATE: dict[str, Any] = {
    "external_id": None, "campaign_id": None, "subject": "s", "body": "b", "category": None,
    "urgency": None, "channel": "portal", "region": "", "tags": [], "agent_id": None,
    "required_skills": [], "sla_paused_seconds": 0.0, "sla_elapsed_seconds": 0.0,
}  # fmt: skip


def fill(url: str, count: int, seed: int, now: datetime) -> str:
    """Migrate and fill the database; return an analyst key."""
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
    _, key = uow.run(lambda s: keys.create(session=s, role=Role.ANALYST, now=now, name="bench"))
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
    return key


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
            "priority": f"p{rank}", "score": float(scores[i]), "trace": {}, "decided_at": created,
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
def serve(url: str) -> Iterator[str]:
    with socket_port() as port:
        quiet = ("REBALANCE", "SLA_SWEEP", "SURVEY_DISPATCH", "ANALYTICS_REFRESH")
        env = dict(os.environ, AFFROUTE_DATABASE_URL=url, AFFROUTE_CONFIG_PATH=str(CONFIG))
        env.update({f"AFFROUTE_{job}_SECONDS": "0" for job in quiet})
        command = [sys.executable, "-m", "uvicorn", "affroute.api.app:create_app", "--factory",
                   "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                   "--log-level", "warning"]  # fmt: skip
        process = subprocess.Popen(command, env=env, cwd=ROOT)
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


def timed(client: httpx.Client, path: str, rounds: int) -> float:
    """Median milliseconds of ``rounds`` requests, after one warm-up."""
    client.get(path).raise_for_status()
    spans = []
    for _ in range(rounds):
        began = time.perf_counter()
        client.get(path).raise_for_status()
        spans.append((time.perf_counter() - began) * 1000)
    return statistics.median(spans)


def measure(url: str, key: str, rounds: int, drop_indexes: Any) -> dict[str, dict[str, float]]:
    figures: dict[str, dict[str, float]] = {"ours": {}, "existing": {}, "unindexed": {}}
    with serve(url) as base, httpx.Client(base_url=base, headers={"X-API-Key": key},
                                           timeout=600) as client:  # fmt: skip
        for name in ENDPOINTS:
            figures["ours"][name] = timed(client, f"/api/v1/metrics/{name}", rounds)
        figures["ours"]["/metrics (scrape)"] = timed(client, "/metrics", rounds)
        for name, path in EXISTING.items():
            figures["existing"][name] = timed(client, path, max(1, rounds // 2))
        drop_indexes()
        for name in ENDPOINTS:
            if not name.startswith("operational"):
                figures["unindexed"][name] = timed(client, f"/api/v1/metrics/{name}", 1)
    return figures


def show(title: str, figures: dict[str, dict[str, float]], build: dict[str, float]) -> None:
    table = Table(title=title)
    for column in ("endpoint", "ms", "peer", "peer ms", "ratio", "<= 500 ms"):
        table.add_column(column, justify="left" if column in ("endpoint", "peer") else "right")
    for name, ms in figures["ours"].items():
        peers = [(f"source-table endpoint {EXISTING.get(name)}", figures["existing"].get(name)),
                 ("facts without indexes", figures["unindexed"].get(name))]  # fmt: skip
        shown = [(p, v) for p, v in peers if v is not None] or [("-", None)]
        for i, (peer, value) in enumerate(shown):
            table.add_row(
                name if i == 0 else "", f"{ms:,.0f}" if i == 0 else "", peer,
                f"{value:,.0f}" if value is not None else "-",
                f"{value / ms:,.1f}x" if value is not None else "-",
                ("PASS" if ms <= TARGET_MS else "NOT MET") if i == 0 else "",
            )  # fmt: skip
    console.print(table)
    console.print(
        f"build: rows stored in {build['fill']:.0f} s, facts derived and indexed in "
        f"{build['refresh']:.0f} s "
        f"({build['tickets'] / build['refresh']:,.0f} tickets/s)"
    )


def run_sqlite(count: int, rounds: int, seed: int) -> None:
    with tempfile.TemporaryDirectory(prefix="affroute-dash-") as folder:
        url = f"sqlite:///{Path(folder) / 'dash.db'}"
        build = build_database(url, count, seed)
        key = build.pop("key")  # type: ignore[arg-type]

        def drop() -> None:
            engine = make_engine(url)
            with engine.begin() as conn:
                for name in FACT_INDEXES:
                    conn.execute(text(f"DROP INDEX {name}"))
            engine.dispose()

        figures = measure(url, str(key), rounds, drop)
        show(f"SQLite, {count:,} tickets", figures, build)  # type: ignore[arg-type]


def run_postgresql(admin: str, count: int, rounds: int, seed: int) -> None:
    name = f"affroute_dash_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    try:
        build = build_database(url, count, seed)
        key = build.pop("key")  # type: ignore[arg-type]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")  # index-only scans need the visibility map

        def drop() -> None:
            with psycopg.connect(url, autocommit=True) as conn:
                for index in FACT_INDEXES:
                    conn.execute(f"DROP INDEX {index}")  # type: ignore[arg-type]

        figures = measure(url, str(key), rounds, drop)
        show(f"PostgreSQL, {count:,} tickets", figures, build)  # type: ignore[arg-type]
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def build_database(url: str, count: int, seed: int) -> dict[str, float | str]:
    now = datetime.now(UTC).replace(microsecond=0)
    began = time.perf_counter()
    key = fill(url, count, seed, now)
    filled = time.perf_counter() - began
    console.print(f"  {count:,} tickets stored in {filled:.0f} s; deriving facts ...")
    refreshed = refresh_all(url)
    return {"key": key, "fill": filled, "refresh": refreshed, "tickets": float(count)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--postgresql", default=PG_ADMIN)
    parser.add_argument("--no-postgresql", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.no_sqlite:
        run_sqlite(args.tickets, args.rounds, args.seed)
    if not args.no_postgresql:
        try:
            psycopg.connect(args.postgresql, connect_timeout=3).close()
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())[:120]
            console.print(f"PostgreSQL skipped: {reason}")
            return
        run_postgresql(args.postgresql, args.tickets, args.rounds, args.seed)


if __name__ == "__main__":
    main()
