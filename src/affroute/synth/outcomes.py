"""Outcomes for a generated program: route it with the real engine, then draw satisfaction.

The tickets are replayed in arrival order through `Router` and an `AgentPool`: an agent
holds a ticket while working it and pulls the next one from the team queue when done, so
waits come from the real queue order (priority, then score). Satisfaction then depends on
the routing, with noise:

- the right team (the ground truth of `true_team_for`) scores best; a senior team handling
  another team's ticket costs a little; any other team costs a lot, the ticket bounces
  (reassigned) and takes longer;
- waiting costs CSAT per hour, more for tickets whose hidden delay sensitivity is high.
  The sensitivity is a weighted sum of the score's own factors, so a priority score with
  those weights orders each queue best (`BETTER_WEIGHTS`);
- seasonal-campaign tickets from top-engagement partners are hurt most when they miss the
  promotions team.

All random draws are made up front, one per ticket, so two configurations replayed with
the same seed differ only through their routing.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from affroute.config import FACTORS, RoutingConfig
from affroute.domain import PromotionType, Urgency
from affroute.engine import AgentPool, Facts, Router, RoutingContext, RoutingDecision, enrich
from affroute.feedback.outcomes import EngagementBand, TicketOutcome, engagement_band, outcome_of
from affroute.sla import business_calendars
from affroute.synth.generator import AffiliateProgram

SENIOR_TEAMS = frozenset({"senior_support", "senior_managers"})
# The hidden delay sensitivity of a ticket: these weights on the factor values. A score
# with the same (relative) weights serves the most sensitive tickets first.
BETTER_WEIGHTS: dict[str, float] = {
    "deal_value": 0.55,
    "engagement": 0.15,
    "lead_volume": 0.0,
    "urgency": 0.25,
    "attribution_anomaly": 0.05,
}
_DEAL_FLOOR, _DEAL_CAP = 500.0, 50_000.0
_URGENCY_LEVEL = {Urgency.LOW: 0.1, Urgency.NORMAL: 0.5, Urgency.HIGH: 0.8, Urgency.URGENT: 1.0}


@dataclass(frozen=True, slots=True)
class SatisfactionModel:
    """How routing turns into outcomes; CSAT is a rounded latent score, clipped to 1..5."""

    base: float = 4.6
    senior_penalty: float = 0.3
    misroute_penalty: float = 1.8
    top_seasonal_penalty: float = 1.0  # extra, when such a ticket misses promotions
    reopen_penalty: float = 0.6
    wait_cost_per_hour: float = 0.12  # CSAT per hour of waiting at sensitivity 1
    sensitivity: dict[str, float] = field(default_factory=lambda: dict(BETTER_WEIGHTS))
    noise: float = 0.6
    response_rate: float = 0.45
    nps_share: float = 0.85  # of the responses that also give an NPS
    handling_hours: float = 3.0  # median time an agent holds a ticket
    misroute_slowdown: float = 1.5
    bounce_hours: float = 6.0  # median extra time a misrouted ticket spends bouncing
    reopen_chance: tuple[float, float, float] = (0.04, 0.07, 0.15)  # right, senior, wrong


@dataclass(frozen=True, slots=True)
class _Draws:
    """Every random number the outcomes need, one per ticket, drawn before any routing."""

    handling: NDArray[np.float64]
    bounce: NDArray[np.float64]
    reply: NDArray[np.float64]
    reopen: NDArray[np.float64]
    noise: NDArray[np.float64]
    responds: NDArray[np.float64]
    nps_noise: NDArray[np.float64]
    gives_nps: NDArray[np.float64]

    @classmethod
    def draw(cls, count: int, model: SatisfactionModel, rng: np.random.Generator) -> _Draws:
        return cls(
            handling=model.handling_hours * rng.lognormal(0.0, 0.5, count),
            bounce=model.bounce_hours * rng.lognormal(0.0, 0.6, count),
            reply=rng.uniform(0.05, 0.5, count),
            reopen=rng.random(count),
            noise=model.noise * rng.standard_normal(count),
            responds=rng.random(count),
            nps_noise=1.2 * rng.standard_normal(count),
            gives_nps=rng.random(count),
        )


def replay_outcomes(
    program: AffiliateProgram,
    config: RoutingConfig,
    rng: np.random.Generator,
    *,
    model: SatisfactionModel | None = None,
) -> list[TicketOutcome]:
    """Route every ticket of the program under ``config`` and draw how each one went."""
    model = model or SatisfactionModel()
    labelled = program.tickets
    count = len(labelled)
    draws = _Draws.draw(count, model, rng)
    context = RoutingContext.build(
        partners=program.partners,
        deals=program.deals,
        campaigns=program.campaigns,
        anomalies=program.anomalies,
        scoring=config.scoring,
    )
    router = Router(config)
    pool = AgentPool(config.agents)
    position = {item.ticket.id: i for i, item in enumerate(labelled)}
    fit = np.zeros(count, dtype=np.int64)  # 0 right team, 1 a senior team, 2 wrong team
    hold = np.zeros(count)
    started: list[datetime | None] = [None] * count
    releases: list[tuple[datetime, int]] = []

    def start(index: int, at: datetime) -> None:
        started[index] = at
        heapq.heappush(releases, (at + timedelta(hours=float(hold[index])), index))

    def work_until(limit: datetime | None) -> None:
        while releases and (limit is None or releases[0][0] <= limit):
            at, index = heapq.heappop(releases)
            for pulled in pool.release(labelled[index].ticket.id, at):
                start(position[pulled.ticket_id], at)

    decisions: list[tuple[RoutingDecision, Facts]] = []
    for i, item in enumerate(labelled):
        ticket = item.ticket
        work_until(ticket.created_at)
        facts = enrich(ticket, context)
        decision = router.route(ticket, context, ticket.created_at, pool)
        fit[i] = 0 if decision.team == item.true_team else 1 if decision.team in SENIOR_TEAMS else 2
        hold[i] = draws.handling[i] * (model.misroute_slowdown if fit[i] == 2 else 1.0)
        if decision.assigned:
            start(i, ticket.created_at)
        decisions.append((decision, facts))
    work_until(None)

    # A ticket no agent could ever take waits until the replay ends.
    end = max((at for at in started if at is not None), default=None)
    wait = np.array(
        [
            ((at or end or item.ticket.created_at) - item.ticket.created_at).total_seconds() / 3600
            for at, item in zip(started, labelled, strict=True)
        ]
    )
    sensitivity = np.array([_sensitivity(decision, facts, model) for decision, facts in decisions])
    top_seasonal = np.array(
        [
            item.true_team == "promotions"
            and facts.campaign_promotion_type == PromotionType.SEASONAL
            and engagement_band(facts.engagement_percentile) is EngagementBand.TOP
            for item, (_, facts) in zip(labelled, decisions, strict=True)
        ]
    )
    reopened = draws.reopen < np.asarray(model.reopen_chance)[fit]
    penalty = np.array([0.0, model.senior_penalty, model.misroute_penalty])[fit] + np.where(
        top_seasonal & (fit > 0), model.top_seasonal_penalty, 0.0
    )
    latent = (
        model.base
        - penalty
        - model.wait_cost_per_hour * sensitivity * wait
        - model.reopen_penalty * reopened
        + draws.noise
    )
    csat = np.clip(np.rint(latent), 1, 5).astype(np.int64)
    nps = np.clip(np.rint(2.0 * latent - 0.5 + draws.nps_noise), 0, 10).astype(np.int64)
    responds = draws.responds < model.response_rate
    gives_nps = responds & (draws.gives_nps < model.nps_share)
    resolution = wait + hold + np.where(fit == 2, draws.bounce, 0.0)
    first_response = wait + draws.reply

    calendars = business_calendars(config.calendars)
    policies = {p.name: p for p in config.sla_policies}
    outcomes = []
    for i, (item, (decision, facts)) in enumerate(zip(labelled, decisions, strict=True)):
        created = item.ticket.created_at
        policy = policies.get(decision.sla_policy or "")
        breached = False
        if policy is not None:
            calendar = calendars[policy.calendar]
            breached = created + timedelta(hours=float(resolution[i])) > calendar.add(
                created, policy.resolution
            ) or created + timedelta(hours=float(first_response[i])) > calendar.add(
                created, policy.first_response
            )
        outcomes.append(
            outcome_of(
                decision,
                facts,
                created_at=created,
                resolution_hours=float(resolution[i]),
                first_response_hours=float(first_response[i]),
                sla_breached=breached,
                reassigned=bool(fit[i] == 2),
                reopened=bool(reopened[i]),
                csat=int(csat[i]) if responds[i] else None,
                nps=int(nps[i]) if gives_nps[i] else None,
            )
        )
    return outcomes


def _sensitivity(decision: RoutingDecision, facts: Facts, model: SatisfactionModel) -> float:
    """How much waiting hurts this ticket: the hidden weights on its true factor values."""
    deal = facts.deal_value or 0.0
    values = {
        "deal_value": min(
            1.0, math.log(max(deal, _DEAL_FLOOR) / _DEAL_FLOOR) / math.log(_DEAL_CAP / _DEAL_FLOOR)
        ),
        "engagement": facts.engagement_percentile,
        "lead_volume": facts.lead_volume_percentile,
        "urgency": _URGENCY_LEVEL[Urgency(decision.urgency)],
        "attribution_anomaly": 1.0 if facts.has_open_anomaly else 0.0,
    }
    return sum(model.sensitivity.get(name, 0.0) * values[name] for name in FACTORS)
