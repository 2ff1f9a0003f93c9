"""Reading simulation inputs (edge code): tickets with ground truth, the ServiceNow incident
log, agents with shifts. Every bad row is reported with its line and field."""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from affroute.domain import Agent, Ticket, Urgency
from affroute.service.records import Record, RowError, TicketRecord, load_rows
from affroute.sim.model import Arrival, SimAgent


class InputError(ValueError):
    """An input file has bad rows; each message names the line and the field."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        shown = "\n".join(str(e) for e in errors[:20])
        more = f"\n... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} bad row(s):\n{shown}{more}")


class ArrivalRecord(TicketRecord):
    true_team: str | None = None

    def to_domain(self) -> Arrival:  # type: ignore[override]
        return Arrival(super().to_domain(), self.true_team)


class AgentRecord(Record):
    id: str = Field(min_length=1)
    name: str = ""
    teams: list[str] = Field(min_length=1)
    skills: dict[str, int] = Field(default_factory=dict)
    capacity: int = Field(default=5, ge=1)
    shift: str = "24x7"

    @field_validator("teams", mode="before")
    @classmethod
    def _split_teams(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [t.strip() for t in value.split(";") if t.strip()]
        return value

    @field_validator("skills", mode="before")
    @classmethod
    def _split_skills(cls, value: Any) -> Any:
        # CSV form: "general:3;spanish:2"
        if value is None:
            return {}
        if isinstance(value, str):
            pairs = [p.split(":", 1) for p in value.split(";") if p.strip()]
            return {p[0].strip(): p[1].strip() if len(p) > 1 else "1" for p in pairs}
        return value

    def to_domain(self) -> SimAgent:
        agent = Agent(self.id, self.name or self.id, tuple(self.teams), self.skills, self.capacity)
        return SimAgent(agent, self.shift)


def read_arrivals(path: Path) -> list[Arrival]:
    """Tickets (``.csv`` / ``.jsonl``, the ticket columns plus an optional ``true_team``)."""
    loaded = load_rows(path, ArrivalRecord)
    if loaded.errors:
        raise InputError(loaded.errors)
    return list(loaded.items)


def read_agents(path: Path, teams: set[str], shifts: set[str]) -> list[SimAgent]:
    """Agents with teams, skills (``name:level;...``), capacity and a shift calendar."""
    loaded = load_rows(path, AgentRecord)
    errors = list(loaded.errors)
    agents: list[SimAgent] = []
    for line, agent in zip(_lines(path), loaded.items, strict=False):
        unknown = [t for t in agent.agent.teams if t not in teams]
        if unknown:
            errors.append(RowError(path, line, f"teams: unknown team(s) {', '.join(unknown)}"))
        elif agent.shift not in shifts:
            errors.append(RowError(path, line, f"shift: unknown calendar {agent.shift!r}"))
        else:
            agents.append(agent)
    if errors:
        raise InputError(sorted(errors, key=lambda e: e.line))
    return agents


def _lines(path: Path) -> list[int]:
    """The line of each good row (to name it in a later check)."""
    from affroute.service.records import iter_records

    good = []
    for line, raw in iter_records(path):
        if isinstance(raw, str):
            continue
        try:
            AgentRecord.model_validate(raw)
        except ValueError:
            continue
        good.append(line)
    return good


# The ServiceNow incident log (see ../shared/data/README.md): one row per event, many per
# incident. The mapping: number -> id, the first opened_at -> arrival time, priority 1-4 ->
# urgency, assignment_group is not one of our teams, so no ground truth.
SERVICENOW_URGENCY = {"1": Urgency.URGENT, "2": Urgency.HIGH, "3": Urgency.NORMAL, "4": Urgency.LOW}


@dataclass(frozen=True, slots=True)
class ServiceNowMapping:
    id: str = "number"
    opened_at: str = "opened_at"
    priority: str = "priority"
    time_format: str = "%d/%m/%Y %H:%M"


def read_servicenow(path: Path, mapping: ServiceNowMapping | None = None) -> list[Arrival]:
    """One arrival per incident of the ServiceNow event log (gzipped or not)."""
    mapping = mapping or ServiceNowMapping()
    opener = gzip.open if path.suffix == ".gz" else open
    seen: dict[str, Arrival] = {}
    errors: list[RowError] = []
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [
            c for c in (mapping.id, mapping.opened_at, mapping.priority)
            if c not in (reader.fieldnames or [])
        ]  # fmt: skip
        if missing:
            raise InputError([RowError(path, 1, f"{c}: column is missing") for c in missing])
        for row in reader:
            number = row[mapping.id]
            if number in seen:
                continue
            try:
                opened = datetime.strptime(row[mapping.opened_at], mapping.time_format)
            except ValueError:
                errors.append(
                    RowError(path, reader.line_num, f"{mapping.opened_at}: not a date "
                             f"in the form {mapping.time_format}: {row[mapping.opened_at]!r}")
                )  # fmt: skip
                continue
            urgency = SERVICENOW_URGENCY.get(row[mapping.priority].strip()[:1])
            ticket = Ticket(
                id=f"inc-{number}", subject="", body="", created_at=opened.replace(tzinfo=UTC),
                urgency=urgency, channel="servicenow",
            )  # fmt: skip
            seen[number] = Arrival(ticket)
    if errors:
        raise InputError(errors)
    return list(seen.values())
