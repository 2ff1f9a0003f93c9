"""The baseline desks: one queue in arrival order, no teams, skills or priorities.

They offer the same few calls as ``AgentPool`` that the simulator uses, so both run on the
same loop. A ticket handed on after a misroute is the one kind that waits for a given team.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from affroute.domain import Agent, AgentStatus
from affroute.engine import Assignment, Outcome, WorkItem
from affroute.sim.model import PolicyKind

ANY_TEAM = "*"


class BaselinePool:
    """FIFO to the first agent with room, round robin, or least loaded: priorities ignored."""

    def __init__(self, agents: Iterable[Agent], kind: PolicyKind) -> None:
        self.kind = kind
        self.roster = list(agents)
        self.teams = [frozenset(a.teams) for a in self.roster]
        self.capacity = [a.capacity for a in self.roster]
        self.online = [a.status is AgentStatus.ONLINE for a in self.roster]
        self.load = [0] * len(self.roster)
        self.index = {a.id: i for i, a in enumerate(self.roster)}
        self.waiting: dict[str, WorkItem] = {}  # insertion order is arrival order
        self.holder: dict[str, int] = {}
        self._turn = 0

    def _fits(self, agent: int, item: WorkItem) -> bool:
        return (
            self.online[agent]
            and self.load[agent] < self.capacity[agent]
            and (item.team == ANY_TEAM or item.team in self.teams[agent])
        )

    def _pick(self, item: WorkItem) -> int | None:
        count = len(self.roster)
        if self.kind is PolicyKind.ROUND_ROBIN:
            for step in range(count):
                agent = (self._turn + step) % count
                if self._fits(agent, item):
                    self._turn = agent + 1
                    return agent
            return None
        fitting = (a for a in range(count) if self._fits(a, item))
        if self.kind is PolicyKind.FIFO:
            return next(fitting, None)
        return min(fitting, key=lambda a: (self.load[a] / self.capacity[a], a), default=None)

    def _give(self, agent: int, item: WorkItem) -> Assignment:
        self.load[agent] += 1
        self.holder[item.ticket_id] = agent
        return Assignment(item.ticket_id, self.roster[agent].id, item.team, self.kind.value)

    def offer(self, item: WorkItem, now: datetime) -> Outcome:
        agent = self._pick(item)
        if agent is not None:
            return Outcome(self._give(agent, item))
        self.waiting[item.ticket_id] = item
        return Outcome(None, len(self.waiting), "every agent is busy")

    def _pull(self, agent: int) -> list[Assignment]:
        room = self.capacity[agent] - self.load[agent] if self.online[agent] else 0
        chosen: list[WorkItem] = []
        for item in self.waiting.values():  # stops at the first items that fit: no copy
            if len(chosen) >= room:
                break
            if item.team == ANY_TEAM or item.team in self.teams[agent]:
                chosen.append(item)
        for item in chosen:
            del self.waiting[item.ticket_id]
        return [self._give(agent, item) for item in chosen]

    def release(self, ticket_id: str, now: datetime) -> list[Assignment]:
        agent = self.holder.pop(ticket_id, None)
        if agent is None:
            self.waiting.pop(ticket_id, None)
            return []
        self.load[agent] -= 1
        return self._pull(agent)

    def withdraw(self, ticket_id: str) -> bool:
        return self.waiting.pop(ticket_id, None) is not None

    def set_status(self, agent_id: str, status: AgentStatus, now: datetime) -> list[Assignment]:
        agent = self.index[agent_id]
        self.online[agent] = status is AgentStatus.ONLINE
        return self._pull(agent) if self.online[agent] else []

    def queued_count(self) -> int:
        return len(self.waiting)
