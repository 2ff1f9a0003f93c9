"""Skills- and workload-aware assignment and the waiting queues."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from affroute.config import SkillRequirement
from affroute.domain import Agent, AgentStatus, Priority
from affroute.engine import AgentPool, WorkItem
from tests.conftest import T0


def agent(agent_id: str, capacity: int = 2, team: str = "t", **kw: object) -> Agent:
    return Agent(agent_id, agent_id.upper(), (team,), capacity=capacity, **kw)  # type: ignore[arg-type]


def item(
    ticket_id: str,
    priority: Priority = Priority.P3,
    score: float = 50,
    minutes: int = 0,
    **kw: object,
) -> WorkItem:
    return WorkItem(
        ticket_id, kw.pop("team", "t"), priority, score, T0 + timedelta(minutes=minutes), **kw
    )  # type: ignore[arg-type]


def test_least_loaded_wins_then_idle_longest() -> None:
    pool = AgentPool([agent("a", capacity=4), agent("b", capacity=2)])
    first = pool.offer(item("1"), T0).assignment
    assert first is not None and first.agent_id == "a"  # both empty: a listed first, never assigned
    second = pool.offer(item("2"), T0 + timedelta(minutes=1)).assignment
    assert second is not None and second.agent_id == "b"  # a is at 1/4, b never assigned
    third = pool.offer(item("3"), T0 + timedelta(minutes=2)).assignment
    assert third is not None and third.agent_id == "a"  # a 1/4 < b 1/2


def test_ties_go_to_the_agent_idle_longest() -> None:
    pool = AgentPool([agent("a", capacity=3), agent("b", capacity=3)])
    pool.offer(item("1"), T0)  # a
    pool.offer(item("2"), T0 + timedelta(minutes=5))  # b
    pool.release("1", T0 + timedelta(minutes=6))
    pool.release("2", T0 + timedelta(minutes=6))
    nxt = pool.offer(item("3"), T0 + timedelta(minutes=7)).assignment
    assert nxt is not None and nxt.agent_id == "a"  # a's last assignment is older


def test_skills_offline_and_capacity_are_respected() -> None:
    pool = AgentPool(
        [
            agent("novice", skills={"payouts": 1}),
            agent("expert", skills={"payouts": 3}),
            agent("away", skills={"payouts": 5}, status=AgentStatus.AWAY),
        ]
    )
    needs = (SkillRequirement("payouts", 2),)
    got = [pool.offer(item(str(i), skills=needs), T0).assignment for i in range(3)]
    assert [g.agent_id if g else None for g in got] == ["expert", "expert", None]
    outcome = pool.offer(item("x", skills=(SkillRequirement("german", 1),)), T0)
    assert outcome.assignment is None
    assert "no agent of 't' has the skills german>=1" in outcome.reason


def test_queue_orders_by_priority_then_score_then_age() -> None:
    pool = AgentPool([agent("a", capacity=0)])
    pool.offer(item("old-p3", Priority.P3, minutes=0), T0)
    pool.offer(item("p1", Priority.P1, minutes=5), T0)
    pool.offer(item("new-p3-high", Priority.P3, score=60, minutes=9), T0)
    pool.offer(item("new-p3", Priority.P3, minutes=10), T0)
    assert [w.ticket_id for w in pool.queue("t")] == ["p1", "new-p3-high", "old-p3", "new-p3"]
    assert pool.queue_position("new-p3") == 4


def test_freed_capacity_and_coming_online_pull_from_the_queue() -> None:
    pool = AgentPool([agent("a", capacity=1), agent("b", capacity=1, status=AgentStatus.OFFLINE)])
    assert pool.offer(item("1"), T0).assignment is not None
    assert pool.offer(item("2", Priority.P4), T0).assignment is None
    assert pool.offer(item("3", Priority.P1), T0).assignment is None
    pulled = pool.set_status("b", AgentStatus.ONLINE, T0)
    assert [(p.ticket_id, p.agent_id) for p in pulled] == [("3", "b")]
    pulled = pool.release("1", T0)
    assert [(p.ticket_id, p.agent_id) for p in pulled] == [("2", "a")]
    assert pool.queued_count() == 0


def test_pull_skips_tickets_the_agent_lacks_skills_for() -> None:
    pool = AgentPool([agent("a", capacity=0, skills={"general": 1})])
    pool.offer(item("needs-german", Priority.P1, skills=(SkillRequirement("german"),)), T0)
    pool.offer(item("plain", Priority.P4), T0)
    pulled = pool.set_capacity("a", 5, T0)
    assert [p.ticket_id for p in pulled] == ["plain"]
    assert [w.ticket_id for w in pool.queue("t")] == ["needs-german"]


def test_preferred_agent_is_used_when_eligible() -> None:
    pool = AgentPool([agent("a", capacity=5), agent("am", capacity=5)])
    pool.offer(item("0"), T0)
    pool.offer(item("1"), T0)
    got = pool.offer(item("2", preferred_agent="am"), T0).assignment
    assert got is not None and got.agent_id == "am" and got.reason == "partner's account manager"


def test_withdrawn_tickets_leave_the_queue() -> None:
    pool = AgentPool([agent("a", capacity=0)])
    pool.offer(item("1"), T0)
    assert pool.withdraw("1")
    assert pool.set_capacity("a", 3, T0) == []


class PoolMachine(RuleBasedStateMachine):
    """Random offers, releases, presence and capacity changes never break the invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = AgentPool(
            [
                Agent(
                    f"a{i}",
                    f"A{i}",
                    (("t1", "t2") if i % 2 else ("t1",)),
                    {"s": i % 3},
                    capacity=i % 4,
                )
                for i in range(5)
            ]
        )
        self.now = T0
        self.next_id = 0
        self.offered: set[str] = set()
        self.released: set[str] = set()
        self.caps_at_assignment: dict[str, int] = {}

    def _record(self, agent_ids: list[str]) -> None:
        for agent_id in agent_ids:
            state = self.pool.agents[agent_id]
            assert state.load <= state.capacity
            assert state.status is AgentStatus.ONLINE

    @rule(
        team=st.sampled_from(["t1", "t2"]),
        priority=st.sampled_from(list(Priority)),
        level=st.integers(0, 2),
    )
    def offer(self, team: str, priority: Priority, level: int) -> None:
        self.next_id += 1
        ticket_id = f"x{self.next_id}"
        skills = (SkillRequirement("s", level),) if level else ()
        outcome = self.pool.offer(
            WorkItem(ticket_id, team, priority, 50.0, self.now, skills), self.now
        )
        self.offered.add(ticket_id)
        if outcome.assignment:
            self._record([outcome.assignment.agent_id])

    @precondition(lambda self: bool(self.offered - self.released))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        ticket_id = data.draw(st.sampled_from(sorted(self.offered - self.released)))
        self.released.add(ticket_id)
        self._record([a.agent_id for a in self.pool.release(ticket_id, self.now)])

    @rule(
        agent_id=st.sampled_from([f"a{i}" for i in range(5)]),
        status=st.sampled_from(list(AgentStatus)),
    )
    def presence(self, agent_id: str, status: AgentStatus) -> None:
        self._record([a.agent_id for a in self.pool.set_status(agent_id, status, self.now)])

    @rule(agent_id=st.sampled_from([f"a{i}" for i in range(5)]), capacity=st.integers(0, 4))
    def capacity(self, agent_id: str, capacity: int) -> None:
        state = self.pool.agents[agent_id]
        if capacity < state.load:
            return  # lowering below the current load is allowed but not what we test here
        self._record([a.agent_id for a in self.pool.set_capacity(agent_id, capacity, self.now)])

    @invariant()
    def every_ticket_is_held_queued_or_released(self) -> None:
        held = {t for a in self.pool.agents.values() for t in a.tickets}
        queued = {w.ticket_id for team in ("t1", "t2") for w in self.pool.queue(team)}
        assert not held & queued
        assert held | queued | self.released == self.offered
        for state in self.pool.agents.values():
            assert state.load == len(state.tickets) <= max(state.capacity, state.load)
            assert state.load <= state.capacity

    @invariant()
    def ready_lists_hold_exactly_the_agents_who_can_work(self) -> None:
        for team in ("t1", "t2"):
            members = [a for a in self.pool.agents.values() if team in a.teams]
            expected = sorted(k for a in members if (k := a.ready_key()) is not None)
            assert self.pool._ready.get(team, []) == expected


TestPoolMachine = PoolMachine.TestCase
TestPoolMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
