"""Benchmark: SLA deadlines in business hours, beside the minute-walking reference.

Draws a seeded workload of tickets (1,000,000 by default): a creation minute anywhere in
2026, one of the example's calendars (New York, London with a lunch break, Singapore, 24x7,
each with its holidays) and one of the example's SLA targets (1 hour to 10 business days).
Then, in one process:

- affroute: `BusinessCalendar.add` for every ticket, on calendars built fresh for the run
  (their caches fill during the timed loop);
- the reference: the test suite's walk over real minutes, on a sample of the same tickets;
  both must give the same deadlines on that sample.

The report ends with PASS/FAIL against the target; the exit code is 0 either way.

    .venv/bin/python bench/sla.py [--tickets N] [--reference N] [--seed S] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from affroute.config import Calendar, RoutingConfig, load_config
from affroute.sla import BusinessCalendar, business_calendars

# The reference lives with the tests (it must stay independent of affroute.sla).
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.sla import reference  # noqa: E402

TARGET_SECONDS = 10.0  # for 1,000,000 deadlines
TARGET_TICKETS = 1_000_000
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_MINUTES = 365 * 24 * 60

console = Console()
if not console.is_terminal:  # piped or in CI: do not wrap the table at 80 columns
    console = Console(width=110)


@dataclass(frozen=True, slots=True)
class Case:
    calendar: str
    start: datetime
    target: timedelta


@dataclass(frozen=True, slots=True)
class Measurement:
    label: str
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def micros(self) -> float:
        return self.seconds / self.count * 1e6


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=TARGET_TICKETS, help="deadlines to compute")
    parser.add_argument(
        "--reference", type=int, default=300, help="tickets to give the minute-walking reference"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the workload")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args()
    if args.quick:
        args.tickets = min(args.tickets, 50_000)
        args.reference = min(args.reference, 30)
    return args


def example_targets(config: RoutingConfig) -> list[timedelta]:
    """Every distinct target of the example's SLA policies."""
    targets = {
        target
        for policy in config.sla_policies
        for target in (policy.first_response, policy.next_response, policy.resolution)
        if target is not None
    }
    return sorted(targets)


def workload(
    rng: np.random.Generator, count: int, calendars: Sequence[str], targets: Sequence[timedelta]
) -> list[Case]:
    """Tickets created on whole minutes over 2026, so the reference is exact on them."""
    minutes = rng.integers(YEAR_MINUTES, size=count)
    which = rng.integers(len(calendars), size=count)
    sizes = rng.integers(len(targets), size=count)
    return [
        Case(calendars[c], YEAR_START + timedelta(minutes=int(m)), targets[t])
        for m, c, t in zip(minutes, which, sizes, strict=True)
    ]


def run_affroute(
    label: str, cases: Sequence[Case], calendars: dict[str, BusinessCalendar]
) -> tuple[Measurement, list[datetime]]:
    adds = {name: calendar.add for name, calendar in calendars.items()}
    calls = [(adds[case.calendar], case.start, case.target) for case in cases]
    gc.collect()
    began = time.perf_counter()
    deadlines = [add(start, target) for add, start, target in calls]
    return Measurement(label, len(cases), time.perf_counter() - began), deadlines


def run_reference(
    cases: Sequence[Case], calendars: dict[str, Calendar]
) -> tuple[Measurement, list[datetime]]:
    deadlines = []
    began = time.perf_counter()
    for case in cases:
        minutes = case.target // reference.MINUTE
        deadlines.append(reference.add(calendars[case.calendar], case.start, minutes))
    seconds = time.perf_counter() - began
    return Measurement("minute-walking reference", len(cases), seconds), deadlines


def report(
    args: argparse.Namespace,
    ours: Measurement,
    by_calendar: Sequence[Measurement],
    ref: Measurement,
    cases: Sequence[Case],
    targets: Sequence[timedelta],
) -> None:
    table = Table(title="affroute SLA deadline benchmark", title_justify="left")
    for header in ("", "deadlines", "seconds", "deadlines/s", "µs each", "vs reference"):
        table.add_column(header, justify="right" if header else "left", no_wrap=True)
    for row in (ours, *by_calendar, ref):
        table.add_row(
            row.label,
            f"{row.count:,}",
            f"{row.seconds:,.2f}",
            f"{row.rate:,.0f}",
            f"{row.micros:,.2f}",
            f"{row.rate / ref.rate:,.0f}x",
        )
    console.print(table)

    scaled = ours.seconds * TARGET_TICKETS / ours.count
    ok = scaled <= TARGET_SECONDS
    verdict = "[bold green]PASS[/]" if ok else "[bold red]FAIL[/]"
    console.print("\nTarget")
    console.print(
        f"  {verdict}  {TARGET_TICKETS:,} deadlines ≤ {TARGET_SECONDS:.0f} s: {scaled:,.2f} s"
        + ("" if ours.count == TARGET_TICKETS else f" (scaled from {ours.count:,})"),
        highlight=False,
    )

    mix = Counter(case.calendar for case in cases)
    hours = ", ".join(f"{t / timedelta(hours=1):g}h" for t in targets)
    notes = (
        f"Workload (seed {args.seed}): creation minutes uniform over 2026; calendars "
        + ", ".join(f"{name} {count:,}" for name, count in sorted(mix.items()))
        + f"; targets uniform over {hours} of business time.",
        "affroute: one add() call per ticket on calendars built fresh for the run, so the time "
        "includes filling their per-date caches and DST tables; GC on.",
        "Per-calendar rows: the same tickets again, grouped by calendar, caches warm.",
        f"Reference: tests/sla/reference.py walks real minutes and judges each by the wall "
        f"clock in the calendar's zone; measured on the first {ref.count:,} tickets. Both gave "
        "the same deadline for every one of them.",
    )
    console.print("\nNotes")
    for number, note in enumerate(notes, start=1):
        console.print(f"  {number}. {note}", highlight=False)


def main() -> None:
    args = parse_args()
    config = load_config(ROOT / "examples" / "affiliate.yaml")
    names = sorted(config.calendars)
    targets = example_targets(config)
    rng = np.random.default_rng(args.seed)
    with console.status(f"drawing {args.tickets:,} tickets"):
        cases = workload(rng, args.tickets, names, targets)

    calendars = business_calendars(config.calendars)
    with console.status(f"affroute: {args.tickets:,} deadlines"):
        ours, deadlines = run_affroute("affroute BusinessCalendar.add", cases, calendars)
    by_calendar = []
    with console.status("affroute, calendar by calendar"):
        for name in names:
            subset = [case for case in cases if case.calendar == name]
            by_calendar.append(run_affroute(f"  {name}", subset, calendars)[0])

    sample = cases[: args.reference]
    with console.status(f"reference: {len(sample):,} deadlines, minute by minute"):
        ref, expected = run_reference(sample, config.calendars)
    for case, got, want in zip(sample, deadlines, expected, strict=False):
        if got != want:
            raise SystemExit(f"{case}: affroute says {got}, the reference {want}; no comparison")
    report(args, ours, by_calendar, ref, cases, targets)


if __name__ == "__main__":
    main()
