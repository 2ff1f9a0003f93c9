"""POST /api/v1/tickets under load from wrk, beside a bare insert-only endpoint, same run.

Both servers run as uvicorn processes (one worker, no access log) on loopback; wrk runs in
its own process. affroute routes, assigns and persists the ticket, its decision trace and
its events; the bare peer validates the same body and inserts the same ticket row.
Target: affroute >= 0.8x the bare endpoint's requests/s on SQLite. PostgreSQL figures are
reported for 1 and 2 workers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import psycopg
from rich.console import Console
from rich.table import Table

from affroute.service import configs, keys
from affroute.service.demo import load_catalog
from affroute.service.keys import Role
from affroute.service.uow import UnitOfWork
from affroute.store import migrate
from affroute.store.db import make_engine, session_factory
from affroute.synth import GeneratorSpec, generate_program

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "affiliate.yaml"
PG_ADMIN = os.environ.get("AFFROUTE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
console = Console()
OURS = "affroute.api.app:create_app"
BARE = "bench.bare_app:app"

LUA = """
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
local i = 0
request = function()
  i = (i %% #bodies) + 1
  return wrk.format("POST", "/api/v1/tickets", {["Content-Type"] = "application/json",
    ["X-API-Key"] = "%(key)s"}, bodies[i])
end
"""


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def prepare_database(url: str) -> str:
    """Migrate, activate the example config with roomy agents, load a catalog; return a key."""
    migrate.upgrade(url)
    uow = UnitOfWork(session_factory(make_engine(url)))
    now = datetime.now(UTC)
    # Roomy capacities keep the measured path "route and assign", not "queue".
    yaml_text = re.sub(r"capacity: \d+", "capacity: 1000", CONFIG.read_text())
    uow.run(lambda s: configs.activate(session=s, yaml_text=yaml_text, actor="bench", now=now))
    program = generate_program(GeneratorSpec(tickets=0), np.random.default_rng(5))
    load_catalog(uow=uow, program=program, now=now)
    _, plain = uow.run(lambda s: keys.create(session=s, role=Role.ADMIN, now=now, name="bench"))
    return plain


def write_bodies(path: Path, count: int = 200) -> None:
    program = generate_program(GeneratorSpec(tickets=count), np.random.default_rng(9))
    with path.open("w") as sink:
        for labelled in program.tickets:
            t = labelled.ticket
            body = {
                "subject": t.subject,
                "body": t.body,
                "partner_id": t.partner_id,
                "deal_id": t.deal_id,
                "campaign_id": t.campaign_id,
                "category": t.category.value if t.category else None,
                "urgency": t.urgency.value if t.urgency else None,
                "region": t.region,
                "tags": list(t.tags),
            }
            sink.write(json.dumps({k: v for k, v in body.items() if v is not None}) + "\n")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(
    app: str, database_url: str, workers: int, factory: bool
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(
        os.environ,
        AFFROUTE_DATABASE_URL=database_url,
        # Background jobs off: this measures the request path. (In service they take the
        # SQLite write lock now and then, e.g. the analytics facts refresh every 10 s.)
        AFFROUTE_REBALANCE_SECONDS="0",
        AFFROUTE_SLA_SWEEP_SECONDS="0",
        AFFROUTE_SURVEY_DISPATCH_SECONDS="0",
        AFFROUTE_TUNE_HOURS="0",
        AFFROUTE_ANOMALY_SCAN_SECONDS="0",
        AFFROUTE_OUTBOX_SECONDS="0",
        AFFROUTE_ENRICHMENT_SECONDS="0",
        AFFROUTE_ANALYTICS_REFRESH_SECONDS="0",
        AFFROUTE_CONFIG_PATH=str(CONFIG),
        PYTHONPATH=str(ROOT),
    )
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers), "--no-access-log", "--log-level", "warning"]  # fmt: skip
    if factory:
        command.append("--factory")
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/openapi.json", timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{app} did not start")


def run_wrk(name: str, url: str, script: Path, seconds: int, connections: int) -> Result:
    subprocess.run(
        ["wrk", "-t1", "-c4", "-d2s", "-s", str(script), url], capture_output=True, check=True
    )
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latencies = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Result(
        name,
        rps,
        to_ms(latencies["50"]),
        to_ms(latencies["99"]),
        int(errors.group(1)) if errors else 0,
    )


def to_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure(
    name: str,
    app: str,
    url_db: str,
    key: str,
    workers: int,
    factory: bool,
    *,
    work: Path,
    seconds: int,
    connections: int,
) -> Result:
    script = work / f"{name.replace(' ', '_').replace(',', '')}.lua"
    script.write_text(LUA % {"bodies": work / "bodies.jsonl", "key": key})
    process, url = serve(app, url_db, workers, factory)
    try:
        return run_wrk(name, url, script, seconds, connections)
    finally:
        process.terminate()
        process.wait(timeout=30)


def interleaved(
    work: Path, key: str, *, rounds: int, seconds: int, connections: int
) -> tuple[Result, Result, list[float]]:
    """Both SQLite servers up at once, measured in alternating rounds; medians of each.

    This machine is shared: a peer measured a minute apart from us can see a different
    machine. Alternating short rounds puts both under the same conditions.
    """
    ours_db = f"sqlite:///{work / 'ours.db'}"
    bare_db = f"sqlite:///{work / 'bare.db'}"
    migrate.upgrade(bare_db)
    ours_key = prepare_database(ours_db)
    scripts = {}
    for label, api_key in (("bare", key), ("ours", ours_key)):
        scripts[label] = work / f"{label}.lua"
        scripts[label].write_text(LUA % {"bodies": work / "bodies.jsonl", "key": api_key})
    bare_process, bare_url = serve(BARE, bare_db, 1, False)
    ours_process, ours_url = serve(OURS, ours_db, 1, True)
    bare_runs: list[Result] = []
    ours_runs: list[Result] = []
    try:
        for _ in range(rounds):
            bare_runs.append(
                run_wrk("bare insert, SQLite", bare_url, scripts["bare"], seconds, connections)
            )
            ours_runs.append(
                run_wrk("affroute, SQLite", ours_url, scripts["ours"], seconds, connections)
            )
    finally:
        for process in (bare_process, ours_process):
            process.terminate()
            process.wait(timeout=30)
    ratios = [o.rps / b.rps for o, b in zip(ours_runs, bare_runs, strict=True)]
    return median_result(bare_runs), median_result(ours_runs), ratios


def median_result(runs: list[Result]) -> Result:
    return Result(
        runs[0].name,
        statistics.median(r.rps for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        sum(r.errors for r in runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="length of one wrk round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds on SQLite")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk); `make bench` installs it")
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_bodies(work / "bodies.jsonl")
        console.print(f"SQLite: bare endpoint and affroute in {args.rounds} alternating rounds ...")
        key = "unused-by-the-bare-endpoint"
        bare, ours, ratios = interleaved(
            work, key, rounds=args.rounds, seconds=args.seconds, connections=args.connections
        )
        results += [bare, ours]
        if not args.skip_postgres:
            load = {"work": work, "seconds": args.seconds * 2, "connections": args.connections}
            name = f"affroute_bench_{secrets.token_hex(3)}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            pg_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
            try:
                pg_key = prepare_database(pg_url)
                for workers in (1, 2):
                    label = f"affroute, PostgreSQL, {workers} worker(s)"
                    results.append(measure(label, OURS, pg_url, pg_key, workers, True, **load))
            finally:
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    table = Table(
        title=f"POST /api/v1/tickets, wrk {args.connections} connections (SQLite: median of "
        f"{args.rounds} alternating {args.seconds}s rounds)"
    )
    for column in ("server", "requests/s", "p50 ms", "p99 ms", "non-2xx", "vs bare"):
        table.add_column(column, justify="left" if column == "server" else "right")
    for r in results:
        figures = (f"{r.rps:,.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", str(r.errors))
        table.add_row(r.name, *figures, f"{r.rps / bare.rps:.2f}x")
    console.print(table)
    ratio = statistics.median(ratios)
    rounds = ", ".join(f"{r:.2f}" for r in ratios)
    verdict = "PASS" if ratio >= 0.8 and ours.errors == 0 else "FAIL"
    console.print(f"affroute / bare per round: {rounds}")
    console.print(
        f"target: affroute on SQLite >= 0.8x the bare endpoint: {ratio:.2f}x (median)  {verdict}"
    )


if __name__ == "__main__":
    main()
