"""Benchmark: affroute's routing decision, and its rules alone beside two rules engines.

Generates a seeded affiliate program (100,000 tickets by default) and a 200-rule config
with 500 agents (see `rulesets.py`), then measures in one process on one core:

- affroute full decision: `Router.route` into an `AgentPool`, each ticket released a
  fixed number of tickets later so agents keep freeing up;
- the same 200 rules alone, on the same enriched facts: affroute's compiled rules,
  GoRules `zen-engine` (one decision table) and `rule-engine` (one `Rule` per rule).

The three rule engines must first agree on which rules match. The report ends with
PASS/FAIL against the targets; the exit code is 0 either way.

    .venv/bin/python bench/engine.py [--tickets N] [--seed S] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from affroute.config import Op, RoutingConfig
from affroute.domain import Priority, Ticket
from affroute.engine import (
    AgentPool,
    CompiledRules,
    Facts,
    Router,
    RoutingContext,
    RuleState,
    compile_rules,
    enrich,
    priority_for,
)
from affroute.synth import GeneratorSpec, generate_program
from rulesets import (
    PEER_NOTES,
    RuleEngineRules,
    ZenRules,
    build_config,
    count_conditions,
    facts_dict,
    without_regexes,
)

TARGET_RATE = 20_000  # tickets/s, full decision, one core
TARGET_P99_US = 200.0
TARGET_RATIO = 10.0  # times the faster peer
AGREEMENT_TICKETS = 1_000
WARM_UP_TICKETS = 2_000

T = TypeVar("T")
console = Console()
if not console.is_terminal:  # piped or in CI: do not wrap the table at 80 columns
    console = Console(width=110)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One contender's run: how many tickets, in how long, and each call's latency."""

    label: str
    count: int
    seconds: float
    latencies_ns: npt.NDArray[np.int64]

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def percentile_us(self, q: float) -> float:
        return float(np.percentile(self.latencies_ns, q)) / 1_000


@dataclass(frozen=True, slots=True)
class Prepared:
    """A ticket enriched and scored as `Router.route` does it before running the rules."""

    facts: Facts
    tier_priority: Priority


@dataclass(slots=True)
class PoolStats:
    assigned: int = 0  # at decision time
    queued: int = 0
    pulled_later: int = 0  # queued, then taken by an agent another release freed
    withdrawn: int = 0  # still waiting when its turn to be released came


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets to route")
    parser.add_argument("--seed", type=int, default=7, help="seed of the program and config")
    parser.add_argument("--quick", action="store_true", help="a small smoke run (5,000 tickets)")
    parser.add_argument(
        "--window", type=int, default=2_000, help="release each ticket this many tickets later"
    )
    parser.add_argument(
        "--rule-engine-tickets",
        type=int,
        default=2_000,
        help="rule-engine is slow: measure it on the first N tickets",
    )
    args = parser.parse_args()
    if args.quick:
        args.tickets = min(args.tickets, 5_000)
        args.rule_engine_tickets = min(args.rule_engine_tickets, 500)
    return args


def pin_to_one_core() -> int | None:
    """Run on one core (the last one allowed), where the OS supports it."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def prepare(router: Router, tickets: Sequence[Ticket], context: RoutingContext) -> list[Prepared]:
    """Enrich and score each ticket as `Router.route` does, so only the rules are left."""
    prepared = []
    for ticket in tickets:
        facts = enrich(ticket, context)
        breakdown = router.scorer.score(facts)
        facts.score = breakdown.score
        facts.ticket_urgency = breakdown.urgency
        prepared.append(Prepared(facts, priority_for(breakdown.score, router.config.tiers)))
    return prepared


def route_all(
    router: Router, tickets: Sequence[Ticket], context: RoutingContext, window: int
) -> tuple[Measurement, PoolStats]:
    """Route every ticket into a fresh pool, releasing each one `window` tickets later.

    The wall time covers the whole loop, releases included (a release is engine work: the
    freed agent pulls from its queues); the latency covers each `route` call alone.
    """
    pool = AgentPool(router.config.agents)
    stats = PoolStats()
    latencies = [0] * len(tickets)
    open_tickets: deque[str] = deque()
    route, release, clock = router.route, pool.release, time.perf_counter_ns
    start = time.perf_counter()
    for index, ticket in enumerate(tickets):
        now = ticket.created_at
        began = clock()
        decision = route(ticket, context, now, pool)
        latencies[index] = clock() - began
        stats.queued += decision.queued
        open_tickets.append(ticket.id)
        if len(open_tickets) > window:
            done = open_tickets.popleft()
            stats.withdrawn += pool.holder(done) is None
            stats.pulled_later += len(release(done, now))
    seconds = time.perf_counter() - start
    stats.assigned = len(tickets) - stats.queued
    latencies_ns = np.array(latencies, np.int64)
    return Measurement("affroute full decision", len(tickets), seconds, latencies_ns), stats


def time_calls(
    label: str,
    items: Sequence[Prepared],
    argument: Callable[[Prepared], T],
    call: Callable[[T], object],
) -> Measurement:
    """Time `call(argument(item))` for each item; building the argument is not timed."""
    latencies = np.empty(len(items), np.int64)
    clock = time.perf_counter_ns
    for index, item in enumerate(items):
        arg = argument(item)
        began = clock()
        call(arg)
        latencies[index] = clock() - began
    # The rate counts the timed calls only: untimed argument building sits between them.
    return Measurement(label, len(items), float(latencies.sum()) / 1e9, latencies)


def measure(
    label: str,
    items: Sequence[Prepared],
    argument: Callable[[Prepared], T],
    call: Callable[[T], object],
) -> Measurement:
    """A warm-up pass on the first items, a full collection, then the timed pass."""
    with console.status(label):
        time_calls(label, items[: min(WARM_UP_TICKETS, max(1, len(items) // 4))], argument, call)
        gc.collect()
        return time_calls(label, items, argument, call)


def affroute_rules(rules: CompiledRules) -> Callable[[Prepared], list[int]]:
    """affroute's compiled rules on one prepared ticket: the indexes that matched."""
    run = rules.run

    def matches(item: Prepared) -> list[int]:
        state = RuleState(priority=item.tier_priority)
        run(item.facts, state)
        return state.matched

    return matches


def check_agreement(
    router: Router, zen_rules: ZenRules, re_rules: RuleEngineRules, items: Sequence[Prepared]
) -> list[list[int]]:
    """Stop the run if the engines disagree on which rules match: then it is no race."""
    ours = affroute_rules(router.rules)
    rules = router.config.rules
    agreed = []
    for position, item in enumerate(items):
        data = facts_dict(item.facts)
        expected, by_zen, by_re = ours(item), zen_rules.matches(data), re_rules.matches(data)
        if expected == by_zen == by_re:
            agreed.append(expected)
            continue
        for name, theirs in (("zen-engine", by_zen), ("rule-engine", by_re)):
            for index in sorted(set(expected) ^ set(theirs)):
                console.print(f"[red]{name} differs on rule {index} {rules[index].name!r}")
        raise SystemExit(f"ticket #{position}: the rule engines disagree; no comparison made")
    return agreed


def _ratio(value: float) -> str:
    return f"{value:,.1f}x"


def _summary(m: Measurement) -> str:
    return f"{m.rate:,.0f}/s (p50 {m.percentile_us(50):,.1f} µs, p99 {m.percentile_us(99):,.1f} µs)"


def report(
    args: argparse.Namespace,
    config: RoutingConfig,
    rows: Sequence[Measurement],
    without_regex: tuple[Measurement, Measurement],
    stats: PoolStats,
    agreed: Sequence[Sequence[int]],
    core: int | None,
) -> None:
    full, ours, by_zen, by_re = rows
    faster = max(by_zen, by_re, key=lambda m: m.rate)
    table = Table(title="affroute engine benchmark", title_justify="left")
    for header in ("", "tickets/s", "p50 µs", "p99 µs", f"vs {faster.label.split()[0]}"):
        table.add_column(header, justify="right" if header else "left", no_wrap=True)
    table.add_column("tickets", justify="right")
    for row in rows:
        table.add_row(
            row.label,
            f"{row.rate:,.0f}",
            f"{row.percentile_us(50):,.1f}",
            f"{row.percentile_us(99):,.1f}",
            _ratio(row.rate / faster.rate),
            f"{row.count:,}",
        )
    console.print(table)

    stops = {i for i, rule in enumerate(config.rules) if rule.then.stop}
    matched = np.mean([len(m) for m in agreed])
    stopped = np.mean([bool(stops.intersection(m)) for m in agreed])
    console.print(
        f"{len(config.rules)} rules ({len(stops)} with stop), {len(config.agents)} agents in "
        f"{len(config.teams)} teams, seed {args.seed}. A ticket matches {matched:.1f} rules on "
        f"average; {stopped:.0%} reach a stop. Core {core if core is not None else '-'}, "
        "GC on, warm-up pass first.",
        highlight=False,
    )
    console.print(
        f"Pool: each ticket released {args.window:,} tickets later. {stats.assigned:,} assigned "
        f"when decided, {stats.queued:,} queued ({stats.pulled_later:,} later pulled by a freed "
        f"agent, {stats.withdrawn:,} still waiting when released).",
        highlight=False,
    )

    checks = (
        (f"full decision ≥ {TARGET_RATE:,} tickets/s", full.rate >= TARGET_RATE,
         f"{full.rate:,.0f}"),
        (f"full decision p99 ≤ {TARGET_P99_US:.0f} µs", full.percentile_us(99) <= TARGET_P99_US,
         f"{full.percentile_us(99):,.1f} µs"),
        (f"full decision ≥ {TARGET_RATIO:.0f}x the faster peer ({faster.label})",
         full.rate >= TARGET_RATIO * faster.rate, _ratio(full.rate / faster.rate)),
        (f"rules only ≥ {TARGET_RATIO:.0f}x the faster peer",
         ours.rate >= TARGET_RATIO * faster.rate, _ratio(ours.rate / faster.rate)),
    )  # fmt: skip
    console.print("\nTargets")
    for text, ok, value in checks:
        verdict = "[bold green]PASS[/]" if ok else "[bold red]FAIL[/]"
        console.print(f"  {verdict}  {text}: {value}", highlight=False)

    regexes = count_conditions(config.rules, Op.MATCHES)
    ours_plain, zen_plain = without_regex
    notes = (
        "Full decision: tickets/s is the wall time of the whole loop, releases included; "
        "p50/p99 time each route() call alone.",
        "Rules only: the facts are enriched and scored beforehand, as route() does; the rate "
        "is tickets / sum of the timed calls. The peers get plain dicts of the facts (enums "
        "as strings, tuples as lists), built outside the timer.",
        f"rule-engine is measured on the first {by_re.count:,} tickets only (it is slow); the "
        "others on all of them.",
        f"All three agreed on the matching rules, in order, for the first {len(agreed):,} tickets.",
        *PEER_NOTES,
        f"zen-engine's matches() compiles its pattern on every call, and {regexes} conditions "
        "are regexes. Timing only, with those conditions replaced by one that never holds "
        f"(the matches change): affroute rules {_summary(ours_plain)}; zen-engine "
        f"{_summary(zen_plain)}; "
        f"affroute is {_ratio(ours_plain.rate / zen_plain.rate)} and the full decision "
        f"{_ratio(full.rate / zen_plain.rate)} that zen-engine.",
    )
    console.print("\nNotes")
    for number, note in enumerate(notes, start=1):
        console.print(f"  {number}. {note}", highlight=False)


def main() -> None:
    args = parse_args()
    core = pin_to_one_core()
    rng = np.random.default_rng(args.seed)
    with console.status(f"generating {args.tickets:,} tickets"):
        program = generate_program(
            GeneratorSpec(tickets=args.tickets, partners=2_000, campaigns=150), rng
        )
    config = build_config(
        rng,
        partner_ids=[p.id for p in program.partners],
        campaign_ids=[c.id for c in program.campaigns],
    )
    tickets = [labelled.ticket for labelled in program.tickets]
    context = RoutingContext.build(
        partners=program.partners,
        deals=program.deals,
        campaigns=program.campaigns,
        anomalies=program.anomalies,
        scoring=config.scoring,
    )
    router = Router(config)
    zen_rules = ZenRules(config.rules)
    re_rules = RuleEngineRules(config.rules)
    agreed = check_agreement(
        router, zen_rules, re_rules, prepare(router, tickets[:AGREEMENT_TICKETS], context)
    )

    with console.status("affroute full decision"):
        route_all(router, tickets[:WARM_UP_TICKETS], context, args.window)  # warm-up
        gc.collect()
        full, stats = route_all(router, tickets, context, args.window)

    with console.status("enriching and scoring the tickets for the rules-only runs"):
        prepared = prepare(router, tickets, context)

    def as_dict(item: Prepared) -> dict[str, Any]:
        return facts_dict(item.facts)

    def itself(item: Prepared) -> Prepared:
        return item

    rows = [
        full,
        measure("affroute rules only", prepared, itself, affroute_rules(router.rules)),
        measure("zen-engine rules only", prepared, as_dict, zen_rules.matches),
        measure(
            "rule-engine rules only",
            prepared[: args.rule_engine_tickets],
            as_dict,
            re_rules.matches,
        ),
    ]
    stripped = without_regexes(config.rules)
    without_regex = (
        measure(
            "affroute without regexes", prepared, itself, affroute_rules(compile_rules(stripped))
        ),
        measure("zen-engine without regexes", prepared, as_dict, ZenRules(stripped).matches),
    )
    report(args, config, rows, without_regex, stats, agreed, core)


if __name__ == "__main__":
    main()
