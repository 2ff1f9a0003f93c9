"""Read tickets and context tables from CSV or JSON Lines, row by row, with precise errors.

A bad row is reported with its file, line number and field, and skipped; it never stops
the rows after it and is never dropped silently.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from affroute.domain import (
    Anomaly,
    AnomalyStatus,
    Campaign,
    Category,
    Channel,
    Deal,
    Partner,
    PartnerTier,
    PromotionType,
    Ticket,
    Urgency,
)

T = TypeVar("T")
SUFFIXES = (".jsonl", ".csv")


@dataclass(frozen=True, slots=True)
class RowError:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(slots=True)
class Loaded(Generic[T]):
    items: list[T] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


class Record(BaseModel):
    """A row of an input file, validated field by field."""

    # Unknown columns are ignored (exports carry extra ones); empty CSV cells are "missing".
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_missing(cls, value: Any) -> Any:
        return None if value == "" else value

    def to_domain(self) -> Any:
        """The domain object this row describes."""
        raise NotImplementedError


class TicketRecord(Record):
    id: str = Field(min_length=1)
    subject: str = ""
    body: str = ""
    created_at: AwareDatetime
    partner_id: str | None = None
    deal_id: str | None = None
    campaign_id: str | None = None
    category: Category | None = None
    urgency: Urgency | None = None
    channel: str = "portal"
    region: str = ""
    tags: list[str] = Field(default_factory=list)
    external_id: str | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _split_tags(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [t.strip() for t in value.split(";") if t.strip()]
        return value

    @field_validator("subject", "body", "channel", "region", mode="after")
    @classmethod
    def _none_to_empty(cls, value: str | None) -> str:
        return value or ""

    def to_domain(self) -> Ticket:
        return Ticket(
            id=self.id,
            subject=self.subject,
            body=self.body,
            created_at=self.created_at,
            partner_id=self.partner_id,
            deal_id=self.deal_id,
            campaign_id=self.campaign_id,
            category=self.category,
            urgency=self.urgency,
            channel=self.channel or "portal",
            region=self.region,
            tags=tuple(self.tags),
            external_id=self.external_id,
        )


class PartnerRecord(Record):
    id: str = Field(min_length=1)
    name: str = ""
    tier: PartnerTier = PartnerTier.BRONZE
    region: str = ""
    weekly_active_leads: float = Field(default=0.0, ge=0)
    click_through_rate: float = Field(default=0.0, ge=0, le=1)
    portal_logins: float = Field(default=0.0, ge=0)
    lead_volume: float = Field(default=0.0, ge=0)
    account_manager: str | None = None

    def to_domain(self) -> Partner:
        return Partner(
            **self.model_dump() | {"name": self.name or self.id, "region": self.region or ""}
        )


class DealRecord(Record):
    id: str = Field(min_length=1)
    partner_id: str = Field(min_length=1)
    value: float = Field(ge=0)

    def to_domain(self) -> Deal:
        return Deal(**self.model_dump())


class CampaignRecord(Record):
    id: str = Field(min_length=1)
    name: str = ""
    channel: Channel
    region: str = ""
    promotion_type: PromotionType

    def to_domain(self) -> Campaign:
        return Campaign(
            **self.model_dump() | {"name": self.name or self.id, "region": self.region or ""}
        )


class AnomalyRecord(Record):
    id: str = Field(min_length=1)
    kind: str = Field(min_length=1)
    partner_id: str | None = None
    campaign_id: str | None = None
    severity: float = Field(default=1.0, ge=0)
    status: AnomalyStatus = AnomalyStatus.OPEN

    def to_domain(self) -> Anomaly:
        return Anomaly(**self.model_dump())


def iter_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Yield (line number, row) from a CSV or JSONL file; a string row is a parse error."""
    suffix = path.suffix.lower()
    with path.open(encoding="utf-8", newline="") as handle:
        if suffix == ".csv":
            reader = csv.DictReader(handle)
            for row in reader:
                if None in row:
                    yield reader.line_num, "more cells than the header has columns"
                else:
                    yield reader.line_num, dict(row)
        elif suffix in (".jsonl", ".ndjson", ".json"):
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, f"not valid JSON: {exc.msg} at column {exc.colno}"
                    continue
                yield number, value if isinstance(value, dict) else "expected a JSON object"
        else:
            raise ValueError(
                f"{path}: expected a .csv or .jsonl file, got {suffix or 'no suffix'!r}"
            )


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        name = ".".join(str(p) for p in err["loc"]) or "row"
        message = "required field is missing" if err["type"] == "missing" else err["msg"]
        parts.append(f"{name}: {message}")
    return "; ".join(parts)


def load_rows(
    path: Path,
    record_model: type[Record],
    progress: Callable[[int], None] | None = None,
) -> Loaded[Any]:
    """Validate every row of the file into domain objects, collecting the bad rows."""
    loaded: Loaded[Any] = Loaded()
    seen: set[str] = set()
    for count, (line, raw) in enumerate(iter_records(path), start=1):
        if progress is not None and count % 1000 == 0:
            progress(count)
        if isinstance(raw, str):
            loaded.errors.append(RowError(path, line, raw))
            continue
        try:
            row = record_model.model_validate(raw)
        except ValidationError as exc:
            loaded.errors.append(RowError(path, line, _describe(exc)))
            continue
        row_id = getattr(row, "id", None)
        if row_id in seen:
            loaded.errors.append(RowError(path, line, f"id: {row_id!r} appears more than once"))
            continue
        seen.add(str(row_id))
        loaded.items.append(row.to_domain())
    return loaded


def table_path(directory: Path, table: str) -> Path | None:
    """The file for a table in a context directory: ``table.jsonl`` or ``table.csv``."""
    for suffix in SUFFIXES:
        candidate = directory / f"{table}{suffix}"
        if candidate.exists():
            return candidate
    return None
