"""One SLA sweep over 100,000 open tickets in SQLite, timed (issue 4's second figure).

The tickets are written straight into a migrated database (open, each with a policy of the
example configuration and its "created" event, spread over the last two weeks); a share of
them is due for the sweeper. The sweep fires their escalation steps through the real
service code, one transaction per ticket. Target: a 100k sweep <= 2 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from rich.console import Console
from sqlalchemy import Table, func, insert, select, update

from affroute.service import configs, sla
from affroute.service.demo import load_catalog
from affroute.service.runtime import RoutingCache
from affroute.service.uow import UnitOfWork
from affroute.store import migrate
from affroute.store.db import make_engine, session_factory
from affroute.store.models import EscalationRow, TicketEventRow, TicketRow
from affroute.synth import GeneratorSpec, generate_program

ROOT = Path(__file__).resolve().parents[1]
console = Console()
POLICIES = ("p1", "p2", "p3", "premium partners")
TEMPLATE: dict[str, object] = {
    "external_id": None, "deal_id": None, "campaign_id": None, "subject": "s", "body": "b",
    "category": None, "urgency": None, "channel": "portal", "region": "", "tags": [],
    "status": "open", "score": 50.0, "priority": "p3", "priority_rank": 3,
    "team": "general_support", "team_source": "default", "agent_id": None, "queued": False,
    "required_skills": [], "sla_paused_seconds": 0.0, "sla_status": "resolution_due",
}  # fmt: skip


def fill(uow: UnitOfWork, count: int, due_share: float, now: datetime, seed: int) -> None:
    rng = np.random.default_rng(seed)
    program = generate_program(GeneratorSpec(tickets=0), rng)
    load_catalog(uow=uow, program=program, now=now)
    ages = rng.uniform(0, 14 * 86_400, count)
    due = rng.random(count) < due_share
    policies = rng.choice(POLICIES, count)
    partners = rng.choice([p.id for p in program.partners], count)
    tickets, events = [], []
    for i in range(count):
        created = now - timedelta(seconds=float(ages[i]))
        ticket_id = f"bench{i:08d}"
        tickets.append(
            TEMPLATE
            | {
                "id": ticket_id,
                "partner_id": str(partners[i]),
                "sla_policy": str(policies[i]),
                "created_at": created,
                "updated_at": created,
                "sla_check_at": now - timedelta(minutes=1) if due[i] else now + timedelta(days=30),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--due", type=float, default=0.05, help="share of the tickets due now")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'sweep.db'}"
        migrate.upgrade(url)
        uow = UnitOfWork(session_factory(make_engine(url)))
        yaml_text = (ROOT / "examples" / "affiliate.yaml").read_text()
        uow.run(lambda s: configs.activate(session=s, yaml_text=yaml_text, actor="bench", now=now))
        with console.status(f"writing {args.tickets:,} open tickets"):
            fill(uow, args.tickets, args.due, now, args.seed)
        due = uow.run(
            lambda s: s.scalar(
                select(func.count()).select_from(TicketRow).where(TicketRow.sla_check_at <= now)
            )
        )
        cache = RoutingCache()
        started = time.perf_counter()
        result = sla.sweep(uow=uow, cache=cache, now=now, limit=args.tickets)
        seconds = time.perf_counter() - started
        fired = uow.run(lambda s: s.scalar(select(func.count()).select_from(EscalationRow)))
        started_idle = time.perf_counter()
        again = sla.sweep(uow=uow, cache=cache, now=now, limit=args.tickets)
        idle_seconds = time.perf_counter() - started_idle
        uow.run(lambda s: s.execute(update(TicketRow).values(sla_check_at=None)))
    per_ticket = seconds / max(result.examined, 1)
    console.print(f"open tickets {args.tickets:,}, due {due:,} ({args.due:.0%}), seed {args.seed}")
    console.print(
        f"sweep: examined {result.examined:,} due tickets, fired {result.fired:,} steps "
        f"({fired:,} ledger rows) in {seconds:.2f} s = {per_ticket * 1e3:.2f} ms per due ticket"
    )
    console.print(
        f"a second sweep right after: examined {again.examined} in {idle_seconds * 1e3:.1f} ms"
    )
    all_due = per_ticket * args.tickets
    verdict = "PASS" if seconds <= 2.0 and all_due <= 2.0 else "FAIL"
    console.print(
        f"target: a sweep over {args.tickets:,} open tickets <= 2 s: {seconds:.2f} s with "
        f"{args.due:.0%} due; {all_due:.0f} s if every one were due  {verdict}"
    )


if __name__ == "__main__":
    sys.exit(main())
