"""One SLA sweep over 100,000 open tickets, timed beside the per-ticket sweep (issue 4).

The tickets are written straight into a migrated database (open, each with a policy of the
example configuration, its "created" event and the clocks ingest stores, spread over the
last two weeks); a share of them is due for the sweeper. Then, in rounds on fresh copies of
that database (the machine is shared: medians are compared):

- affroute: one ``sla.sweep`` over every due ticket, in batches of 500 per transaction,
  clocks carried forward from each ticket's stored reading;
- the peer: the same sweep of a sample of the due tickets one ticket per transaction, each
  ticket's clocks replayed from its event log, as the sweeper worked before batches.

Both fire the same steps on the sample (checked). Target: a sweep over 100,000 open
tickets <= 2 s. SQLite by default; ``--postgresql URL`` (a database to connect to for
CREATE DATABASE) runs the same on PostgreSQL. The exit code is 0 either way.

    .venv/bin/python bench/sweep.py [--tickets N] [--due SHARE] [--rounds R] [--sample N]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
from rich.console import Console
from sqlalchemy import Table, insert, select, update

from affroute.config import load_config
from affroute.service import configs, sla
from affroute.service.demo import load_catalog
from affroute.service.runtime import RoutingCache
from affroute.service.uow import UnitOfWork
from affroute.store import migrate
from affroute.store.db import make_engine, session_factory
from affroute.store.models import EscalationRow, TicketEventRow, TicketRow
from affroute.synth import GeneratorSpec, generate_program

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "affiliate.yaml"
TARGET_SECONDS = 2.0
TARGET_TICKETS = 100_000
console = Console()
if not console.is_terminal:  # piped or in CI: do not wrap lines at 80 columns
    console = Console(width=150)
POLICIES = ("p1", "p2", "p3", "premium partners")
TEMPLATE: dict[str, object] = {
    "external_id": None, "deal_id": None, "campaign_id": None, "subject": "s", "body": "b",
    "category": None, "urgency": None, "channel": "portal", "region": "", "tags": [],
    "status": "open", "score": 50.0, "priority": "p3", "priority_rank": 3,
    "team": "general_support", "team_source": "default", "agent_id": None, "queued": False,
    "required_skills": [],
}  # fmt: skip


def fill(uow: UnitOfWork, count: int, due_share: float, now: datetime, seed: int) -> None:
    """Open tickets with the clocks ingest gives them; ``due_share`` of them due at ``now``."""
    rng = np.random.default_rng(seed)
    program = generate_program(GeneratorSpec(tickets=0), rng)
    load_catalog(uow=uow, program=program, now=now)
    config = load_config(EXAMPLE)
    policies = {p.name: p for p in config.sla_policies}
    ages = rng.uniform(0, 14 * 86_400, count)
    due = rng.random(count) < due_share
    chosen = rng.choice(POLICIES, count)
    partners = rng.choice([p.id for p in program.partners], count)
    tickets, events = [], []
    for i in range(count):
        created = now - timedelta(seconds=float(ages[i]))
        ticket_id = f"bench{i:08d}"
        policy = policies[str(chosen[i])]
        calendar = sla.CALENDARS.get(config, policy.calendar)
        clocks = sla.replayed(policy, calendar, [(created, "created", {})], created)
        # Due now, or (the rest) not before the sweep: the index decides which it reads.
        clocks.check_at = now - timedelta(minutes=1) if due[i] else now + timedelta(days=30)
        tickets.append(
            TEMPLATE
            | clocks.columns()
            | {
                "id": ticket_id,
                "partner_id": str(partners[i]),
                "sla_policy": policy.name,
                "created_at": created,
                "updated_at": created,
            }
        )
        events.append(
            {"ticket_id": ticket_id, "kind": "created", "actor": "bench", "data": {}, "at": created}
        )
    tickets_table: Table = TicketRow.__table__  # type: ignore[assignment]
    events_table: Table = TicketEventRow.__table__  # type: ignore[assignment]
    for start in range(0, count, 10_000):
        chunk = slice(start, start + 10_000)
        uow.run(lambda s, c=chunk: s.execute(insert(tickets_table), tickets[c]))
        uow.run(lambda s, c=chunk: s.execute(insert(events_table), events[c]))


class SqliteCopies:
    """A filled database file, copied afresh for every timed run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.template = f"sqlite:///{folder / 'template.db'}"

    @contextmanager
    def copy(self) -> Iterator[str]:
        path = self.folder / f"run-{secrets.token_hex(4)}.db"
        shutil.copyfile(self.folder / "template.db", path)
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        pass


class PostgresCopies:
    """A filled database, copied with CREATE DATABASE .. TEMPLATE for every timed run."""

    def __init__(self, admin_url: str) -> None:
        self.admin = admin_url
        self.name = f"affroute_sweep_{secrets.token_hex(4)}"
        self._execute(f'CREATE DATABASE "{self.name}"')
        self.template = self._url(self.name)

    def _url(self, name: str) -> str:
        return self.admin.rsplit("/", 1)[0] + f"/{name}"

    def _execute(self, sql: str) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    @contextmanager
    def copy(self) -> Iterator[str]:
        name = f"{self.name}_{secrets.token_hex(3)}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
        try:
            yield self._url(name)
        finally:
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@dataclass(frozen=True, slots=True)
class Run:
    seconds: float
    result: sla.SweepResult
    fired: frozenset[tuple[str, str, int, bool]]  # the ledger, for the sample's tickets

    @property
    def ms_per_ticket(self) -> float:
        return self.seconds / max(self.result.examined, 1) * 1e3


def ledger(uow: UnitOfWork, ids: list[str]) -> frozenset[tuple[str, str, int, bool]]:
    rows = uow.run(
        lambda s: s.execute(
            select(
                EscalationRow.ticket_id,
                EscalationRow.policy,
                EscalationRow.step,
                EscalationRow.predicted,
            ).where(EscalationRow.ticket_id.in_(ids))
        ).all()
    )
    return frozenset((t, p, step, predicted) for t, p, step, predicted in rows)


@contextmanager
def opened(url: str) -> Iterator[UnitOfWork]:
    engine = make_engine(url)
    try:
        yield UnitOfWork(session_factory(engine))
    finally:
        engine.dispose()


def ours(url: str, now: datetime, count: int, sample: list[str]) -> Run:
    with opened(url) as uow:
        cache = RoutingCache()
        uow.run(cache.current)  # the configuration is read before the clock starts, as in serve
        started = time.perf_counter()
        result = sla.sweep(uow=uow, cache=cache, now=now, limit=count)
        seconds = time.perf_counter() - started
        return Run(seconds, result, ledger(uow, sample))


def per_ticket(url: str, now: datetime, sample: list[str]) -> Run:
    with opened(url) as uow:
        # Only the sample stays due, and without a stored reading its clocks are replayed.
        uow.run(
            lambda s: s.execute(
                update(TicketRow)
                .where(TicketRow.sla_check_at <= now, TicketRow.id.not_in(sample))
                .values(sla_check_at=now + timedelta(days=30))
            )
        )
        uow.run(
            lambda s: s.execute(
                update(TicketRow).where(TicketRow.id.in_(sample)).values(sla_computed_at=None)
            )
        )
        cache = RoutingCache()
        uow.run(cache.current)
        started = time.perf_counter()
        result = sla.sweep(uow=uow, cache=cache, now=now, limit=len(sample), batch=1)
        seconds = time.perf_counter() - started
        return Run(seconds, result, ledger(uow, sample))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=TARGET_TICKETS)
    parser.add_argument("--due", type=float, default=0.05, help="share of the tickets due now")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each, medians")
    parser.add_argument("--sample", type=int, default=300, help="due tickets for the peer")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgresql", metavar="URL", help="run on PostgreSQL instead")
    args = parser.parse_args()
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        copies = PostgresCopies(args.postgresql) if args.postgresql else SqliteCopies(Path(tmp))
        try:
            migrate.upgrade(copies.template)
            with opened(copies.template) as uow:
                yaml_text = EXAMPLE.read_text()
                uow.run(
                    lambda s: configs.activate(
                        session=s, yaml_text=yaml_text, actor="bench", now=now
                    )
                )
                with console.status(f"writing {args.tickets:,} open tickets"):
                    fill(uow, args.tickets, args.due, now, args.seed)
                due_ids = uow.run(
                    lambda s: list(
                        s.scalars(select(TicketRow.id).where(TicketRow.sla_check_at <= now))
                    )
                )
            rng = np.random.default_rng(args.seed)
            size = min(args.sample, len(due_ids))
            sample = sorted(str(i) for i in rng.choice(due_ids, size, replace=False))
            ours_runs, peer_runs = [], []
            idle = None
            for round_ in range(args.rounds):
                with console.status(f"round {round_ + 1} of {args.rounds}"):
                    with copies.copy() as url:
                        ours_runs.append(ours(url, now, args.tickets, sample))
                        if idle is None:  # right after, nothing is due any more
                            with opened(url) as uow:
                                started = time.perf_counter()
                                again = sla.sweep(
                                    uow=uow, cache=RoutingCache(), now=now, limit=args.tickets
                                )
                                idle = (again, time.perf_counter() - started)
                    with copies.copy() as url:
                        peer_runs.append(per_ticket(url, now, sample))
        finally:
            copies.close()
    report(args, len(due_ids), ours_runs, peer_runs, idle)


def report(
    args: argparse.Namespace,
    due: int,
    ours_runs: list[Run],
    peer_runs: list[Run],
    idle: tuple[sla.SweepResult, float] | None,
) -> None:
    database = "PostgreSQL" if args.postgresql else "SQLite"
    seconds = statistics.median(r.seconds for r in ours_runs)
    ours_ms = statistics.median(r.ms_per_ticket for r in ours_runs)
    peer_ms = statistics.median(r.ms_per_ticket for r in peer_runs)
    first = ours_runs[0].result
    console.print(
        f"{database}: open tickets {args.tickets:,}, due {due:,} ({args.due:.0%}), "
        f"seed {args.seed}, medians of {args.rounds} rounds"
    )
    console.print(
        f"affroute sweep: examined {first.examined:,} due tickets, fired {first.fired:,} steps "
        f"{dict(sorted(first.by_action.items()))} in {seconds:.2f} s "
        f"({', '.join(f'{r.seconds:.2f}' for r in ours_runs)}) = {ours_ms:.3f} ms per due ticket"
    )
    console.print(
        f"peer, one ticket per transaction with its events replayed, on {len(peer_runs[0].fired)} "
        f"steps of {peer_runs[0].result.examined} sampled due tickets: {peer_ms:.2f} ms per due "
        f"ticket; affroute is {peer_ms / ours_ms:.1f}x faster per due ticket"
    )
    same = all(r.fired == peer_runs[0].fired for r in ours_runs + peer_runs)
    console.print(f"the same steps fired on the sample by both: {'yes' if same else 'NO'}")
    if idle is not None:
        again, idle_seconds = idle
        console.print(
            f"a second sweep right after: examined {again.examined} "
            f"(moved to a new policy, due next sweep) in {idle_seconds * 1e3:.0f} ms"
        )
    verdict = "PASS" if seconds <= TARGET_SECONDS else "NOT MET"
    console.print(
        f"target: one sweep over {args.tickets:,} open tickets <= {TARGET_SECONDS:.0f} s: "
        f"{seconds:.2f} s with {args.due:.0%} due  {verdict}"
    )
    every = ours_ms * args.tickets / 1e3
    console.print(f"(if every one of them were due: about {every:.1f} s, extrapolated)")


if __name__ == "__main__":
    sys.exit(main())
