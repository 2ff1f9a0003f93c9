"""One resolved ticket's outcome joined to the routing decision that sent it somewhere."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from affroute.config import FACTORS
from affroute.domain import Category, PartnerTier, Priority, PromotionType, Urgency
from affroute.engine import Facts, RoutingDecision


class EngagementBand(StrEnum):
    """Where a partner's engagement percentile falls; `top` is the example's top 20%."""

    TOP = "top"
    MIDDLE = "middle"
    LOW = "low"


# Lower edge of each band, highest first: a percentile belongs to the first it reaches.
BAND_EDGES: tuple[tuple[EngagementBand, float], ...] = (
    (EngagementBand.TOP, 0.8),
    (EngagementBand.MIDDLE, 0.4),
    (EngagementBand.LOW, 0.0),
)


def engagement_band(percentile: float) -> EngagementBand:
    """The band of an engagement percentile (0..1)."""
    for band, low in BAND_EDGES:
        if percentile >= low:
            return band
    return EngagementBand.LOW


class DecidedBy(StrEnum):
    RULE = "rule"
    MODEL = "model"
    PERSON = "person"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class TicketOutcome:
    """What the router saw and decided for a ticket, and how it went for the partner.

    ``factors`` are the score breakdown's 0..1 values in `FACTORS` order; ``csat`` (1-5)
    and ``nps`` (0-10) are None when the partner did not answer the survey.
    """

    ticket_id: str
    created_at: datetime
    # the ticket, as the router saw it
    category: Category | None
    region: str
    partner_tier: PartnerTier | None
    engagement_percentile: float
    deal_value: float | None
    promotion_type: PromotionType | None
    urgency: Urgency
    urgency_detected: bool  # read from the text rather than declared
    has_open_anomaly: bool
    # the decision
    team: str
    team_source: str  # "rule:<name>", "model:<name>", "person:<id>" or "default"
    rules: tuple[str, ...]  # every rule that matched, in order
    priority: Priority
    score: float
    factors: tuple[float, ...]
    agent_id: str | None
    # what happened
    resolution_hours: float
    first_response_hours: float | None
    sla_breached: bool
    reassigned: bool
    reopened: bool
    csat: int | None = None
    nps: int | None = None

    def __post_init__(self) -> None:
        if len(self.factors) != len(FACTORS):
            raise ValueError(f"expected {len(FACTORS)} factor values, got {len(self.factors)}")

    @property
    def engagement_band(self) -> EngagementBand:
        return engagement_band(self.engagement_percentile)

    @property
    def decided_by(self) -> DecidedBy:
        return DecidedBy(self.team_source.split(":", 1)[0])

    @property
    def factor_values(self) -> dict[str, float]:
        return dict(zip(FACTORS, self.factors, strict=True))


def outcome_of(
    decision: RoutingDecision,
    facts: Facts,
    *,
    created_at: datetime,
    resolution_hours: float,
    first_response_hours: float | None,
    sla_breached: bool,
    reassigned: bool,
    reopened: bool,
    csat: int | None,
    nps: int | None,
) -> TicketOutcome:
    """Join a routing decision (and the facts it was made on) with what happened after."""
    return TicketOutcome(
        ticket_id=decision.ticket_id,
        created_at=created_at,
        category=facts.ticket_category,
        region=facts.ticket_region,
        partner_tier=PartnerTier(facts.partner_tier) if facts.partner_tier else None,
        engagement_percentile=facts.engagement_percentile,
        deal_value=facts.deal_value,
        promotion_type=PromotionType(facts.campaign_promotion_type)
        if facts.campaign_promotion_type
        else None,
        urgency=Urgency(decision.urgency),
        urgency_detected=decision.urgency_detected,
        has_open_anomaly=facts.has_open_anomaly,
        team=decision.team,
        team_source=decision.team_source,
        rules=tuple(match.name for match in decision.rules_matched),
        priority=decision.priority,
        score=decision.score,
        factors=decision.breakdown.values,
        agent_id=decision.agent_id,
        resolution_hours=resolution_hours,
        first_response_hours=first_response_hours,
        sla_breached=sla_breached,
        reassigned=reassigned,
        reopened=reopened,
        csat=csat,
        nps=nps,
    )


def mean_csat(outcomes: Iterable[TicketOutcome]) -> float:
    """Mean CSAT over the tickets whose partner answered (NaN when nobody did)."""
    scores = [o.csat for o in outcomes if o.csat is not None]
    return sum(scores) / len(scores) if scores else math.nan
