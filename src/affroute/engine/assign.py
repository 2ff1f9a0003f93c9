"""Skills- and workload-aware assignment with per-team waiting queues, in memory.

Among online agents of the team that hold the required skills and have free capacity,
the least loaded (open tickets / capacity) wins; ties go to the agent idle longest. When
nobody qualifies the ticket waits in its team's queue, ordered by priority, then score
(highest first), then age, and is pulled as soon as an agent can take it. Capacity is
never exceeded. The service and the simulator both drive this same code.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from affroute.config import SkillRequirement
from affroute.domain import PRIORITY_RANK, Agent, AgentStatus, Priority


@dataclass(frozen=True, slots=True)
class WorkItem:
    """A routed ticket looking for an agent."""

    ticket_id: str
    team: str
    priority: Priority
    score: float
    created_at: datetime
    skills: tuple[SkillRequirement, ...] = ()
    preferred_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    ticket_id: str
    agent_id: str
    team: str
    reason: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to an offered ticket: an assignment, or queued with the reason."""

    assignment: Assignment | None
    queue_position: int | None = None
    reason: str = ""


@dataclass(slots=True)
class AgentState:
    id: str
    teams: tuple[str, ...]
    skills: dict[str, int]
    capacity: int
    status: AgentStatus
    load: int = 0
    # When the agent last received a ticket; never (None) counts as idle the longest.
    last_assigned: datetime | None = None
    tickets: set[str] = field(default_factory=set)
    order: int = 0  # position in the pool: the last tie-breaker
    key: tuple[float, float, int, str] | None = None  # place in the teams' ready lists

    def ready_key(self) -> tuple[float, float, int, str] | None:
        """Sort key among agents ready for work (less loaded, then idle longer), or None."""
        if self.status is not AgentStatus.ONLINE or self.load >= self.capacity:
            return None
        idle_since = self.last_assigned.timestamp() if self.last_assigned else float("-inf")
        return (self.load / self.capacity, idle_since, self.order, self.id)

    def can_take(self, skills: Sequence[SkillRequirement]) -> bool:
        if self.status is not AgentStatus.ONLINE or self.load >= self.capacity:
            return False
        return _has_skills(self, skills)


@dataclass(order=True, slots=True)
class _Entry:
    rank: int
    neg_score: float
    created_at: datetime
    seq: int
    item: WorkItem = field(compare=False)


class UnknownAgentError(KeyError):
    """The agent id is not in the pool."""


class AgentPool:
    """Agents, their load, and the waiting queue of each team."""

    def __init__(self, agents: Iterable[Agent]) -> None:
        self.agents: dict[str, AgentState] = {}
        self._by_team: dict[str, list[AgentState]] = {}
        # Per team, the agents ready for work (online, below capacity), best first, so
        # choosing reads the head instead of scanning every member.
        self._ready: dict[str, list[tuple[float, float, int, str]]] = {}
        self._queues: dict[str, list[_Entry]] = {}
        self._queued: dict[str, _Entry] = {}  # live entries; heap entries not here are stale
        self._holder: dict[str, str] = {}  # ticket id -> agent id
        self._seq = 0
        for agent in agents:
            self.add_agent(agent)

    def add_agent(
        self, agent: Agent, *, load: int | None = None, last_assigned: datetime | None = None
    ) -> None:
        """Add (or replace) an agent; ``load`` restores a count of open tickets held elsewhere.

        A replaced agent keeps its open tickets unless ``load`` is given.
        """
        old = self.agents.get(agent.id)
        if old is not None:
            self._unready(old)
            for team in old.teams:
                self._by_team[team].remove(old)
        state = AgentState(agent.id, agent.teams, dict(agent.skills), agent.capacity, agent.status)
        state.order = old.order if old is not None else len(self.agents)
        if old is not None:
            state.load, state.tickets, state.last_assigned = (
                old.load,
                old.tickets,
                old.last_assigned,
            )
        if load is not None:
            state.load, state.last_assigned = load, last_assigned
        self.agents[agent.id] = state
        for team in agent.teams:
            self._by_team.setdefault(team, []).append(state)
        self._reindex(state)

    def _unready(self, agent: AgentState) -> None:
        if agent.key is not None:
            for team in agent.teams:
                ready = self._ready[team]
                del ready[bisect.bisect_left(ready, agent.key)]
            agent.key = None

    def _reindex(self, agent: AgentState) -> None:
        """Put the agent at its place in its teams' ready lists after any change."""
        self._unready(agent)
        agent.key = agent.ready_key()
        if agent.key is not None:
            for team in agent.teams:
                bisect.insort(self._ready.setdefault(team, []), agent.key)

    def _agent(self, agent_id: str) -> AgentState:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise UnknownAgentError(agent_id) from None

    # -- assignment -------------------------------------------------------------------

    def choose(self, item: WorkItem) -> tuple[AgentState | None, str]:
        """The agent that should take the item now, and why (or why nobody can)."""
        if item.preferred_agent is not None:
            preferred = self.agents.get(item.preferred_agent)
            if (
                preferred is not None
                and item.team in preferred.teams
                and preferred.can_take(item.skills)
            ):
                return preferred, "partner's account manager"
        for key in self._ready.get(item.team, ()):
            agent = self.agents[key[3]]
            if not item.skills or _has_skills(agent, item.skills):
                return agent, f"least loaded ({agent.load}/{agent.capacity}) of the eligible agents"
        return None, self._why_nobody(item, self._by_team.get(item.team, ()))

    @staticmethod
    def _why_nobody(item: WorkItem, members: Sequence[AgentState]) -> str:
        if not members:
            return f"team {item.team!r} has no agents"
        skilled = [
            a for a in members if all(a.skills.get(r.name, 0) >= r.level for r in item.skills)
        ]
        if not skilled:
            wanted = ", ".join(f"{r.name}>={r.level}" for r in item.skills)
            return f"no agent of {item.team!r} has the skills {wanted}"
        online = [a for a in skilled if a.status is AgentStatus.ONLINE]
        if not online:
            return f"no skilled agent of {item.team!r} is online"
        return f"all {len(online)} online skilled agents of {item.team!r} are at capacity"

    def offer(self, item: WorkItem, now: datetime) -> Outcome:
        """Assign the item now if someone can take it, else queue it."""
        if item.ticket_id in self._holder or item.ticket_id in self._queued:
            raise ValueError(f"ticket {item.ticket_id!r} is already assigned or queued")
        agent, reason = self.choose(item)
        if agent is not None:
            return Outcome(self._give(agent, item, reason, now))
        self._enqueue(item)
        return Outcome(None, self.queue_position(item.ticket_id), reason)

    def _give(self, agent: AgentState, item: WorkItem, reason: str, now: datetime) -> Assignment:
        agent.load += 1
        agent.last_assigned = now
        agent.tickets.add(item.ticket_id)
        self._holder[item.ticket_id] = agent.id
        self._reindex(agent)
        return Assignment(item.ticket_id, agent.id, item.team, reason)

    # -- queues -----------------------------------------------------------------------

    def _enqueue(self, item: WorkItem) -> None:
        self._seq += 1
        entry = _Entry(PRIORITY_RANK[item.priority], -item.score, item.created_at, self._seq, item)
        self._queued[item.ticket_id] = entry
        heapq.heappush(self._queues.setdefault(item.team, []), entry)

    def queue(self, team: str) -> list[WorkItem]:
        """The team's waiting tickets, next first."""
        live = [e for e in self._queues.get(team, ()) if self._queued.get(e.item.ticket_id) is e]
        return [e.item for e in sorted(live)]

    def queue_position(self, ticket_id: str) -> int | None:
        """1-based place of a waiting ticket in its team queue."""
        entry = self._queued.get(ticket_id)
        if entry is None:
            return None
        heap = self._queues[entry.item.team]
        return 1 + sum(1 for e in heap if e < entry and self._queued.get(e.item.ticket_id) is e)

    def queued_count(self) -> int:
        return len(self._queued)

    def _next_for(self, agent: AgentState) -> _Entry | None:
        """The best live queued entry across the agent's teams that the agent may take."""
        best: _Entry | None = None
        for team in agent.teams:
            heap = self._queues.get(team)
            if not heap:
                continue
            skipped: list[_Entry] = []
            found: _Entry | None = None
            while heap:
                entry = heapq.heappop(heap)
                if self._queued.get(entry.item.ticket_id) is not entry:
                    continue  # stale: already taken or withdrawn
                skipped.append(entry)
                if agent.can_take(entry.item.skills):
                    found = entry
                    break
            for entry in skipped:
                heapq.heappush(heap, entry)
            if found is not None and (best is None or found < best):
                best = found
        return best

    def _pull(self, agent: AgentState, now: datetime) -> list[Assignment]:
        taken: list[Assignment] = []
        while agent.can_take(()):
            entry = self._next_for(agent)
            if entry is None:
                break
            del self._queued[entry.item.ticket_id]
            taken.append(self._give(agent, entry.item, "pulled from the team queue", now))
        return taken

    def withdraw(self, ticket_id: str) -> bool:
        """Take a waiting ticket out of its queue (closed or merged while waiting)."""
        return self._queued.pop(ticket_id, None) is not None

    # -- changes that free capacity ---------------------------------------------------

    def release(self, ticket_id: str, now: datetime) -> list[Assignment]:
        """The ticket no longer counts against its agent; the agent pulls from its queues."""
        agent_id = self._holder.pop(ticket_id, None)
        if agent_id is None:
            self.withdraw(ticket_id)
            return []
        agent = self.agents[agent_id]
        agent.load -= 1
        agent.tickets.discard(ticket_id)
        self._reindex(agent)
        return self._pull(agent, now)

    def set_status(self, agent_id: str, status: AgentStatus, now: datetime) -> list[Assignment]:
        """Change presence; an agent coming online pulls queued tickets up to capacity."""
        agent = self._agent(agent_id)
        agent.status = status
        self._reindex(agent)
        return self._pull(agent, now) if status is AgentStatus.ONLINE else []

    def set_capacity(self, agent_id: str, capacity: int, now: datetime) -> list[Assignment]:
        """Change capacity; open tickets above a lowered capacity stay until released."""
        if capacity < 0:
            raise ValueError("capacity must be 0 or more")
        agent = self._agent(agent_id)
        agent.capacity = capacity
        self._reindex(agent)
        return self._pull(agent, now)

    def holder(self, ticket_id: str) -> str | None:
        return self._holder.get(ticket_id)


def _has_skills(agent: AgentState, skills: Sequence[SkillRequirement]) -> bool:
    held = agent.skills
    return all(held.get(req.name, 0) >= req.level for req in skills)
