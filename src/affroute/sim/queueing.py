"""Pure queueing on the event core (M/M/c; M/M/1 with non-preemptive priorities) and the
formulas they must match: Erlang C and Cobham's. Validation, and the speed benchmark."""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from affroute.sim.kernel import EventQueue

_ARRIVAL, _DEPARTURE = 0, 1


@dataclass(frozen=True, slots=True)
class QueueRun:
    """Waiting times in queue (before service) of the customers counted after the warm-up."""

    waits: NDArray[np.float64]
    classes: NDArray[np.int64]  # priority class per counted customer (0 is served first)

    @property
    def mean_wait(self) -> float:
        return float(self.waits.mean())

    def mean_wait_of(self, klass: int) -> float:
        return float(self.waits[self.classes == klass].mean())


def erlang_c_wait(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C probability of waiting over c*mu - lambda)."""
    offered = arrival_rate / service_rate
    if offered >= servers:
        raise ValueError(f"load {offered / servers:.3f} >= 1: the queue grows without bound")
    # The Erlang B recursion is stable for any c; Erlang C follows from it.
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered * blocking / (k + offered * blocking)
    rho = offered / servers
    waiting = blocking / (1.0 - rho + rho * blocking)
    return waiting / (servers * service_rate - arrival_rate)


def cobham_waits(arrival_rates: Sequence[float], service_rate: float) -> list[float]:
    """Mean wait in queue per class of M/M/1 with non-preemptive priorities (class 0 first).

    Cobham (1954): W_k = W0 / ((1 - s_{k-1}) (1 - s_k)), s_k the load of classes 0..k and
    W0 = sum(lambda_i E[S^2]) / 2 the mean residual work found in service.
    """
    loads = [rate / service_rate for rate in arrival_rates]
    if sum(loads) >= 1.0:
        raise ValueError(f"load {sum(loads):.3f} >= 1: the queue grows without bound")
    residual = sum(rate * 2.0 / service_rate**2 for rate in arrival_rates) / 2.0
    waits, above = [], 0.0
    for load in loads:
        waits.append(residual / ((1.0 - above) * (1.0 - above - load)))
        above += load
    return waits


def simulate_mmc(
    arrival_rate: float,
    service_rate: float,
    servers: int,
    customers: int,
    rng: np.random.Generator,
    *,
    warmup: int = 0,
) -> QueueRun:
    """M/M/c, first come first served: ``customers`` arrivals, the first ``warmup`` not counted."""
    arrivals, services = _draws(arrival_rate, service_rate, customers, rng)
    waits = fcfs_waits(arrivals, services.tolist(), servers)
    counted = np.asarray(waits[warmup:], dtype=np.float64)
    return QueueRun(counted, np.zeros(counted.size, dtype=np.int64))


def _draws(
    arrival_rate: float, service_rate: float, customers: int, rng: np.random.Generator
) -> tuple[list[float], NDArray[np.float64]]:
    gaps = rng.exponential(1.0 / arrival_rate, customers)
    services = rng.exponential(1.0 / service_rate, customers)
    return np.cumsum(gaps).tolist(), services


def fcfs_waits(arrivals: list[float], service: list[float], servers: int) -> list[float]:
    """Each customer's wait in a first-come-first-served queue with ``servers`` servers."""
    customers = len(arrivals)
    waits = [0.0] * customers
    if not customers:
        return waits
    events = EventQueue()
    heap = events.heap  # the hot loop pushes and pops the core's heap directly
    push, pop = heapq.heappush, heapq.heappop
    waiting: deque[int] = deque()
    busy = 0
    seq = 0
    push(heap, (arrivals[0], 0, seq, _ARRIVAL, 0))
    while heap:
        now, _, _, kind, who = pop(heap)
        seq += 1
        if kind == _ARRIVAL:
            if who + 1 < customers:
                push(heap, (arrivals[who + 1], 0, seq, _ARRIVAL, who + 1))
                seq += 1
            if busy < servers:
                busy += 1
                push(heap, (now + service[who], 0, seq, _DEPARTURE, who))
            else:
                waiting.append(who)
        elif waiting:
            nxt = waiting.popleft()
            waits[nxt] = now - arrivals[nxt]
            push(heap, (now + service[nxt], 0, seq, _DEPARTURE, nxt))
        else:
            busy -= 1
    return waits


@dataclass(frozen=True, slots=True)
class Check:
    """A simulated mean wait against its formula, over independent seeds.

    ``plain`` is the average of the seeds' mean waits. ``controlled`` subtracts a control
    variate: the same draws fed to a queue whose mean wait is known exactly (one server
    ``servers`` times as fast for M/M/c; first come first served for priorities), scaled by
    the coefficient fitted over the seeds. Both estimate the same mean; the control removes
    most of the noise of heavy load, so 2% can be asserted at 0.95 in seconds.
    """

    exact: float
    plain: float
    plain_se: float
    controlled: float
    controlled_se: float

    @property
    def plain_error(self) -> float:
        return relative_error(self.plain, self.exact)

    @property
    def error(self) -> float:
        return relative_error(self.controlled, self.exact)


def _check(
    exact: float, target: NDArray[np.float64], control: NDArray[np.float64], control_exact: float
) -> Check:
    seeds = target.size
    if seeds < 3:
        raise ValueError("a check needs at least 3 seeds to estimate its own error")
    cov = np.cov(target, control)
    beta = float(cov[0, 1] / cov[1, 1]) if cov[1, 1] > 0 else 0.0
    adjusted = target - beta * (control - control_exact)
    return Check(
        exact=exact,
        plain=float(target.mean()),
        plain_se=float(target.std(ddof=1) / math.sqrt(seeds)),
        controlled=float(adjusted.mean()),
        # one degree of freedom more is spent on the fitted coefficient
        controlled_se=float(adjusted.std(ddof=2) / math.sqrt(seeds)),
    )


def check_erlang_c(
    load: float,
    servers: int,
    customers: int,
    seeds: int,
    *,
    service_rate: float = 1.0,
    warmup: int = 0,
    seed: int = 0,
) -> Check:
    """Simulated M/M/c mean wait against Erlang C over ``seeds`` independent runs."""
    arrival_rate = load * servers * service_rate
    target, control = [], []
    for rng in _streams(seed, seeds):
        arrivals, services = _draws(arrival_rate, service_rate, customers, rng)
        target.append(np.mean(fcfs_waits(arrivals, services.tolist(), servers)[warmup:]))
        fast = (services / servers).tolist()
        control.append(np.mean(fcfs_waits(arrivals, fast, 1)[warmup:]))
    fast_exact = erlang_c_wait(arrival_rate, service_rate * servers, 1)
    return _check(
        erlang_c_wait(arrival_rate, service_rate, servers),
        np.asarray(target),
        np.asarray(control),
        fast_exact,
    )


def _streams(seed: int, count: int) -> list[np.random.Generator]:
    """Independent generators for the seeds of one check (spawned, not seed + i)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(count)]


def simulate_mm1_priority(
    arrival_rates: Sequence[float],
    service_rate: float,
    customers: int,
    rng: np.random.Generator,
    *,
    warmup: int = 0,
) -> QueueRun:
    """M/M/1 with non-preemptive priorities: class 0 is served first, FIFO within a class."""
    arrivals, services, klass = _priority_draws(arrival_rates, service_rate, customers, rng)
    waits = priority_waits(arrivals, services.tolist(), klass.tolist(), len(arrival_rates))
    return QueueRun(np.asarray(waits[warmup:]), klass[warmup:].astype(np.int64))


def _priority_draws(
    arrival_rates: Sequence[float], service_rate: float, customers: int, rng: np.random.Generator
) -> tuple[list[float], NDArray[np.float64], NDArray[np.int64]]:
    rates = np.asarray(arrival_rates, dtype=np.float64)
    total = float(rates.sum())
    arrivals, services = _draws(total, service_rate, customers, rng)
    klass = rng.choice(rates.size, size=customers, p=rates / total)
    return arrivals, services, klass


def priority_waits(
    arrivals: list[float], service: list[float], classes: list[int], levels: int
) -> list[float]:
    """Each customer's wait at one server that takes the lowest class first, non-preemptive."""
    customers = len(arrivals)
    waits = [0.0] * customers
    if not customers:
        return waits
    queues: list[deque[int]] = [deque() for _ in range(levels)]
    events = EventQueue()
    heap = events.heap
    push, pop = heapq.heappush, heapq.heappop
    busy = False
    seq = 0
    push(heap, (arrivals[0], 0, seq, _ARRIVAL, 0))
    while heap:
        now, _, _, kind, who = pop(heap)
        seq += 1
        if kind == _ARRIVAL:
            if who + 1 < customers:
                push(heap, (arrivals[who + 1], 0, seq, _ARRIVAL, who + 1))
                seq += 1
            if busy:
                queues[classes[who]].append(who)
            else:
                busy = True
                push(heap, (now + service[who], 0, seq, _DEPARTURE, who))
            continue
        for queue in queues:
            if queue:
                nxt = queue.popleft()
                waits[nxt] = now - arrivals[nxt]
                push(heap, (now + service[nxt], 0, seq, _DEPARTURE, nxt))
                break
        else:
            busy = False
    return waits


def check_cobham(
    arrival_rates: Sequence[float],
    customers: int,
    seeds: int,
    *,
    service_rate: float = 1.0,
    warmup: int = 0,
    seed: int = 0,
) -> list[Check]:
    """Simulated M/M/1 priority waits per class against Cobham's formula, over seeds.

    The control is the same draws served first come first served (M/M/1, known exactly).
    """
    levels = len(arrival_rates)
    target: list[list[float]] = [[] for _ in range(levels)]
    control = []
    for rng in _streams(seed, seeds):
        arrivals, services, klass = _priority_draws(arrival_rates, service_rate, customers, rng)
        service = services.tolist()
        waits = np.asarray(priority_waits(arrivals, service, klass.tolist(), levels)[warmup:])
        counted = klass[warmup:]
        for level in range(levels):
            target[level].append(float(waits[counted == level].mean()))
        control.append(float(np.mean(fcfs_waits(arrivals, service, 1)[warmup:])))
    total = float(sum(arrival_rates))
    fcfs_exact = erlang_c_wait(total, service_rate, 1)
    return [
        _check(exact, np.asarray(target[level]), np.asarray(control), fcfs_exact)
        for level, exact in enumerate(cobham_waits(arrival_rates, service_rate))
    ]


def relative_error(simulated: float, exact: float) -> float:
    return abs(simulated - exact) / exact if exact else math.inf
