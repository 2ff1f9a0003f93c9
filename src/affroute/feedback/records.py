"""Outcome records in CSV or JSON Lines files: read with line-numbered errors, and write.

One flat row per ticket. Rule names are a list (JSONL) or separated by ``;`` (CSV); the
score breakdown is one ``factor_<name>`` column per factor. A ticket appears once.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, Field, field_validator

from affroute.config import FACTORS
from affroute.domain import Category, PartnerTier, Priority, PromotionType, Urgency
from affroute.feedback.outcomes import DecidedBy, TicketOutcome
from affroute.service.records import Loaded, Record, load_rows

Unit = Field(ge=0, le=1)
Hours = Field(ge=0)


class OutcomeRecord(Record):
    # `load_rows` refuses a second row with the same `id`: one outcome per ticket.
    id: str = Field(alias="ticket_id", min_length=1)
    created_at: AwareDatetime
    category: Category | None = None
    region: str = ""
    partner_tier: PartnerTier | None = None
    engagement_percentile: float = Unit
    deal_value: float | None = Field(default=None, ge=0)
    promotion_type: PromotionType | None = None
    urgency: Urgency
    urgency_detected: bool = False
    has_open_anomaly: bool = False
    team: str = Field(min_length=1)
    team_source: str = Field(min_length=1)
    rules: list[str] = Field(default_factory=list)
    priority: Priority
    score: float = Field(ge=0, le=100)
    factor_deal_value: float = Unit
    factor_engagement: float = Unit
    factor_lead_volume: float = Unit
    factor_urgency: float = Unit
    factor_attribution_anomaly: float = Unit
    agent_id: str | None = None
    resolution_hours: float = Hours
    first_response_hours: float | None = Field(default=None, ge=0)
    sla_breached: bool = False
    reassigned: bool = False
    reopened: bool = False
    csat: int | None = Field(default=None, ge=1, le=5)
    nps: int | None = Field(default=None, ge=0, le=10)

    @field_validator("rules", mode="before")
    @classmethod
    def _split_rules(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [name.strip() for name in value.split(";") if name.strip()]
        return value

    @field_validator("region", mode="after")
    @classmethod
    def _none_to_empty(cls, value: str | None) -> str:
        return value or ""

    @field_validator("team_source", mode="after")
    @classmethod
    def _known_source(cls, value: str) -> str:
        kind, _, name = value.partition(":")
        if kind not in {d.value for d in DecidedBy} or (kind == "default") == bool(name):
            raise ValueError(
                f"expected 'default', 'rule:<name>', 'model:<name>' or 'person:<id>', got {value!r}"
            )
        return value

    def to_domain(self) -> TicketOutcome:
        return TicketOutcome(
            ticket_id=self.id,
            created_at=self.created_at,
            category=self.category,
            region=self.region,
            partner_tier=self.partner_tier,
            engagement_percentile=self.engagement_percentile,
            deal_value=self.deal_value,
            promotion_type=self.promotion_type,
            urgency=self.urgency,
            urgency_detected=self.urgency_detected,
            has_open_anomaly=self.has_open_anomaly,
            team=self.team,
            team_source=self.team_source,
            rules=tuple(self.rules),
            priority=self.priority,
            score=self.score,
            factors=tuple(getattr(self, f"factor_{name}") for name in FACTORS),
            agent_id=self.agent_id,
            resolution_hours=self.resolution_hours,
            first_response_hours=self.first_response_hours,
            sla_breached=self.sla_breached,
            reassigned=self.reassigned,
            reopened=self.reopened,
            csat=self.csat,
            nps=self.nps,
        )


OUTCOME_COLUMNS: tuple[str, ...] = (
    "ticket_id",
    "created_at",
    "category",
    "region",
    "partner_tier",
    "engagement_percentile",
    "deal_value",
    "promotion_type",
    "urgency",
    "urgency_detected",
    "has_open_anomaly",
    "team",
    "team_source",
    "rules",
    "priority",
    "score",
    *(f"factor_{name}" for name in FACTORS),
    "agent_id",
    "resolution_hours",
    "first_response_hours",
    "sla_breached",
    "reassigned",
    "reopened",
    "csat",
    "nps",
)


def read_outcomes(path: Path) -> Loaded[TicketOutcome]:
    """Every valid outcome row of a .csv or .jsonl file, and each bad row's line and field."""
    loaded: Loaded[TicketOutcome] = load_rows(path, OutcomeRecord)
    return loaded


def outcome_row(outcome: TicketOutcome) -> dict[str, Any]:
    """The flat, JSON-ready row of one outcome (the columns of `OUTCOME_COLUMNS`)."""
    row: dict[str, Any] = {
        "ticket_id": outcome.ticket_id,
        "created_at": outcome.created_at.isoformat(),
        "category": outcome.category,
        "region": outcome.region,
        "partner_tier": outcome.partner_tier,
        "engagement_percentile": round(outcome.engagement_percentile, 4),
        "deal_value": outcome.deal_value,
        "promotion_type": outcome.promotion_type,
        "urgency": outcome.urgency,
        "urgency_detected": outcome.urgency_detected,
        "has_open_anomaly": outcome.has_open_anomaly,
        "team": outcome.team,
        "team_source": outcome.team_source,
        "rules": list(outcome.rules),
        "priority": outcome.priority,
        "score": round(outcome.score, 3),
        **{f"factor_{k}": round(v, 4) for k, v in outcome.factor_values.items()},
        "agent_id": outcome.agent_id,
        "resolution_hours": round(outcome.resolution_hours, 3),
        "first_response_hours": None
        if outcome.first_response_hours is None
        else round(outcome.first_response_hours, 3),
        "sla_breached": outcome.sla_breached,
        "reassigned": outcome.reassigned,
        "reopened": outcome.reopened,
        "csat": outcome.csat,
        "nps": outcome.nps,
    }
    return row


def write_outcomes(path: Path, outcomes: Iterable[TicketOutcome]) -> int:
    """Write outcomes as .jsonl or .csv (by the suffix); return how many rows were written."""
    rows = [outcome_row(o) for o in outcomes]
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    with path.open("w", encoding="utf-8", newline="") as handle:
        if suffix == ".csv":
            writer = csv.DictWriter(handle, OUTCOME_COLUMNS)
            writer.writeheader()
            writer.writerows(_csv_cells(row) for row in rows)
        elif suffix == ".jsonl":
            handle.writelines(json.dumps(row) + "\n" for row in rows)
        else:
            raise ValueError(f"{path}: expected a .csv or .jsonl file, got {suffix or 'none'!r}")
    return len(rows)


def _csv_cells(row: dict[str, Any]) -> dict[str, Any]:
    def cell(value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, Sequence) and not isinstance(value, str):
            return ";".join(value)
        return value

    return {key: cell(value) for key, value in row.items()}
