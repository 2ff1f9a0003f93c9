"""Domain types shared by every layer. They import nothing of ours."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Priority(StrEnum):
    """Ticket priority, P1 most urgent."""

    P1 = "p1"
    P2 = "p2"
    P3 = "p3"
    P4 = "p4"


# Lower rank is more urgent; queues and priority floors compare ranks.
PRIORITY_RANK: dict[Priority, int] = {
    Priority.P1: 1,
    Priority.P2: 2,
    Priority.P3: 3,
    Priority.P4: 4,
}


class Urgency(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"


class AgentStatus(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Seniority(StrEnum):
    JUNIOR = "junior"
    MID = "mid"
    SENIOR = "senior"
    LEAD = "lead"


class PartnerTier(StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    PREMIUM = "premium"


class Channel(StrEnum):
    SEARCH = "search"
    SOCIAL = "social"
    EMAIL = "email"
    CONTENT = "content"
    COUPON = "coupon"
    INFLUENCER = "influencer"


class PromotionType(StrEnum):
    SEASONAL = "seasonal"
    LAUNCH = "launch"
    EVERGREEN = "evergreen"


class Category(StrEnum):
    COMMISSION_DISPUTE = "commission_dispute"
    PAYOUT = "payout"
    LEAD_QUALITY = "lead_quality"
    TRACKING_ATTRIBUTION = "tracking_attribution"
    CAMPAIGN_PERFORMANCE = "campaign_performance"
    CREATIVE_REQUEST = "creative_request"
    ACCOUNT_ACCESS = "account_access"
    COMPLIANCE = "compliance"


class AnomalyStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Partner:
    """An affiliate partner (publisher, influencer, network) and its engagement KPIs."""

    id: str
    name: str
    tier: PartnerTier = PartnerTier.BRONZE
    region: str = ""
    weekly_active_leads: float = 0.0
    click_through_rate: float = 0.0
    portal_logins: float = 0.0
    lead_volume: float = 0.0
    account_manager: str | None = None


@dataclass(frozen=True, slots=True)
class Deal:
    """The commercial value of a partner's deal, in the program's currency."""

    id: str
    partner_id: str
    value: float


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    name: str
    channel: Channel
    region: str
    promotion_type: PromotionType


@dataclass(frozen=True, slots=True)
class Anomaly:
    """An attribution anomaly flagged on a partner and/or a campaign."""

    id: str
    kind: str
    partner_id: str | None = None
    campaign_id: str | None = None
    severity: float = 1.0
    status: AnomalyStatus = AnomalyStatus.OPEN


@dataclass(frozen=True, slots=True)
class Ticket:
    """A partner's support ticket as it arrives, before any decision."""

    id: str
    subject: str
    body: str
    created_at: datetime
    partner_id: str | None = None
    deal_id: str | None = None
    campaign_id: str | None = None
    category: Category | None = None
    urgency: Urgency | None = None
    channel: str = "portal"
    region: str = ""
    tags: tuple[str, ...] = ()
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    skills: frozenset[str] = frozenset()
    calendar: str = "24x7"


@dataclass(frozen=True, slots=True)
class Agent:
    """A person who handles tickets; capacity is the most open tickets they may hold."""

    id: str
    name: str
    teams: tuple[str, ...]
    skills: dict[str, int] = field(default_factory=dict)
    capacity: int = 5
    status: AgentStatus = AgentStatus.ONLINE
    seniority: Seniority = Seniority.MID
