"""Request and response bodies.

Requests forbid unknown fields, so no caller can set a field it does not own: status,
team, agent, score and priority are the router's.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from affroute.domain import (
    AgentStatus,
    AnomalyStatus,
    Category,
    Channel,
    PartnerTier,
    Priority,
    PromotionType,
    TicketStatus,
    Urgency,
)
from affroute.service.tickets import ReplyAuthor
from affroute.store.models import (
    AgentRow,
    DecisionRow,
    SurveyRow,
    TicketEventRow,
    TicketRow,
)

Id = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class TicketCreate(_In):
    subject: str = Field(min_length=1, max_length=500)
    body: str = Field(default="", max_length=200_000)
    partner_id: str | None = Field(default=None, min_length=1, max_length=64)
    deal_id: str | None = Field(default=None, min_length=1, max_length=64)
    campaign_id: str | None = Field(default=None, min_length=1, max_length=64)
    category: Category | None = None
    urgency: Urgency | None = None
    channel: str = Field(default="portal", min_length=1, max_length=32)
    region: str = Field(default="", max_length=32)
    tags: list[str] = Field(default_factory=list, max_length=50)
    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    created_at: AwareDatetime | None = Field(
        default=None, description="when the partner wrote it (default: now)"
    )


class StatusChange(_In):
    status: TicketStatus


class ReplyCreate(_In):
    author: ReplyAuthor = Field(
        description="agent: a public answer; partner: the partner wrote back"
    )


class Reassignment(_In):
    team: str | None = Field(default=None, min_length=1, max_length=64)
    agent_id: str | None = Field(default=None, min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=1000)


class DecisionRead(BaseModel):
    id: int
    config_version: str
    team: str
    team_source: str
    priority: str
    score: float
    decided_at: datetime
    trace: dict[str, Any]

    @classmethod
    def of(cls, row: DecisionRow) -> DecisionRead:
        return cls(
            id=row.id,
            config_version=row.config_version,
            team=row.team,
            team_source=row.team_source,
            priority=row.priority,
            score=round(row.score, 2),
            decided_at=row.decided_at,
            trace=row.trace,
        )


class EventRead(BaseModel):
    id: int
    kind: str
    actor: str
    at: datetime
    data: dict[str, Any]

    @classmethod
    def of(cls, row: TicketEventRow) -> EventRead:
        return cls(id=row.id, kind=row.kind, actor=row.actor, at=row.at, data=row.data)


class SlaRead(BaseModel):
    policy: str
    status: str | None = Field(
        description="first_response_due, resolution_due, paused, breached or fulfilled"
    )
    first_response_by: datetime | None
    next_response_by: datetime | None
    resolution_by: datetime | None
    paused_seconds: float

    @classmethod
    def of(cls, row: TicketRow) -> SlaRead | None:
        if row.sla_policy is None:
            return None
        return cls(
            policy=row.sla_policy,
            status=row.sla_status,
            first_response_by=row.first_response_by,
            next_response_by=row.next_response_by,
            resolution_by=row.resolution_by,
            paused_seconds=row.sla_paused_seconds or 0.0,
        )


class TicketRead(BaseModel):
    id: str
    external_id: str | None
    status: TicketStatus
    priority: Priority
    score: float
    team: str
    team_source: str
    agent_id: str | None
    queued: bool
    tags: list[str]
    required_skills: list[str]
    sla_policy: str | None
    partner_id: str | None
    deal_id: str | None
    campaign_id: str | None
    category: str | None
    urgency: str | None
    channel: str
    region: str
    subject: str
    body: str
    created_at: datetime
    updated_at: datetime
    sla: SlaRead | None = Field(description="the ticket's SLA clocks, when a policy applies")

    @classmethod
    def of(cls, row: TicketRow) -> TicketRead:
        return cls(
            id=row.id,
            external_id=row.external_id,
            status=TicketStatus(row.status),
            priority=Priority(row.priority),
            score=round(row.score, 2),
            team=row.team,
            team_source=row.team_source,
            agent_id=row.agent_id,
            queued=row.queued,
            tags=list(row.tags),
            required_skills=[f"{s['name']}:{s['level']}" for s in row.required_skills],
            sla_policy=row.sla_policy,
            partner_id=row.partner_id,
            deal_id=row.deal_id,
            campaign_id=row.campaign_id,
            category=row.category,
            urgency=row.urgency,
            channel=row.channel,
            region=row.region,
            subject=row.subject,
            body=row.body,
            created_at=row.created_at,
            updated_at=row.updated_at,
            sla=SlaRead.of(row),
        )


class IngestResult(TicketRead):
    """The stored ticket and the decision that routed it."""

    decision: DecisionRead | None
    replayed: bool = Field(description="true when this repeats an earlier identical request")

    @classmethod
    def of(  # type: ignore[override]
        cls, row: TicketRow, decision: DecisionRow | None, *, replayed: bool
    ) -> IngestResult:
        fields = TicketRead.of(row).__dict__
        first = DecisionRead.of(decision) if decision is not None else None
        return cls.model_construct(**fields, decision=first, replayed=replayed)


class TicketDetail(TicketRead):
    decisions: list[DecisionRead]
    events: list[EventRead]


class TicketPage(BaseModel):
    items: list[TicketRead]
    next_cursor: str | None


class PartnerIn(_In):
    id: str = Id
    name: str = Field(default="", max_length=200)
    tier: PartnerTier = PartnerTier.BRONZE
    region: str = Field(default="", max_length=32)
    weekly_active_leads: float = Field(default=0.0, ge=0)
    click_through_rate: float = Field(default=0.0, ge=0, le=1)
    portal_logins: float = Field(default=0.0, ge=0)
    lead_volume: float = Field(default=0.0, ge=0)
    account_manager: str | None = Field(default=None, max_length=64)

    def row(self) -> dict[str, Any]:
        return self.model_dump(mode="json") | {"name": self.name or self.id}


class DealIn(_In):
    id: str = Id
    partner_id: str = Id
    value: float = Field(ge=0, le=1e12)

    def row(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class CampaignIn(_In):
    id: str = Id
    name: str = Field(default="", max_length=200)
    channel: Channel
    region: str = Field(default="", max_length=32)
    promotion_type: PromotionType

    def row(self) -> dict[str, Any]:
        return self.model_dump(mode="json") | {"name": self.name or self.id}


class AnomalyIn(_In):
    id: str = Id
    kind: str = Field(min_length=1, max_length=64)
    partner_id: str | None = Field(default=None, max_length=64)
    campaign_id: str | None = Field(default=None, max_length=64)
    severity: float = Field(default=1.0, ge=0, le=1)
    status: AnomalyStatus = AnomalyStatus.OPEN

    def row(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class _StoredRow(BaseModel):
    """A catalog row as stored: the fields of its input model plus when it last changed."""

    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> Self:
        return cls.model_validate({c: getattr(row, c) for c in cls.model_fields})


class PartnerRead(PartnerIn, _StoredRow):
    pass


class DealRead(DealIn, _StoredRow):
    pass


class CampaignRead(CampaignIn, _StoredRow):
    pass


class AnomalyRead(AnomalyIn, _StoredRow):
    pass


class AnomalyDetail(AnomalyRead):
    """A stored anomaly with what a person needs to judge it."""

    summary: str = Field(description="what was found, in a sentence")
    evidence: dict[str, Any] = Field(description="the numbers behind the finding")
    detected_at: datetime | None
    last_seen_at: datetime | None = Field(description="when a scan last found it")
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None

    @classmethod
    def of(cls, row: Any) -> Self:
        return cls.model_validate(
            {c: getattr(row, c) for c in cls.model_fields} | {"evidence": row.evidence or {}}
        )


class PeriodCountRead(BaseModel):
    start: date = Field(description="first day of the day or week (Monday, UTC)")
    detected: int
    resolved: int


class AnomalyCounts(BaseModel):
    period: str
    items: list[PeriodCountRead]
    detected: int
    resolved: int


class EventIngestResult(BaseModel):
    events: int = Field(description="click, lead and conversion events stored")
    repeats: int = Field(
        description="events whose event_id was already sent (earlier or in this batch): not "
        "stored again"
    )
    daily_counts: int = Field(description="partner x campaign x day counts stored or updated")
    unknown_partners: dict[str, int] = Field(
        description="partners not in the catalog, with how many rows were kept for each"
    )


class UpsertResult(BaseModel):
    upserted: int


class AgentRead(BaseModel):
    id: str
    name: str
    teams: list[str]
    skills: dict[str, int]
    capacity: int
    load: int
    status: AgentStatus
    seniority: str
    last_assigned_at: datetime | None

    @classmethod
    def of(cls, row: AgentRow, teams: list[str]) -> AgentRead:
        return cls(
            id=row.id,
            name=row.name,
            teams=teams,
            skills={k: int(v) for k, v in row.skills.items()},
            capacity=row.capacity,
            load=row.load,
            status=AgentStatus(row.status),
            seniority=row.seniority,
            last_assigned_at=row.last_assigned_at,
        )


class PresenceChange(_In):
    status: AgentStatus


class CapacityChange(_In):
    capacity: int = Field(ge=0, le=1000)


class AgentChange(BaseModel):
    agent: AgentRead
    pulled: list[str] = Field(description="queued tickets the change let this agent take")


class TeamRead(BaseModel):
    name: str
    skills: list[str]
    calendar: str
    agents: int
    queued: int


class QueueRead(BaseModel):
    team: str
    items: list[TicketRead]


class ConfigRead(BaseModel):
    version: str
    created_at: datetime
    created_by: str
    yaml: str


class ConfigWrite(_In):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)  # YAML is kept as sent

    yaml: str = Field(min_length=1, max_length=900_000, description="the configuration as YAML")


class DryRunRequest(ConfigWrite):
    last: int = Field(default=500, ge=1, le=10_000, description="how many recent tickets to replay")


class DryRunResult(BaseModel):
    candidate_version: str
    compared: int
    team_changed: int
    priority_changed: int
    moves: list[dict[str, Any]]
    differences: list[dict[str, Any]]


class SlaBoardItem(BaseModel):
    ticket: TicketRead
    due: datetime = Field(description="the nearest deadline of the running clocks")
    seconds_left: float = Field(description="negative once breached")


class SlaBoard(BaseModel):
    at: datetime
    items: list[SlaBoardItem]


class SlaGroup(BaseModel):
    key: str
    tickets: int
    breached: int
    escalated: int
    compliance: float = Field(description="share of tickets with a clock that did not breach")


class SlaStats(BaseModel):
    by_team: list[SlaGroup]
    by_priority: list[SlaGroup]
    by_partner_tier: list[SlaGroup]


class Health(BaseModel):
    status: str
    database: str | None = None
    config_version: str | None = None


class SurveyResponseIn(_In):
    """A response from an external survey tool. Name the ticket by ``ticket_id`` or by the
    help desk's ``external_id``; ``response_id`` (the tool's own id) makes repeats harmless."""

    ticket_id: str | None = Field(default=None, max_length=64)
    external_id: str | None = Field(default=None, max_length=200)
    response_id: str | None = Field(default=None, max_length=200)
    csat: int | None = Field(default=None, ge=1, le=5, description="satisfaction, 1..5")
    nps: int | None = Field(default=None, ge=0, le=10, description="likely to recommend, 0..10")
    comment: str | None = Field(default=None, max_length=5000)
    answered_at: AwareDatetime | None = None


class SurveyRead(BaseModel):
    id: str
    ticket_id: str
    partner_id: str | None
    status: str
    team: str
    agent_id: str | None
    priority: str
    category: str | None
    partner_tier: str | None
    engagement_band: str | None
    send_at: datetime
    sent_at: datetime | None
    expires_at: datetime | None
    answered_at: datetime | None
    csat: int | None
    nps: int | None
    comment: str | None
    source: str | None
    url: str | None = Field(
        default=None, description="the partner's link, while the survey can be answered"
    )

    @classmethod
    def of(cls, row: SurveyRow, url: str | None = None) -> SurveyRead:
        return cls.model_validate(row, from_attributes=True).model_copy(update={"url": url})


class SurveyRecorded(BaseModel):
    survey: SurveyRead
    replayed: bool


class SurveyImport(BaseModel):
    recorded: int
    replayed: int
    errors: list[dict[str, Any]]
