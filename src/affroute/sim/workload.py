"""What the CLI and the API both simulate: a generated program, the config's agents, and
every policy run on the same arrivals over the same seeds."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from affroute.config import RoutingConfig
from affroute.engine import RoutingContext
from affroute.sim.model import Arrival, HandlingModel, Policy, SimAgent
from affroute.sim.run import SimResult, simulate


def generated_workload(
    config: RoutingConfig, tickets: int, days: float, rng: np.random.Generator
) -> tuple[list[Arrival], RoutingContext]:
    """A generated affiliate program: its labelled tickets and its routing context."""
    from affroute.synth import GeneratorSpec, generate_program

    weeks = max(1, int(np.ceil(days / 7)))
    program = generate_program(GeneratorSpec(tickets=tickets, weeks=weeks), rng)
    context = RoutingContext.build(
        partners=program.partners,
        deals=program.deals,
        campaigns=program.campaigns,
        anomalies=program.anomalies,
        scoring=config.scoring,
    )
    return [Arrival(t.ticket, t.true_team) for t in program.tickets], context


def config_agents(config: RoutingConfig) -> list[SimAgent]:
    """The config's agents, each on the calendar of their first team."""
    return [SimAgent(a, config.teams[a.teams[0]].calendar) for a in config.agents]


def run_policies(
    arrivals: Sequence[Arrival],
    policies: Sequence[Policy],
    *,
    agents: Sequence[SimAgent],
    context: RoutingContext,
    days: float,
    seeds: Sequence[np.random.SeedSequence],
    handling: HandlingModel | None = None,
    started: Callable[[Policy], None] | None = None,
) -> dict[str, list[SimResult]]:
    """Each policy on the same arrivals and agents, once per seed (the same seeds for all)."""
    runs: dict[str, list[SimResult]] = {p.name: [] for p in policies}
    for policy in policies:
        for seed in seeds:
            if started is not None:
                started(policy)
            runs[policy.name].append(
                simulate(
                    arrivals,
                    policy=policy,
                    agents=agents,
                    context=context,
                    handling=handling or HandlingModel(),
                    rng=np.random.default_rng(seed),
                    days=days,
                )
            )
    return runs
