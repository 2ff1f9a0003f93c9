"""SQLAlchemy 2.0 typed tables. Alembic owns the schema; these classes describe it."""

from __future__ import annotations

from datetime import UTC as _UTC
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from affroute.domain import TicketStatus


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no tz support) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware one")
        return value.astimezone(_UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)


# Statuses in which a ticket still counts against its agent's capacity.
OPEN_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: UTCDateTime,
    }


class MetaRow(Base):
    """Counters other workers poll to know when their caches are stale."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ConfigVersionRow(Base):
    __tablename__ = "config_versions"
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    yaml: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=False)


class PartnerRow(Base):
    __tablename__ = "partners"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(32), default="")
    weekly_active_leads: Mapped[float] = mapped_column(Float, default=0.0)
    click_through_rate: Mapped[float] = mapped_column(Float, default=0.0)
    portal_logins: Mapped[float] = mapped_column(Float, default=0.0)
    lead_volume: Mapped[float] = mapped_column(Float, default=0.0)
    account_manager: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class DealRow(Base):
    __tablename__ = "deals"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    value: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime]


class CampaignRow(Base):
    __tablename__ = "campaigns"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(32), default="")
    promotion_type: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime]


class AnomalyRow(Base):
    """An attribution anomaly, uploaded or found by a scan (then ``fingerprint`` is set).

    At most one unresolved anomaly per fingerprint: a rescan updates it instead of adding one.
    """

    __tablename__ = "anomalies"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    partner_id: Mapped[str | None] = mapped_column(String(64), index=True)
    campaign_id: Mapped[str | None] = mapped_column(String(64), index=True)
    severity: Mapped[float] = mapped_column(Float, default=1.0)
    status: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime]
    summary: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fingerprint: Mapped[str | None] = mapped_column(String(300))
    detected_at: Mapped[datetime | None] = mapped_column(index=True)
    last_seen_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index(
            "uq_anomalies_open_fingerprint",
            "fingerprint",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
    )


class AttributionEventRow(Base):
    """A click, lead or conversion sent to the service for the continuous anomaly scan."""

    __tablename__ = "attribution_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(index=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    click_id: Mapped[str | None] = mapped_column(String(128))
    ip: Mapped[str | None] = mapped_column(String(64))
    device: Mapped[str | None] = mapped_column(String(200))
    contact_hash: Mapped[str | None] = mapped_column(String(128))
    value: Mapped[float | None] = mapped_column(Float)
    click_at: Mapped[datetime | None]
    # The sender's id of the event, when it gives one: unique, so a re-sent batch adds nothing.
    event_id: Mapped[str | None] = mapped_column(String(200))
    ingested_at: Mapped[datetime] = mapped_column(index=True)  # the scan reads what arrived

    __table_args__ = (Index("ux_attribution_events_event_id", "event_id", unique=True),)


class ConversionCountRow(Base):
    """Conversions the network and the advertiser report for one partner x campaign x day."""

    __tablename__ = "conversion_counts"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" for none
    network_conversions: Mapped[int] = mapped_column(Integer)
    advertiser_conversions: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class AgentRow(Base):
    """An agent; ``load`` is the count of open tickets assigned, kept in step transactionally."""

    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    skills: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    capacity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    seniority: Mapped[str] = mapped_column(String(16))
    load: Mapped[int] = mapped_column(Integer, default=0)
    last_assigned_at: Mapped[datetime | None]
    retired: Mapped[bool] = mapped_column(Boolean, default=False)


class AgentTeamRow(Base):
    __tablename__ = "agent_teams"
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    team: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class TicketRow(Base):
    __tablename__ = "tickets"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    partner_id: Mapped[str | None] = mapped_column(String(64), index=True)
    deal_id: Mapped[str | None] = mapped_column(String(64))
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(32))
    urgency: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(32))
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), index=True)
    score: Mapped[float] = mapped_column(Float)
    priority: Mapped[str] = mapped_column(String(4))
    priority_rank: Mapped[int] = mapped_column(Integer)
    team: Mapped[str] = mapped_column(String(64))
    # What put the ticket on its current team: "rule:<name>", "model:<name>", "default",
    # or "person:<key id>" after a reassignment. A later reassignment blames this source.
    team_source: Mapped[str] = mapped_column(String(200))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), index=True)
    queued: Mapped[bool] = mapped_column(Boolean, default=False)
    required_skills: Mapped[list[Any]] = mapped_column(JSON, default=list)
    sla_policy: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # SLA clocks, recomputed from the event log on every change (see affroute.service.sla).
    first_response_by: Mapped[datetime | None]
    next_response_by: Mapped[datetime | None]
    resolution_by: Mapped[datetime | None]
    sla_status: Mapped[str | None] = mapped_column(String(32))
    sla_paused_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # Business time the resolution clock had run at ``sla_computed_at``, when the clocks were
    # last computed: the sweeper carries a running clock forward from there.
    sla_elapsed_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    sla_computed_at: Mapped[datetime | None]
    # When the sweeper must look at this ticket next (a step or a deadline comes due).
    sla_check_at: Mapped[datetime | None] = mapped_column(index=True)

    __table_args__ = (
        Index("ix_tickets_queue", "team", "queued", "priority_rank", "score", "created_at"),
        Index("ix_tickets_created", "created_at", "id"),
        # The open tickets by team and priority (queues board, overview), read from the index.
        Index("ix_tickets_open", "status", "team", "priority", "queued", "created_at"),
    )


class DecisionRow(Base):
    """A routing decision with its full trace, as shown to a person."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    config_version: Mapped[str] = mapped_column(String(32))
    team: Mapped[str] = mapped_column(String(64))
    team_source: Mapped[str] = mapped_column(String(200))
    priority: Mapped[str] = mapped_column(String(4))
    score: Mapped[float] = mapped_column(Float)
    trace: Mapped[dict[str, Any]] = mapped_column(JSON)
    decided_at: Mapped[datetime]


class TicketEventRow(Base):
    """Append-only log of what happened to a ticket, and who did it."""

    __tablename__ = "ticket_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime]

    # Recent events of a kind (a team's solves over the last day, for the breach forecast).
    __table_args__ = (Index("ix_ticket_events_kind_at", "kind", "at"),)


class EscalationRow(Base):
    """One fired step of an escalation ladder; the unique key makes each fire exactly once."""

    __tablename__ = "escalations"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    policy: Mapped[str] = mapped_column(String(128))
    step: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    predicted: Mapped[bool] = mapped_column(Boolean, default=False)
    fired_at: Mapped[datetime]
    fired_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("ticket_id", "policy", "step", name="uq_escalation_step"),)


class ApiKeyRow(Base):
    """An API key, stored as a SHA-256 hash (keys are random, 256 bits: no stretching needed)."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class IdempotencyRow(Base):
    """The first response to a request sent with an ``Idempotency-Key``."""

    __tablename__ = "idempotency_keys"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    principal: Mapped[str] = mapped_column(String(16), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class SecretRow(Base):
    """Server-side secrets shared by every worker (e.g. the key that signs survey links)."""

    __tablename__ = "secrets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class SurveyRow(Base):
    """One satisfaction survey per solved ticket, with what routed the ticket, and the answer.

    The team, agent, priority, category and partner segment are those of the ticket when
    it was solved, kept here so satisfaction is analysed by what the partner experienced.
    """

    __tablename__ = "surveys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), unique=True)
    partner_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    team: Mapped[str] = mapped_column(String(64))
    team_source: Mapped[str] = mapped_column(String(128))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(8))
    category: Mapped[str | None] = mapped_column(String(32))
    partner_tier: Mapped[str | None] = mapped_column(String(16))
    engagement_band: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]
    send_at: Mapped[datetime] = mapped_column(index=True)
    sent_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0)
    answered_at: Mapped[datetime | None]
    csat: Mapped[int | None] = mapped_column(Integer)
    nps: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(32))
    response_id: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint("source", "response_id", name="uq_survey_response"),
        Index("ix_surveys_answered", "answered_at"),
        # The satisfaction page's latest comments: only the surveys that have one.
        Index(
            "ix_surveys_commented",
            "answered_at",
            sqlite_where=text("comment IS NOT NULL"),
            postgresql_where=text("comment IS NOT NULL"),
        ),
    )


class UserRow(Base):
    """A dashboard user; the password is stored as an Argon2id hash."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]


class WebSessionRow(Base):
    """A signed-in browser: the cookie holds a random id, stored here only as its hash."""

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class TuningProposalRow(Base):
    """A configuration the tuner proposes from stored outcomes, for an analyst to accept."""

    __tablename__ = "tuning_proposals"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[datetime]
    base_version: Mapped[str] = mapped_column(String(32))
    proposed_yaml: Mapped[str] = mapped_column(Text)
    proposed_hash: Mapped[str] = mapped_column(String(64), index=True)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
    applied_version: Mapped[str | None] = mapped_column(String(32))


class ModelRow(Base):
    """A registered ticket model file, kept whole so that every worker loads the same bytes.

    ``mode`` is "registered", "shadow" (predicts and records, never acts) or "active" (acts
    when confident); at most one shadow and one active model per label.
    """

    __tablename__ = "models"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # the content's hash, short
    name: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    classes: Mapped[list[Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    registered_at: Mapped[datetime]
    registered_by: Mapped[str] = mapped_column(String(64))
    mode_changed_at: Mapped[datetime]
    mode_changed_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index(
            "uq_models_label_mode",
            "label",
            "mode",
            unique=True,
            sqlite_where=text("mode != 'registered'"),
            postgresql_where=text("mode != 'registered'"),
        ),
    )


class WebhookReceiptRow(Base):
    """An inbound event already taken: a sender's repeat of it is answered, not redone."""

    __tablename__ = "webhook_receipts"
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    ticket_id: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime]


class OutboxRow(Base):
    """A call to another system (help-desk write-back, signed webhook), written in the
    transaction that caused it and delivered by the background job until it succeeds
    or is parked as dead."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(64), unique=True)
    target: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[str | None] = mapped_column(String(32), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)


class EnrichmentSourceRow(Base):
    """When a CRM source was last read, and whether it answered: routing trusts the catalog
    (the cache) and the trace says how fresh it is."""

    __tablename__ = "enrichment_sources"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    last_attempt_at: Mapped[datetime]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    deals: Mapped[int] = mapped_column(Integer, default=0)
    partners: Mapped[int] = mapped_column(Integer, default=0)


class TicketFactRow(Base):
    """One narrow row per ticket with what the metrics ask of it, kept by ``analytics.facts``.

    Derived from the ticket, its first decision, its event log and its survey, and
    recomputed whole whenever the ticket has new events: the metrics read these rows
    through covering indexes instead of joining the wide tables.
    """

    __tablename__ = "ticket_facts"
    ticket_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime]
    team: Mapped[str] = mapped_column(String(64))  # the current team
    first_team: Mapped[str] = mapped_column(String(64))  # chosen by the first decision
    decided_by: Mapped[str] = mapped_column(String(200))  # the first decision's team_source
    priority: Mapped[str] = mapped_column(String(4))
    partner_tier: Mapped[str] = mapped_column(String(16))  # "unknown" without a partner
    deal_value: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    resolved_at: Mapped[datetime | None]  # the first solve
    resolution_seconds: Mapped[float | None] = mapped_column(Float)
    assigned_seconds: Mapped[float | None] = mapped_column(Float)  # creation to first agent
    misrouted: Mapped[bool] = mapped_column(Boolean)  # moved to another team by a person
    reopened: Mapped[bool] = mapped_column(Boolean)  # solved, then opened again
    escalated: Mapped[bool] = mapped_column(Boolean)
    has_sla: Mapped[bool] = mapped_column(Boolean)
    breached: Mapped[bool] = mapped_column(Boolean)
    survey_week: Mapped[date | None] = mapped_column(Date)  # Monday of the solve week
    survey_issued: Mapped[bool] = mapped_column(Boolean)  # a survey went out
    engagement_band: Mapped[str | None] = mapped_column(String(16))
    csat: Mapped[int | None] = mapped_column(Integer)
    nps: Mapped[int | None] = mapped_column(Integer)
    # A uniform number in [0, 1) from the ticket id: a stable sample for distributions.
    sample_key: Mapped[float] = mapped_column(Float)

    # Each metric groups by the leading columns of one index and finds every other column
    # it reads in that index too, so SQLite streams its GROUP BY without a sort.
    __table_args__ = (
        Index("ix_facts_created", "created_at", "team", "partner_tier", "deal_value",
              "resolution_seconds", "score"),
        Index("ix_facts_sample", "sample_key", "created_at", "team", "partner_tier",
              "deal_value", "resolution_seconds", "score", "decided_by", "first_team"),
        Index("ix_facts_deal", "deal_value", "created_at", "team", "partner_tier",
              "resolution_seconds"),
        Index("ix_facts_decided", "decided_by", "first_team", "team", "created_at",
              "partner_tier", "misrouted", "escalated", "resolved_at", "resolution_seconds",
              "reopened", "csat"),
        Index("ix_facts_sla", "team", "priority", "partner_tier", "created_at", "has_sla",
              "breached", "escalated", "assigned_seconds", "resolved_at"),
        Index("ix_facts_survey", "engagement_band", "survey_week", "created_at", "team",
              "partner_tier", "survey_issued", "csat", "nps"),
        # The scrape's latency histogram: a range count per bucket.
        Index("ix_facts_assigned", "assigned_seconds"),
    )  # fmt: skip
