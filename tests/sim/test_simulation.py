"""The desk simulation: reproducible, conserves tickets, baselines behave, CLI end to end."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from affroute.cli import app
from affroute.config import RoutingConfig, load_config
from affroute.domain import Agent, Priority
from affroute.engine import AgentPool, Router, WorkItem
from affroute.sim.baseline import ANY_TEAM, BaselinePool
from affroute.sim.files import InputError, read_agents
from affroute.sim.model import HandlingModel, Policy, PolicyKind
from affroute.sim.report import summarise
from affroute.sim.run import SimResult, simulate
from affroute.sim.workload import config_agents, generated_workload
from affroute.sla import business_calendars

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "affiliate.yaml"


@pytest.fixture(scope="module")
def config() -> RoutingConfig:
    return load_config(EXAMPLE)


def _run(config: RoutingConfig, kind: PolicyKind, seed: int = 2, tickets: int = 800) -> SimResult:
    arrivals, context = generated_workload(config, tickets, 7, np.random.default_rng(1))
    return simulate(
        arrivals,
        policy=Policy(kind.value, kind, config),
        agents=config_agents(config),
        context=context,
        handling=HandlingModel(),
        rng=np.random.default_rng(seed),
        days=7,
    )


def test_same_seed_same_result_other_seed_other_draws(config: RoutingConfig) -> None:
    first, again = _run(config, PolicyKind.ROUTER), _run(config, PolicyKind.ROUTER)
    assert np.array_equal(first.solved, again.solved, equal_nan=True)
    assert summarise(first) == summarise(again)
    other = _run(config, PolicyKind.ROUTER, seed=3)
    assert not np.array_equal(first.solved, other.solved, equal_nan=True)


def test_deadlines_are_the_calendars_deadlines_for_each_ticket(config: RoutingConfig) -> None:
    arrivals, context = generated_workload(config, 300, 7, np.random.default_rng(1))
    result = _run(config, PolicyKind.ROUTER, tickets=300)
    assert result.has_sla.sum() > 50
    router, calendars = Router(config), business_calendars(config.calendars)
    policies = {p.name: p for p in config.sla_policies}
    ordered = sorted(arrivals, key=lambda a: a.at)
    start = ordered[0].at
    for k, arrival in enumerate(ordered[: result.arrivals]):
        sla = policies.get(router.route(arrival.ticket, context, arrival.at).sla_policy or "")
        assert result.has_sla[k] == (sla is not None)
        if sla is not None:
            due = calendars[sla.calendar].add(arrival.at, sla.resolution)
            assert result.resolution_due[k] == (due - start).total_seconds() / 3600


@pytest.mark.parametrize("kind", list(PolicyKind))
def test_every_arrival_ends_solved_in_service_or_waiting(
    config: RoutingConfig, kind: PolicyKind
) -> None:
    result = _run(config, kind)
    assert result.arrivals > 0
    assert result.solved_count + result.in_service + result.waiting == result.arrivals
    done = ~np.isnan(result.solved)
    assert np.all(result.solved[done] >= result.created[done])
    assert all(0.0 <= u <= 1.0 for u in result.utilisation.values())


def test_the_engine_misroutes_far_less_than_desks_that_ignore_teams(
    config: RoutingConfig,
) -> None:
    routed = summarise(_run(config, PolicyKind.ROUTER))["misroute_rate"]
    for kind in (PolicyKind.FIFO, PolicyKind.ROUND_ROBIN, PolicyKind.LEAST_LOADED):
        assert summarise(_run(config, kind))["misroute_rate"] > 3 * routed


@pytest.mark.parametrize("kind", [PolicyKind.FIFO, PolicyKind.ROUND_ROBIN, PolicyKind.LEAST_LOADED])
def test_baselines_serve_in_arrival_order_whatever_the_priority(kind: PolicyKind) -> None:
    # One agent with room for one: a P4 waits, then a P1; the freed agent takes the P4 first.
    agent = Agent("a", "A", ("general_support",), {}, capacity=1)
    pool = BaselinePool([agent], kind)
    at = datetime(2026, 1, 5, tzinfo=UTC)

    def item(ticket: str, priority: Priority) -> WorkItem:
        return WorkItem(ticket, ANY_TEAM, priority, 0.0, at)

    assert pool.offer(item("busy", Priority.P4), at).assignment is not None
    assert pool.offer(item("low", Priority.P4), at).assignment is None
    assert pool.offer(item("urgent", Priority.P1), at).assignment is None
    assert [a.ticket_id for a in pool.release("busy", at)] == ["low"]
    # The engine's pool, given the same, takes the P1 first.
    engine = AgentPool([agent])
    for name, priority in (("busy", Priority.P4), ("low", Priority.P4), ("urgent", Priority.P1)):
        engine.offer(WorkItem(name, "general_support", priority, 0.0, at), at)
    assert [a.ticket_id for a in engine.release("busy", at)] == ["urgent"]


def test_bad_agents_file_names_line_and_field(tmp_path: Path, config: RoutingConfig) -> None:
    path = tmp_path / "agents.csv"
    path.write_text(
        "id,teams,skills,capacity,shift\n"
        "a1,general_support,general:2,5,americas_hours\n"
        "a2,general_support,general:2,zero,americas_hours\n"
        "a3,nowhere,general:2,5,24x7\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        read_agents(path, set(config.teams), set(config.calendars))
    message = str(caught.value)
    assert f"{path}:3: capacity" in message
    assert f"{path}:4: teams: unknown team(s) nowhere" in message


def test_cli_compares_policy_with_baselines_and_writes_plots(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["simulate", "--config", str(EXAMPLE), "--baselines", "--days", "3", "--tickets",
         "300", "--seeds", "2", "--plots", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for column in ("affiliate", "fifo", "round_robin", "least_loaded", "SLA breach"):
        assert column in result.output
    assert (tmp_path / "queue_length.png").stat().st_size > 1000


def test_cli_bad_arrivals_file_exits_naming_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text("id,created_at\nt1,2026-01-05T10:00:00+00:00\nt2,yesterday\n", "utf-8")
    result = CliRunner().invoke(
        app, ["simulate", "--config", str(EXAMPLE), "--arrivals", str(path), "--seeds", "1"]
    )
    assert result.exit_code == 1
    assert f"{path}:3: created_at" in result.output
