"""What a simulation is given: arrivals, agents with shifts, handling times, policies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from affroute.config import RoutingConfig
from affroute.domain import Agent, Ticket


@dataclass(frozen=True, slots=True)
class Arrival:
    """A ticket as it arrives; ``true_team`` is the team that can solve it, when known."""

    ticket: Ticket
    true_team: str | None = None
    arrived_at: datetime | None = None  # a replayed ticket at a new time; default: created_at

    @property
    def at(self) -> datetime:
        return self.arrived_at or self.ticket.created_at


@dataclass(frozen=True, slots=True)
class SimAgent:
    """An agent and the calendar of their shift (a calendar of the config, or ``24x7``)."""

    agent: Agent
    shift: str = "24x7"


def _levels() -> Mapping[int, float]:
    return MappingProxyType({0: 1.5, 1: 1.3, 2: 1.0, 3: 0.85, 4: 0.7, 5: 0.6})


@dataclass(frozen=True, slots=True)
class HandlingModel:
    """Handling times: lognormal around a mean per category, scaled by the agent's skill level.

    The level is the agent's best level among the ticket's required skills (or, with none,
    among the team's skills); 0 means the agent lacks them. A misrouted ticket costs the agent
    ``misroute_minutes`` (same spread) before it is handed to the team that can solve it.
    """

    minutes: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(
            {
                "commission_dispute": 90.0,
                "payout": 60.0,
                "tracking_attribution": 120.0,
                "lead_quality": 75.0,
                "campaign_performance": 60.0,
                "creative_request": 45.0,
                "compliance": 90.0,
                "account_access": 30.0,
            }
        )
    )
    default_minutes: float = 60.0
    sigma: float = 0.8
    level_factor: Mapping[int, float] = field(default_factory=_levels)
    first_response_minutes: float = 10.0
    misroute_minutes: float = 20.0

    def mean_minutes(self, category: str | None, level: int) -> float:
        base = self.minutes.get(category or "", self.default_minutes)
        clipped = max(0, min(level, max(self.level_factor)))
        return base * self.level_factor.get(clipped, 1.0)


class PolicyKind(StrEnum):
    ROUTER = "router"  # the real Router and AgentPool under a configuration
    FIFO = "fifo"  # one queue in arrival order, to the first agent of the roster with room
    ROUND_ROBIN = "round_robin"  # one queue in arrival order, agents in turn
    LEAST_LOADED = "least_loaded"  # one queue in arrival order, the least loaded agent


BASELINES = (PolicyKind.FIFO, PolicyKind.ROUND_ROBIN, PolicyKind.LEAST_LOADED)


@dataclass(frozen=True, slots=True)
class Policy:
    """A way to route: a configuration driven through the engine, or a baseline.

    A baseline still reads priorities and SLA policies from its ``config`` to be measured
    on the same targets, but ignores teams, skills and priorities when it assigns.
    """

    name: str
    kind: PolicyKind
    config: RoutingConfig
