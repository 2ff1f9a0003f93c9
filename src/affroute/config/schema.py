"""The YAML file's shape as pydantic models: structure and types, checked field by field."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag

from affroute.config.fields import Op
from affroute.config.model import EscalationAction, Scale
from affroute.domain import AgentStatus, Category, PartnerTier, Priority, Seniority, Urgency

_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*d)?\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+)\s*m)?\s*$"
)


def parse_duration(raw: object) -> timedelta:
    """Read ``90m``, ``4h``, ``1h30m``, ``2d`` (or a number of minutes) as a duration."""
    if isinstance(raw, timedelta):
        if raw <= timedelta(0):
            raise ValueError("a duration must be positive")
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if raw <= 0:
            raise ValueError("a duration must be positive")
        return timedelta(minutes=raw)
    match = _DURATION.match(raw) if isinstance(raw, str) and raw.strip() else None
    if match is None:
        raise ValueError(f"expected a duration like '90m', '4h', '1h30m' or '2d', got {raw!r}")
    days, hours, minutes = (float(g) if g else 0.0 for g in match.groups())
    value = timedelta(days=days, hours=hours, minutes=minutes)
    if value <= timedelta(0):
        raise ValueError("a duration must be positive")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConditionIn(_Strict):
    field: str
    op: Op
    value: Any = None


def _item_kind(raw: Any) -> str:
    if isinstance(raw, dict):
        return "group" if ("all" in raw or "any" in raw) and "field" not in raw else "condition"
    return "group" if isinstance(raw, GroupIn) else "condition"


Item = Annotated[
    Annotated[ConditionIn, Tag("condition")] | Annotated["GroupIn", Tag("group")],
    Discriminator(_item_kind),
]


class GroupIn(_Strict):
    all: list[Item] = Field(default_factory=list)
    any: list[Item] = Field(default_factory=list)


class SkillIn(_Strict):
    name: str = Field(min_length=1)
    level: int = Field(default=1, ge=1, le=5)


def _skill(raw: Any) -> Any:
    # "spanish" or "spanish:3" are shorthands for {name: spanish, level: 3}.
    if isinstance(raw, str):
        name, _, level = raw.partition(":")
        return {"name": name.strip(), "level": int(level) if level.strip().isdigit() else 1}
    return raw


class ActionsIn(_Strict):
    team: str | None = None
    priority: Priority | None = None
    priority_floor: Priority | None = None
    tags: list[str] = Field(default_factory=list)
    skills: list[Annotated[SkillIn, BeforeValidator(_skill)]] = Field(default_factory=list)
    sla_policy: str | None = None
    prefer_account_manager: bool = False
    stop: bool = False


class RuleIn(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    when: GroupIn = Field(default_factory=GroupIn)
    then: ActionsIn


class TeamIn(_Strict):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9_\-]+$")
    skills: list[str] = Field(default_factory=list)
    calendar: str = "24x7"


class AgentIn(_Strict):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    teams: list[str] = Field(min_length=1)
    skills: dict[str, Annotated[int, Field(ge=1, le=5)]] = Field(default_factory=dict)
    capacity: int = Field(default=5, ge=0, le=1000)
    status: AgentStatus = AgentStatus.ONLINE
    seniority: Seniority = Seniority.MID


class NormalisationIn(_Strict):
    scale: Scale
    cap: float | None = Field(default=None, gt=0)
    floor: float | None = Field(default=None, ge=0)


class EngagementIn(_Strict):
    weekly_active_leads: float = Field(default=0.4, ge=0)
    click_through_rate: float = Field(default=0.3, ge=0)
    portal_logins: float = Field(default=0.3, ge=0)


class UrgencyIn(_Strict):
    levels: dict[Urgency, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: {
            Urgency.LOW: 0.1,
            Urgency.NORMAL: 0.4,
            Urgency.HIGH: 0.8,
            Urgency.URGENT: 1.0,
        }
    )
    default: Urgency = Urgency.NORMAL
    keywords: dict[Urgency, list[str]] = Field(default_factory=dict)


class WeightsIn(_Strict):
    deal_value: float = Field(ge=0)
    engagement: float = Field(ge=0)
    lead_volume: float = Field(ge=0)
    urgency: float = Field(ge=0)
    attribution_anomaly: float = Field(ge=0)


class ScoringIn(_Strict):
    weights: WeightsIn
    deal_value: NormalisationIn = NormalisationIn(scale=Scale.LOG, cap=50_000)
    lead_volume: NormalisationIn = NormalisationIn(scale=Scale.PERCENTILE)
    engagement: EngagementIn = EngagementIn()
    urgency: UrgencyIn = UrgencyIn()


class TierIn(_Strict):
    priority: Priority
    min_score: float = Field(ge=0, le=100)


class CalendarIn(_Strict):
    name: str = Field(min_length=1)
    timezone: str = "UTC"
    hours: dict[str, list[str]] = Field(default_factory=dict)
    holidays: list[date] = Field(default_factory=list)


class EscalationIn(_Strict):
    action: EscalationAction
    at: float | None = Field(default=None, gt=0, le=10)
    after: Duration | None = None
    team: str | None = None
    agent: str | None = None
    tag: str | None = None
    priority: Priority | None = None


class SlaMatchIn(_Strict):
    priority: list[Priority] = Field(default_factory=list)
    partner_tier: list[PartnerTier] = Field(default_factory=list)
    team: list[str] = Field(default_factory=list)


class SlaPolicyIn(_Strict):
    name: str = Field(min_length=1)
    match: SlaMatchIn = SlaMatchIn()
    calendar: str = "24x7"
    first_response: Duration
    next_response: Duration | None = None
    resolution: Duration
    escalations: list[EscalationIn] = Field(default_factory=list)


class SlaIn(_Strict):
    policies: list[SlaPolicyIn] = Field(default_factory=list)


class SurveysIn(_Strict):
    enabled: bool = True
    delay: Duration = timedelta(hours=1)
    reminder_after: Duration | None = timedelta(days=2)
    expires_after: Duration = timedelta(days=7)
    partner_cooldown: Duration | None = timedelta(days=14)
    skip_tags: list[str] = Field(default_factory=lambda: ["spam"])
    skip_categories: list[Category] = Field(default_factory=list)


class DuplicateLeadsIn(_Strict):
    window: Duration = timedelta(hours=24)
    min_count: int = Field(default=5, ge=1)
    min_share: float = Field(default=0.05, gt=0, le=1)
    use_ip_device: bool = True


class ConversionMismatchIn(_Strict):
    tolerance: float = Field(default=0.10, ge=0, le=10)
    min_difference: int = Field(default=5, ge=1)
    min_days: int = Field(default=1, ge=1)


class VolumeIn(_Strict):
    z_threshold: float = Field(default=4.0, gt=0)
    min_ratio: float = Field(default=2.0, gt=1)
    drop_ratio: float = Field(default=0.5, gt=0, lt=1)
    min_expected: float = Field(default=20.0, ge=1)
    min_history_days: int = Field(default=14, ge=7)


class LagIn(_Strict):
    min_seconds: float = Field(default=10.0, gt=0)
    short_share: float = Field(default=0.2, gt=0, le=1)
    min_conversions: int = Field(default=10, ge=1)
    shift_factor: float = Field(default=4.0, gt=1)
    z_threshold: float = Field(default=4.0, gt=0)


class ConversionRateIn(_Strict):
    high_ratio: float = Field(default=3.0, gt=1)
    low_ratio: float = Field(default=0.33, gt=0, lt=1)
    z_threshold: float = Field(default=4.0, gt=0)
    min_clicks: int = Field(default=200, ge=1)
    min_partners: int = Field(default=3, ge=2)


class AnomaliesIn(_Strict):
    duplicate_leads: DuplicateLeadsIn = DuplicateLeadsIn()
    conversion_mismatch: ConversionMismatchIn = ConversionMismatchIn()
    volume: VolumeIn = VolumeIn()
    lag: LagIn = LagIn()
    conversion_rate: ConversionRateIn = ConversionRateIn()
    lookback: Duration = timedelta(days=56)
    resolve_after: Duration | None = None


class HelpDeskIn(_Strict):
    """How a help desk's tickets map onto ours (ids only: secrets live in the settings)."""

    fields: dict[str, str] = Field(default_factory=dict)
    groups: dict[str, int] = Field(default_factory=dict)
    agents: dict[str, int] = Field(default_factory=dict)
    private_note: bool = True


class EnrichmentSourceIn(_Strict):
    name: str = Field(min_length=1, max_length=64)
    kind: str
    refresh: Duration = timedelta(minutes=15)
    path: str | None = None
    partner_property: str = "affroute_partner_id"
    deal_value_property: str | None = None


class IntegrationsIn(_Strict):
    zendesk: HelpDeskIn | None = None
    freshdesk: HelpDeskIn | None = None
    enrichment: list[EnrichmentSourceIn] = Field(default_factory=list)


class ConfigIn(_Strict):
    """The whole configuration file."""

    default_team: str
    teams: list[TeamIn] = Field(min_length=1)
    agents: list[AgentIn] = Field(default_factory=list)
    scoring: ScoringIn
    tiers: list[TierIn] = Field(min_length=1)
    rules: list[RuleIn] = Field(default_factory=list)
    calendars: list[CalendarIn] = Field(default_factory=list)
    sla: SlaIn = SlaIn()
    surveys: SurveysIn = SurveysIn()
    anomalies: AnomaliesIn = AnomaliesIn()
    integrations: IntegrationsIn = IntegrationsIn()
