"""Simulator speed: 1,000,000 tickets through the real engine with 200 agents (<= 30 s), and
the plain M/M/c model on our event core against the same model in SimPy (>= 5x)."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import simpy

from affroute.config import load_config
from affroute.sim.model import Arrival, HandlingModel, Policy, PolicyKind, SimAgent
from affroute.sim.queueing import erlang_c_wait, simulate_mmc
from affroute.sim.run import simulate
from affroute.sim.workload import generated_workload

CONFIG = Path(__file__).resolve().parents[1] / "examples" / "affiliate.yaml"
TICKETS, AGENTS, DISTINCT, DAYS = 1_000_000, 200, 20_000, 30.0
MMC_CUSTOMERS, MMC_SERVERS, MMC_LOAD = 300_000, 10, 0.9


def engine_run() -> tuple[float, float, int]:
    config = load_config(CONFIG)
    rng = np.random.default_rng(1)
    # 20,000 distinct generated tickets, replayed at 1,000,000 Poisson times: each distinct
    # ticket is routed by the Router once, every arrival goes through the AgentPool.
    program, context = generated_workload(config, DISTINCT, DAYS, rng)
    start = program[0].at
    times = np.sort(rng.uniform(0, DAYS * 86_400, TICKETS))
    picks = rng.integers(0, len(program), TICKETS)
    arrivals = [
        Arrival(program[p].ticket, program[p].true_team, start + timedelta(seconds=float(t)))
        for p, t in zip(picks, times, strict=True)
    ]
    # 200 agents on the config's teams, round the clock; capacity sized to the load.
    templates = config.agents
    agents = [
        SimAgent(dataclasses.replace(templates[k % len(templates)], id=f"a{k}", capacity=6))
        for k in range(AGENTS)
    ]
    began, cpu = time.perf_counter(), time.process_time()
    result = simulate(
        arrivals, policy=Policy("affiliate", PolicyKind.ROUTER, config), agents=agents,
        context=context, handling=HandlingModel(default_minutes=20.0, sigma=0.6,
        minutes={}), rng=np.random.default_rng(2), days=DAYS,
    )  # fmt: skip
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    assert result.arrivals == TICKETS
    assert result.solved_count + result.in_service + result.waiting == TICKETS
    return elapsed, cpu, result.solved_count


def ours_mmc() -> tuple[float, float]:
    began = time.perf_counter()
    run = simulate_mmc(MMC_LOAD * MMC_SERVERS, 1.0, MMC_SERVERS, MMC_CUSTOMERS,
                       np.random.default_rng(3))  # fmt: skip
    return time.perf_counter() - began, run.mean_wait


def simpy_mmc() -> tuple[float, float]:
    rng = np.random.default_rng(3)
    gaps = rng.exponential(1.0 / (MMC_LOAD * MMC_SERVERS), MMC_CUSTOMERS).tolist()
    services = rng.exponential(1.0, MMC_CUSTOMERS).tolist()
    waits = [0.0] * MMC_CUSTOMERS
    began = time.perf_counter()
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=MMC_SERVERS)

    def customer(i: int):  # type: ignore[no-untyped-def]
        arrived = env.now
        with servers.request() as request:
            yield request
            waits[i] = env.now - arrived
            yield env.timeout(services[i])

    def source():  # type: ignore[no-untyped-def]
        for i in range(MMC_CUSTOMERS):
            yield env.timeout(gaps[i])
            env.process(customer(i))

    env.process(source())
    env.run()
    return time.perf_counter() - began, float(np.mean(waits))


def main() -> None:
    elapsed, cpu, solved = engine_run()
    verdict = "PASS" if elapsed <= 30.0 else "NOT MET"
    rate = TICKETS / elapsed
    # CPU time beside wall time: on a shared machine the gap is other people's load.
    print(f"real engine: {TICKETS:,} tickets, {AGENTS} agents, {DAYS:g} days: {elapsed:.1f} s "
          f"(CPU {cpu:.1f} s; {rate:,.0f} tickets/s, {solved:,} solved) - target <= 30 s: "
          f"{verdict}")  # fmt: skip
    ours, our_wait = ours_mmc()
    peer, peer_wait = simpy_mmc()
    exact = erlang_c_wait(MMC_LOAD * MMC_SERVERS, 1.0, MMC_SERVERS)
    ratio = peer / ours
    print(f"M/M/{MMC_SERVERS} at load {MMC_LOAD}, {MMC_CUSTOMERS:,} customers: ours {ours:.2f} s "
          f"(mean wait {our_wait:.3f}), SimPy {peer:.2f} s (mean wait {peer_wait:.3f}), "
          f"Erlang C {exact:.3f}")  # fmt: skip
    print(
        f"speed-up over SimPy: {ratio:.1f}x - target >= 5x: {'PASS' if ratio >= 5 else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
