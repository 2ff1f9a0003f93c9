"""What-if simulations for the API: the active configuration against candidate configs and
the built-in baselines, on generated arrivals or the stored tickets of a period.

A request runs synchronously, so its size is capped: ``MAX_TICKET_RUNS`` arrivals summed
over every policy and seed keeps one request to a few seconds of one core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from affroute.config import RoutingConfig
from affroute.domain import TicketStatus
from affroute.service.configs import parse_or_reject
from affroute.service.errors import InvalidInputError
from affroute.service.runtime import RoutingCache
from affroute.service.tickets import ticket_from_row
from affroute.service.uow import UnitOfWork
from affroute.sim.model import BASELINES, Arrival, Policy, PolicyKind
from affroute.sim.report import Estimate, compare
from affroute.sim.workload import config_agents, generated_workload, run_policies
from affroute.store.models import TicketRow

MAX_DAYS = 31
MAX_TICKETS = 20_000
MAX_SEEDS = 10
MAX_CANDIDATES = 3
MAX_TICKET_RUNS = 100_000
ACTIVE = "active"
_SOLVED = (TicketStatus.SOLVED.value, TicketStatus.CLOSED.value)


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    yaml: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """Per policy (active first, then candidates, then baselines) and metric: an estimate."""

    arrivals: int
    agents: int
    days: float
    seeds: int
    kinds: dict[str, str]
    table: dict[str, dict[str, Estimate]]


def policies(
    *, active: RoutingConfig, candidates: Sequence[Candidate], baselines: bool
) -> list[Policy]:
    """The policies to compare; a candidate that does not parse is refused, naming it."""
    chosen = [Policy(ACTIVE, PolicyKind.ROUTER, active)]
    taken = {ACTIVE, *(kind.value for kind in BASELINES)}
    for k, candidate in enumerate(candidates):
        if candidate.name in taken:
            raise InvalidInputError(
                f"candidate name {candidate.name!r} is taken",
                [{"field": f"candidates[{k}].name", "message": "names must be unique"}],
            )
        taken.add(candidate.name)
        field = f"candidates[{k}].yaml"
        try:
            config = parse_or_reject(candidate.yaml, source=field)
        except InvalidInputError as exc:
            details = [{"field": field, **issue} for issue in exc.details or []]
            raise InvalidInputError(f"{field}: {exc.message}", details) from None
        # The desk stays the active config's: its agents work the shifts named there.
        missing = sorted({a.shift for a in config_agents(active)} - set(config.calendars))
        if missing:
            raise InvalidInputError(
                f"candidate {candidate.name!r} lacks the shift calendars {', '.join(missing)}",
                [{"field": field, "message": "define these calendars"}],
            )
        chosen.append(Policy(candidate.name, PolicyKind.ROUTER, config))
    if baselines:
        chosen += [Policy(kind.value, kind, active) for kind in BASELINES]
    return chosen


def check_size(*, arrivals: int, policies: int, seeds: int, field: str) -> None:
    """Refuse a run over ``MAX_TICKET_RUNS`` arrivals summed over policies and seeds."""
    runs = arrivals * policies * seeds
    if runs > MAX_TICKET_RUNS:
        raise InvalidInputError(
            f"{arrivals} arrivals x {policies} policies x {seeds} seeds = {runs} simulated "
            f"tickets, over the limit of {MAX_TICKET_RUNS}",
            [{"field": field, "message": "fewer tickets, policies or seeds"}],
        )


def stored_arrivals(
    *, session: Session, since: datetime, until: datetime, limit: int
) -> list[Arrival]:
    """Tickets created in ``[since, until)``; a solved ticket's true team is its last team."""
    rows = session.scalars(
        select(TicketRow)
        .where(TicketRow.created_at >= since, TicketRow.created_at < until)
        .order_by(TicketRow.created_at, TicketRow.id)
        .limit(limit + 1)
    ).all()
    if len(rows) > limit:
        raise InvalidInputError(
            f"the period holds more than {limit} tickets: shorten it",
            [{"field": "since", "message": f"at most {limit} tickets per run"}],
        )
    if not rows:
        raise InvalidInputError(
            "no tickets were created in the period",
            [{"field": "since", "message": "no stored tickets from since to until"}],
        )
    return [
        Arrival(ticket_from_row(row), row.team if row.status in _SOLVED else None) for row in rows
    ]


@dataclass(frozen=True, slots=True)
class SimulationSpec:
    """A request: generated arrivals (``tickets`` over ``days``) or the stored tickets created
    from ``since`` to ``until`` (the period is then the horizon)."""

    arrivals: Literal["generated", "stored"]
    tickets: int
    days: float
    since: datetime | None
    until: datetime | None
    candidates: Sequence[Candidate]
    baselines: bool
    seeds: int
    seed: int


def _horizon(spec: SimulationSpec, now: datetime) -> tuple[datetime, datetime, float]:
    if spec.since is None:
        raise InvalidInputError(
            "stored arrivals need a period", [{"field": "since", "message": "required"}]
        )
    until = spec.until or now
    days = (until - spec.since) / timedelta(days=1)
    if not 0 < days <= MAX_DAYS:
        raise InvalidInputError(
            f"the period must last more than 0 and at most {MAX_DAYS} days",
            [{"field": "since", "message": "since must come before until, within the cap"}],
        )
    return spec.since, until, days


def run(*, uow: UnitOfWork, cache: RoutingCache, spec: SimulationSpec, now: datetime) -> Comparison:
    """Every policy on the same arrivals and the active config's agents, over ``seeds`` seeds.

    The database is read in one short transaction; the simulation runs outside it.
    """
    horizon = _horizon(spec, now) if spec.arrivals == "stored" else None
    routing = uow.run(cache.current)
    chosen = policies(active=routing.config, candidates=spec.candidates, baselines=spec.baselines)
    workload_seed, *replica_seeds = np.random.SeedSequence(spec.seed).spawn(spec.seeds + 1)
    if horizon is not None:
        since, until, days = horizon
        limit = min(MAX_TICKETS, MAX_TICKET_RUNS // (len(chosen) * spec.seeds))
        arriving = uow.run(
            lambda s: stored_arrivals(session=s, since=since, until=until, limit=limit)
        )
        context = routing.context
    else:
        days = spec.days
        check_size(arrivals=spec.tickets, policies=len(chosen), seeds=spec.seeds, field="tickets")
        arriving, context = generated_workload(
            routing.config, spec.tickets, days, np.random.default_rng(workload_seed)
        )
    agents = config_agents(routing.config)
    if not agents:
        raise InvalidInputError("the active configuration has no agents to simulate")
    runs = run_policies(
        arriving, chosen, agents=agents, context=context, days=days, seeds=replica_seeds
    )
    return Comparison(
        arrivals=runs[ACTIVE][0].arrivals,
        agents=len(agents),
        days=days,
        seeds=spec.seeds,
        kinds={p.name: p.kind.value for p in chosen},
        table=compare(runs),
    )
