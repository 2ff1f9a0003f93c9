"""The validated routing configuration as plain, frozen dataclasses used by the centre."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from enum import StrEnum
from typing import Any

from affroute.config.fields import Op
from affroute.domain import Agent, PartnerTier, Priority, Team, Urgency

FACTORS = ("deal_value", "engagement", "lead_volume", "urgency", "attribution_anomaly")


class Scale(StrEnum):
    LOG = "log"
    LINEAR = "linear"
    PERCENTILE = "percentile"


@dataclass(frozen=True, slots=True)
class Normalisation:
    """How a raw factor becomes 0..1: log or linear from a floor up to a cap, or percentile."""

    scale: Scale
    cap: float = 0.0
    floor: float = 0.0


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    weights: dict[str, float]  # normalised to sum to 1
    deal_value: Normalisation
    lead_volume: Normalisation
    engagement_weights: dict[str, float]  # KPI -> weight, normalised to sum to 1
    urgency_levels: dict[Urgency, float]
    urgency_default: Urgency
    urgency_keywords: dict[Urgency, tuple[str, ...]]  # most urgent first


@dataclass(frozen=True, slots=True)
class Tier:
    priority: Priority
    min_score: float


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: Op
    value: Any = None


@dataclass(frozen=True, slots=True)
class Group:
    """``all`` of its items and ``any`` of its ``any`` items (an empty side is true)."""

    all: tuple[Condition | Group, ...] = ()
    any: tuple[Condition | Group, ...] = ()


@dataclass(frozen=True, slots=True)
class SkillRequirement:
    name: str
    level: int = 1


@dataclass(frozen=True, slots=True)
class Actions:
    team: str | None = None
    priority: Priority | None = None
    priority_floor: Priority | None = None
    tags: tuple[str, ...] = ()
    skills: tuple[SkillRequirement, ...] = ()
    sla_policy: str | None = None
    prefer_account_manager: bool = False
    stop: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    when: Group
    then: Actions
    description: str = ""


@dataclass(frozen=True, slots=True)
class Calendar:
    """Weekly business hours (weekday 0 = Monday) in a time zone, minus holidays."""

    name: str
    timezone: str
    hours: dict[int, tuple[tuple[time, time], ...]]
    holidays: frozenset[date] = frozenset()


class EscalationAction(StrEnum):
    NOTIFY = "notify"
    RAISE_PRIORITY = "raise_priority"
    REASSIGN = "reassign"
    ADD_TAG = "add_tag"


@dataclass(frozen=True, slots=True)
class EscalationStep:
    action: EscalationAction
    at_fraction: float | None = None  # of the resolution target
    after: timedelta | None = None  # business-time age
    team: str | None = None
    agent: str | None = None
    tag: str | None = None
    priority: Priority | None = None


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    name: str
    priorities: frozenset[Priority]
    partner_tiers: frozenset[PartnerTier]  # empty: any
    teams: frozenset[str]  # empty: any
    calendar: str
    first_response: timedelta
    next_response: timedelta | None
    resolution: timedelta
    escalations: tuple[EscalationStep, ...] = ()


@dataclass(frozen=True, slots=True)
class SurveyPolicy:
    """Which solved tickets get a satisfaction survey, when, and for how long it stays open."""

    enabled: bool = True
    delay: timedelta = timedelta(hours=1)
    reminder_after: timedelta | None = timedelta(days=2)
    expires_after: timedelta = timedelta(days=7)
    partner_cooldown: timedelta | None = timedelta(days=14)
    skip_tags: frozenset[str] = frozenset({"spam"})
    skip_categories: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DuplicateLeadsConfig:
    """The same contact (hashed email/phone) or ip + device twice within ``window``."""

    window: timedelta = timedelta(hours=24)
    min_count: int = 5  # duplicate leads a partner x campaign needs before it is flagged
    min_share: float = 0.05  # ... and their share of its leads
    use_ip_device: bool = True  # also match leads by ip + device, not only by contact


@dataclass(frozen=True, slots=True)
class ConversionMismatchConfig:
    """Network-reported vs advertiser-reported conversions per partner x campaign x day."""

    tolerance: float = 0.10  # relative gap allowed on a day
    min_difference: int = 5  # conversions; smaller gaps are noise however large relatively
    min_days: int = 1  # mismatched days before a partner x campaign is flagged


@dataclass(frozen=True, slots=True)
class VolumeConfig:
    """Daily clicks and conversions against the partner's own same-weekday history."""

    z_threshold: float = 4.0  # robust z (relative MAD scale, at least Poisson noise)
    min_ratio: float = 2.0  # a spike is at least this multiple of the expected day
    drop_ratio: float = 0.5  # a drop is at most this share of the expected day
    min_expected: float = 20.0  # partners whose usual daily count is lower are not judged
    min_history_days: int = 14


@dataclass(frozen=True, slots=True)
class LagConfig:
    """Click-to-conversion time: injected clicks and distributions unlike campaign peers."""

    min_seconds: float = 10.0  # conversions faster than this are implausible
    short_share: float = 0.2  # share of a partner's conversions that may be that fast
    min_conversions: int = 10
    shift_factor: float = 4.0  # median lag this many times above/below the peers'
    z_threshold: float = 4.0  # and this far out in robust units of the peers' spread


@dataclass(frozen=True, slots=True)
class ConversionRateConfig:
    """A partner's conversion rate against the other partners of the same campaign."""

    high_ratio: float = 3.0
    low_ratio: float = 0.33
    z_threshold: float = 4.0  # binomial z of the partner's conversions vs the peers' rate
    min_clicks: int = 200
    min_partners: int = 3


@dataclass(frozen=True, slots=True)
class AnomalyConfig:
    """Thresholds of the five attribution anomaly detectors and the service's scan window."""

    duplicate_leads: DuplicateLeadsConfig = DuplicateLeadsConfig()
    conversion_mismatch: ConversionMismatchConfig = ConversionMismatchConfig()
    volume: VolumeConfig = VolumeConfig()
    lag: LagConfig = LagConfig()
    conversion_rate: ConversionRateConfig = ConversionRateConfig()
    lookback: timedelta = timedelta(days=56)  # events the continuous scan looks at
    # A scan-found anomaly no scan has found for this long is resolved by the service
    # (None: only people resolve anomalies).
    resolve_after: timedelta | None = None


# The ticket fields a help desk's custom fields can fill.
MAPPABLE_FIELDS = (
    "partner_id",
    "deal_id",
    "campaign_id",
    "category",
    "urgency",
    "region",
    "channel",
)


@dataclass(frozen=True, slots=True)
class HelpDeskMapping:
    """Which custom field holds which ticket field, and which group and user id is which
    team and agent, in one help desk."""

    fields: Mapping[str, str] = field(default_factory=dict)  # ticket field -> custom field
    groups: Mapping[str, int] = field(default_factory=dict)  # team -> group id
    agents: Mapping[str, int] = field(default_factory=dict)  # agent id -> help-desk user id
    private_note: bool = True


class SourceKind(StrEnum):
    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"
    FILE = "file"


@dataclass(frozen=True, slots=True)
class EnrichmentSource:
    """A CRM (or a CRM export) that deal values and partner engagement are read from."""

    name: str
    kind: SourceKind
    refresh: timedelta = timedelta(minutes=15)
    path: str | None = None  # for a file: a CSV or Parquet export
    partner_property: str = "affroute_partner_id"  # the CRM field that holds our partner id
    deal_value_property: str | None = None  # None: the CRM's own (amount / Amount)


@dataclass(frozen=True, slots=True)
class IntegrationsConfig:
    zendesk: HelpDeskMapping | None = None
    freshdesk: HelpDeskMapping | None = None
    enrichment: tuple[EnrichmentSource, ...] = ()


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """Everything a routing decision depends on; ``version`` is a hash of its content."""

    version: str
    teams: dict[str, Team]
    agents: tuple[Agent, ...]
    scoring: ScoringConfig
    tiers: tuple[Tier, ...]  # highest min_score first
    rules: tuple[Rule, ...]
    default_team: str
    calendars: dict[str, Calendar]
    sla_policies: tuple[SlaPolicy, ...] = ()
    surveys: SurveyPolicy = SurveyPolicy()
    anomalies: AnomalyConfig = AnomalyConfig()
    integrations: IntegrationsConfig = IntegrationsConfig()
    source: str = field(default="<memory>", compare=False)
