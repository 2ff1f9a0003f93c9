"""The simulation of a desk: arrivals routed by the real Router, assigned by the real
AgentPool (or a baseline), agents on shifts, SLA deadlines from the business calendars,
the escalation ladder firing on time, misrouted tickets handed on to the team that can
solve them. One seeded generator draws every handling time."""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from affroute.config import FACTORS, EscalationAction, RoutingConfig, SkillRequirement
from affroute.domain import PRIORITY_RANK, Agent, AgentStatus, Priority
from affroute.engine import AgentPool, Assignment, Router, RoutingContext, RoutingDecision, WorkItem
from affroute.sim.baseline import ANY_TEAM, BaselinePool
from affroute.sim.model import Arrival, HandlingModel, Policy, PolicyKind, SimAgent
from affroute.sla import BusinessCalendar, business_calendars

# Event kinds, and their order at equal times: capacity frees before new work arrives.
_DONE, _SHIFT, _ESCALATE, _ARRIVE, _SAMPLE = range(5)
_DAY = 86_400.0
_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STEPS = 16  # escalation steps per policy the event target can address
_DEAL = FACTORS.index("deal_value")
SEGMENTS: tuple[tuple[float, str], ...] = (
    (50_000.0, "50k+"),
    (20_000.0, "20k-50k"),
    (5_000.0, "5k-20k"),
    (0.0, "<5k"),
)
NO_DEAL = "no deal"


def deal_segment(value: float | None) -> str:
    """The deal-value segment a ticket is reported under."""
    if value is None or value <= 0:
        return NO_DEAL
    return next(name for low, name in SEGMENTS if value >= low)


@dataclass(slots=True)
class SimResult:
    """Every arrival's fate, and the desk over time. Times are hours from the first arrival."""

    policy: str
    horizon_hours: float
    created: NDArray[np.float64]
    first_response: NDArray[np.float64]  # nan: no agent has answered yet
    solved: NDArray[np.float64]  # nan: not solved by the end
    priority: list[str]  # as routed (before escalations)
    team: list[str]  # the team that held it last
    segment: list[str]
    has_sla: NDArray[np.bool_]
    first_response_due: NDArray[np.float64]
    resolution_due: NDArray[np.float64]
    escalations: NDArray[np.int64]
    misroutes: NDArray[np.int64]
    in_service: int
    waiting: int
    escalations_by_action: Counter[str] = field(default_factory=Counter)
    queue_times: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    queue_lengths: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    utilisation: dict[str, float] = field(default_factory=dict)

    @property
    def arrivals(self) -> int:
        return int(self.created.size)

    @property
    def solved_count(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.solved)))

    def breached(self) -> NDArray[np.bool_]:
        """Tickets whose SLA failed: answered or solved late, or still open past a deadline."""
        end = self.horizon_hours
        answered = np.where(np.isnan(self.first_response), end, self.first_response)
        resolved = np.where(np.isnan(self.solved), end, self.solved)
        late = (answered > self.first_response_due) | (resolved > self.resolution_due)
        return self.has_sla & late


@dataclass(frozen=True, slots=True)
class _Routed:
    """A distinct ticket (and its true team) as the Router decided it, and the work it is."""

    team: str
    priority: Priority
    score: float
    skills: tuple[SkillRequirement, ...]
    preferred: str | None
    sla: int  # index into the config's SLA policies; -1: none
    segment: str
    category: str
    expected: str | None
    work: int  # one id per (category, skill names): handling times are cached per agent
    skill_names: tuple[str, ...]


def simulate(
    arrivals: Sequence[Arrival],
    *,
    policy: Policy,
    agents: Sequence[SimAgent],
    context: RoutingContext,
    handling: HandlingModel,
    rng: np.random.Generator,
    days: float,
    sample_every: timedelta = timedelta(hours=1),
    progress: Callable[[int], None] | None = None,
) -> SimResult:
    """Run the desk for ``days`` from the first arrival; later arrivals are left out.

    Each distinct ticket object is routed once (the Router is pure: the same ticket gives
    the same decision), so a workload that repeats tickets at new times routes each once.
    """
    config = policy.config
    ordered = sorted(arrivals, key=lambda a: a.at)
    if not ordered:
        raise ValueError("no arrivals to simulate")
    start = ordered[0].at
    end = days * _DAY
    since_start = [(a.at - start) // _US for a in ordered]  # exact microseconds
    created = (np.asarray(since_start, dtype=np.int64) / 1e6).tolist()  # == total_seconds()
    count = bisect.bisect_left(created, end)
    del ordered[count:], created[count:]
    roster = [s.agent for s in agents]
    if not roster:
        raise ValueError("no agents to simulate")
    agent_index = {a.id: k for k, a in enumerate(roster)}
    if len(agent_index) != len(roster):
        raise ValueError("agent ids must be unique")
    agent_teams = [frozenset(a.teams) for a in roster]
    agent_skills = [a.skills for a in roster]
    offline = [_replace_status(a, AgentStatus.OFFLINE) for a in roster]
    pool: AgentPool | BaselinePool = (
        AgentPool(offline)
        if policy.kind is PolicyKind.ROUTER
        else BaselinePool(offline, policy.kind)
    )
    is_router = policy.kind is PolicyKind.ROUTER
    calendars = business_calendars(config.calendars)
    profile = _profiles(ordered, config, context)
    fr_due, res_due, ladder = _deadlines(
        since_start[:count], start, profile, config, calendars, end
    )
    per_ticket = len(config.sla_policies) * _STEPS  # escalation codes: ticket, policy, step

    # -- per-ticket state (plain lists: the loop touches them millions of times) ----------
    first_response = [math.nan] * count
    solved = [math.nan] * count
    priority = [p.priority for p in profile]
    team = [""] * count
    holder: list[int] = [-1] * count
    done_at = [math.nan] * count
    misrouted = [False] * count
    queued_in: list[str | None] = [None] * count
    escalations = [0] * count
    misroutes = [0] * count
    escalations_by_action: Counter[str] = Counter()
    mean_seconds: list[dict[int, float]] = [{} for _ in roster]  # per agent, per work id

    # -- agents: load while on shift, for utilisation --------------------------------------
    load = [0] * len(roster)
    online = [False] * len(roster)
    last_change = [0.0] * len(roster)
    load_time = [0.0] * len(roster)
    shift_time = [0.0] * len(roster)

    def account(k: int, now: float) -> None:
        if online[k]:
            span = now - last_change[k]
            load_time[k] += load[k] * span
            shift_time[k] += span
        last_change[k] = now

    queued_by_team: Counter[str] = Counter()
    heap: list[tuple[float, int, int, int, int]] = []
    seq = 0

    def push(at: float, kind: int, target: int) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(heap, (at, kind, seq, kind, target))

    normals = rng.standard_normal(1 << 16)
    drawn = 0

    def draw(mean_seconds: float) -> float:
        """A lognormal time with this mean (the generator's normals, drawn in blocks)."""
        nonlocal normals, drawn
        if drawn == normals.size:
            normals, drawn = rng.standard_normal(1 << 16), 0
        z = normals[drawn]
        drawn += 1
        sigma = handling.sigma
        return mean_seconds * math.exp(sigma * z - 0.5 * sigma * sigma)

    clock = (math.nan, start)  # the last instant converted: events come in bursts

    def at_time(now: float) -> datetime:
        nonlocal clock
        if clock[0] != now:
            clock = (now, start + timedelta(seconds=now))
        return clock[1]

    def handling_seconds(k: int, p: _Routed) -> float:
        known = mean_seconds[k].get(p.work)
        if known is None:
            held = agent_skills[k]
            level = max((held.get(n, 0) for n in p.skill_names), default=2)
            known = mean_seconds[k][p.work] = handling.mean_minutes(p.category, level) * 60.0
        return known

    def assigned(assignment: Assignment, now: float) -> None:
        i = int(assignment.ticket_id)
        k = agent_index[assignment.agent_id]
        waiting_team = queued_in[i]
        if waiting_team is not None:
            queued_by_team[waiting_team] -= 1
            queued_in[i] = None
        account(k, now)
        load[k] += 1
        holder[i] = k
        if math.isnan(first_response[i]):
            first_response[i] = now + handling.first_response_minutes * 60.0
        p = profile[i]
        truth = p.expected
        if truth is not None and truth not in agent_teams[k]:
            misrouted[i] = True
            took = draw(handling.misroute_minutes * 60.0)
        else:
            misrouted[i] = False
            took = draw(handling_seconds(k, p))
        done_at[i] = now + took
        push(now + took, _DONE, i)

    def offer(i: int, to_team: str, now: float, skills: tuple[SkillRequirement, ...] = ()) -> None:
        p = profile[i]
        item = WorkItem(
            ticket_id=str(i),
            team=to_team,
            priority=priority[i],
            score=p.score,
            created_at=ordered[i].at,
            skills=skills,
            preferred_agent=p.preferred,
        )
        outcome = pool.offer(item, at_time(now))
        if outcome.assignment is not None:
            assigned(outcome.assignment, now)
        else:
            queued_in[i] = to_team
            queued_by_team[to_team] += 1

    def release(i: int, now: float) -> None:
        k = holder[i]
        holder[i] = -1
        done_at[i] = math.nan
        account(k, now)
        load[k] -= 1
        for pulled in pool.release(str(i), at_time(now)):
            assigned(pulled, now)

    def withdraw(i: int) -> bool:
        waiting_team = queued_in[i]
        if waiting_team is None:
            return False
        pool.withdraw(str(i))
        queued_by_team[waiting_team] -= 1
        queued_in[i] = None
        return True

    def arrive(i: int, now: float) -> None:
        nonlocal clock
        clock = (now, ordered[i].at)  # the arrival's own datetime: no conversion
        p = profile[i]
        if is_router:
            team[i] = p.team
            offer(i, p.team, now, p.skills)
        else:
            team[i] = ANY_TEAM
            offer(i, ANY_TEAM, now)

    def done(i: int, now: float) -> None:
        if holder[i] < 0 or done_at[i] != now:
            return  # handed elsewhere since this was scheduled
        truth = profile[i].expected
        if misrouted[i] and truth is not None:
            misroutes[i] += 1
            release(i, now)
            team[i] = truth
            offer(i, truth, now)
            return
        solved[i] = now
        first_response[i] = min(first_response[i], now)  # the solving reply answers too
        if not is_router:
            team[i] = next(iter(sorted(agent_teams[holder[i]])), ANY_TEAM)
        release(i, now)

    def escalate(code: int, now: float) -> None:
        i, rest = divmod(code, per_ticket)
        policy_id, number = divmod(rest, _STEPS)
        if not math.isnan(solved[i]):
            return
        step = config.sla_policies[policy_id].escalations[number]
        escalations[i] += 1
        escalations_by_action[step.action.value] += 1
        if not is_router:
            return  # baselines have no ladder: the firing is counted, nothing moves
        if step.action is EscalationAction.RAISE_PRIORITY:
            current = PRIORITY_RANK[priority[i]]
            raised = step.priority or Priority(f"p{max(1, current - 1)}")
            if PRIORITY_RANK[raised] < current:
                priority[i] = raised
                waiting_team = queued_in[i]
                if waiting_team is not None and withdraw(i):
                    offer(i, waiting_team, now)
        elif step.action is EscalationAction.REASSIGN and step.team is not None:
            if team[i] == step.team:
                return
            if queued_in[i] is not None:
                withdraw(i)
            elif holder[i] >= 0:
                release(i, now)
            team[i] = step.team
            offer(i, step.team, now)

    # -- shifts -----------------------------------------------------------------------------
    for k, sim_agent in enumerate(agents):
        calendar = calendars.get(sim_agent.shift)
        if calendar is None:
            raise ValueError(
                f"agent {sim_agent.agent.id!r}: unknown shift calendar {sim_agent.shift!r}"
            )
        for on, off in _shifts(calendar, start, days):
            push(max(on, 0.0), _SHIFT, 2 * k + 1)
            if off < end:
                push(off, _SHIFT, 2 * k)

    def shift(code: int, now: float) -> None:
        k, on = divmod(code, 2)
        if bool(on) == online[k]:
            return
        account(k, now)
        online[k] = bool(on)
        status = AgentStatus.ONLINE if on else AgentStatus.OFFLINE
        for pulled in pool.set_status(roster[k].id, status, at_time(now)):
            assigned(pulled, now)

    samples: list[float] = []
    sampled: dict[str, list[float]] = {"all": []}
    every = sample_every.total_seconds()

    def sample(_: int, now: float) -> None:
        samples.append(now / 3600.0)
        sampled["all"].append(float(sum(queued_by_team.values())))
        for name in queued_by_team:
            sampled.setdefault(name, [0.0] * (len(samples) - 1))
        for name, values in sampled.items():
            if name != "all":
                values.append(float(queued_by_team.get(name, 0)))
        if now + every < end:
            push(now + every, _SAMPLE, 0)

    push(0.0, _SAMPLE, 0)

    handlers: dict[int, Callable[[int, float], None]] = {
        _DONE: done,
        _SHIFT: shift,
        _SAMPLE: sample,
    }
    # Arrivals and escalation steps are known in advance and already in time order, so
    # they stay out of the heap (a million pending steps would make every pop slow). The
    # loop takes whichever of the three heads sorts first as ``(time, kind)``, which is the
    # order a heap would give; a step waits for its ticket to arrive, as if scheduled then.
    arrival = step = 0
    steps = len(ladder.times)
    never = (math.inf, 0)
    now = 0.0
    while True:
        first = (heap[0][0], heap[0][1]) if heap else never
        source = 0
        if step < steps and ladder.tickets[step] < arrival:
            due = (ladder.times[step], _ESCALATE)
            if due < first:
                first, source = due, 1
        if arrival < count:
            due = (created[arrival], _ARRIVE)
            if due < first:
                first, source = due, 2
        if source == 2:
            now = first[0]
            arrive(arrival, now)
            if progress is not None and arrival % 10_000 == 0:
                progress(arrival)
            arrival += 1
        elif source == 1:
            now = first[0]
            escalate(ladder.codes[step], now)
            step += 1
        elif first[0] < end:
            now, _, _, kind, target = heapq.heappop(heap)
            handlers[kind](target, now)
        else:
            break
    for k in range(len(roster)):
        account(k, end)
    if progress is not None:
        progress(count)

    hours = 3600.0
    in_service = sum(1 for k in holder if k >= 0)
    waiting = sum(1 for q in queued_in if q is not None)
    return SimResult(
        policy=policy.name,
        horizon_hours=end / hours,
        first_response=np.asarray(first_response) / hours,
        solved=np.asarray(solved) / hours,
        priority=[p.priority.value for p in profile],
        team=team,
        segment=[p.segment for p in profile],
        has_sla=np.asarray([p.sla >= 0 for p in profile], dtype=np.bool_),
        created=np.asarray(created) / hours,
        first_response_due=fr_due / hours,
        resolution_due=res_due / hours,
        escalations=np.asarray(escalations, dtype=np.int64),
        misroutes=np.asarray(misroutes, dtype=np.int64),
        in_service=in_service,
        waiting=waiting,
        escalations_by_action=escalations_by_action,
        queue_times=np.asarray(samples),
        queue_lengths={name: np.asarray(v) for name, v in sampled.items()},
        utilisation={
            roster[k].id: load_time[k] / (shift_time[k] * roster[k].capacity)
            for k in range(len(roster))
            if shift_time[k] > 0 and roster[k].capacity > 0
        },
    )


def _profiles(
    ordered: Sequence[Arrival], config: RoutingConfig, context: RoutingContext
) -> list[_Routed]:
    """Each arrival's routing decision and work; every distinct ticket is routed once."""
    router = Router(config)
    policy_ids = {p.name: k for k, p in enumerate(config.sla_policies)}
    decisions: dict[int, RoutingDecision] = {}
    known: dict[tuple[int, str | None], _Routed] = {}
    works: dict[tuple[str, tuple[str, ...]], int] = {}
    profile: list[_Routed] = []
    for arrival in ordered:
        ticket = arrival.ticket
        found = known.get((id(ticket), arrival.true_team))
        if found is None:
            decision = decisions.get(id(ticket))
            if decision is None:
                decision = decisions[id(ticket)] = router.route(ticket, context, arrival.at)
            raw = decision.breakdown.raws[_DEAL]
            target = arrival.true_team or decision.team
            team_skills = config.teams[target].skills if target in config.teams else ()
            skill_names = tuple(s.name for s in decision.required_skills) or tuple(team_skills)
            category = ticket.category.value if ticket.category is not None else ""
            found = known[(id(ticket), arrival.true_team)] = _Routed(
                team=decision.team,
                priority=decision.priority,
                score=decision.score,
                skills=decision.required_skills,
                preferred=decision.preferred_agent,
                sla=policy_ids.get(decision.sla_policy or "", -1),
                segment=deal_segment(float(raw) if isinstance(raw, int | float) else None),
                category=category,
                expected=arrival.true_team,
                work=works.setdefault((category, skill_names), len(works)),
                skill_names=skill_names,
            )
        profile.append(found)
    return profile


@dataclass(frozen=True, slots=True)
class _Ladder:
    """Escalation steps in the order they fire: time, the ticket, and the event code."""

    times: list[float]
    tickets: list[int]
    codes: list[int]


def _deadlines(
    since_start: Sequence[int],
    start: datetime,
    profile: Sequence[_Routed],
    config: RoutingConfig,
    calendars: dict[str, BusinessCalendar],
    end: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], _Ladder]:
    """First-response and resolution deadlines (seconds from the start; inf: none) and every
    escalation step that fires before ``end``, for all arrivals at once."""
    count = len(profile)
    start_us = (start - _EPOCH) // _US
    at = np.asarray(since_start, dtype=np.int64) + start_us
    policy_of = np.fromiter((p.sla for p in profile), dtype=np.int64, count=count)
    first_response = np.full(count, math.inf)
    resolution = np.full(count, math.inf)
    per_ticket = len(config.sla_policies) * _STEPS
    fire_times: list[NDArray[np.float64]] = []
    tickets: list[NDArray[np.intp]] = []
    codes: list[NDArray[np.int64]] = []
    for k, sla in enumerate(config.sla_policies):
        rows = np.flatnonzero(policy_of == k)
        calendar = calendars[sla.calendar]

        starts = at[rows]

        def due(after: timedelta) -> NDArray[np.float64]:
            return _seconds_after(calendar.add_many(starts, after), start_us)  # noqa: B023

        first_response[rows] = due(sla.first_response)
        resolution[rows] = due(sla.resolution)
        for number, step in enumerate(sla.escalations[:_STEPS]):
            after = (
                sla.resolution * step.at_fraction
                if step.at_fraction is not None
                else step.after or timedelta(0)
            )
            fires = due(after)
            kept = fires < end
            fire_times.append(fires[kept])
            tickets.append(rows[kept])
            codes.append(rows[kept] * per_ticket + k * _STEPS + number)
    if not fire_times:
        return first_response, resolution, _Ladder([], [], [])
    fire = np.concatenate(fire_times)
    ticket = np.concatenate(tickets)
    code = np.concatenate(codes)
    # The order they would leave a heap in: by time, then as scheduled (ticket, then step).
    order = np.lexsort((code, fire))
    return (
        first_response,
        resolution,
        _Ladder(fire[order].tolist(), ticket[order].tolist(), code[order].tolist()),
    )


def _seconds_after(instants: NDArray[np.int64], start_us: int) -> NDArray[np.float64]:
    """Epoch microseconds as seconds after the start, as ``timedelta.total_seconds`` gives."""
    seconds: NDArray[np.float64] = (instants - start_us) / 1e6
    return seconds


def _offset(at: datetime, start: datetime) -> float:
    return (at - start).total_seconds()


def _shifts(calendar: BusinessCalendar, start: datetime, days: float) -> list[tuple[float, float]]:
    """Open intervals of the calendar over the run, in seconds from the start."""
    end = days * _DAY
    if calendar.always_open:
        return [(0.0, math.inf)]
    spans: list[tuple[float, float]] = []
    first = (start - timedelta(days=1)).date()
    for offset in range(math.ceil(days) + 2):
        for low, high in calendar.open_intervals(first + timedelta(days=offset)):
            a, b = _offset(low, start), _offset(high, start)
            if b > 0 and a < end:
                spans.append((a, b))
    spans.sort()
    merged: list[tuple[float, float]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _replace_status(agent: Agent, status: AgentStatus) -> Agent:
    return replace(agent, status=status)
