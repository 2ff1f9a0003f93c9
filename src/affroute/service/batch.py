"""Route a file of tickets: load the context tables, replay tickets in order, summarise."""

from __future__ import annotations

import heapq
import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from affroute.config import ScoringConfig
from affroute.domain import Ticket
from affroute.engine import AgentPool, Router, RoutingContext, RoutingDecision
from affroute.service.records import (
    AnomalyRecord,
    CampaignRecord,
    DealRecord,
    PartnerRecord,
    Record,
    RowError,
    load_rows,
    table_path,
)

CONTEXT_TABLES: dict[str, type[Record]] = {
    "partners": PartnerRecord,
    "deals": DealRecord,
    "campaigns": CampaignRecord,
    "anomalies": AnomalyRecord,
}


@dataclass(slots=True)
class LoadedContext:
    context: RoutingContext
    counts: dict[str, int]
    errors: list[RowError]
    missing: list[str]  # tables with no file in the directory


def read_context_folder(directory: Path, scoring: ScoringConfig) -> LoadedContext:
    """Read partners, deals, campaigns and anomalies (``.jsonl`` or ``.csv``) from a folder."""
    if not directory.is_dir():
        raise FileNotFoundError(f"context directory {directory} does not exist")
    tables: dict[str, list[object]] = {}
    errors: list[RowError] = []
    missing: list[str] = []
    for table, record_model in CONTEXT_TABLES.items():
        path = table_path(directory, table)
        if path is None:
            missing.append(table)
            tables[table] = []
            continue
        loaded = load_rows(path, record_model)
        tables[table] = loaded.items
        errors.extend(loaded.errors)
    context = RoutingContext.build(
        partners=tables["partners"],  # type: ignore[arg-type]
        deals=tables["deals"],  # type: ignore[arg-type]
        campaigns=tables["campaigns"],  # type: ignore[arg-type]
        anomalies=tables["anomalies"],  # type: ignore[arg-type]
        scoring=scoring,
    )
    return LoadedContext(context, {k: len(v) for k, v in tables.items()}, errors, missing)


@dataclass(slots=True)
class BatchSummary:
    routed: int = 0
    assigned: int = 0
    queued_at_arrival: int = 0
    pulled_later: int = 0
    still_queued: int = 0
    by_team: Counter[str] = field(default_factory=Counter)
    by_priority: Counter[str] = field(default_factory=Counter)
    by_team_priority: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)
    scores: list[float] = field(default_factory=list)

    @property
    def median_score(self) -> float:
        return statistics.median(self.scores) if self.scores else 0.0


def route_batch(
    tickets: Iterable[Ticket],
    *,
    router: Router,
    context: RoutingContext,
    pool: AgentPool,
    handling_time: timedelta | None,
    on_decision: Callable[[RoutingDecision], None],
) -> BatchSummary:
    """Route tickets in order, each at its creation time.

    With ``handling_time`` an assigned ticket frees its agent that long after assignment,
    so agents pull queued tickets as a working team would; ``None`` keeps every ticket open.
    """
    summary = BatchSummary()
    releases: list[tuple[datetime, str]] = []
    clock: datetime | None = None
    for ticket in tickets:
        clock = ticket.created_at if clock is None else max(clock, ticket.created_at)
        while releases and releases[0][0] <= clock:
            at, done = heapq.heappop(releases)
            for pulled in pool.release(done, at):
                summary.pulled_later += 1
                if handling_time is not None:
                    heapq.heappush(releases, (at + handling_time, pulled.ticket_id))
        decision = router.route(ticket, context, clock, pool)
        summary.routed += 1
        summary.by_team[decision.team] += 1
        summary.by_priority[decision.priority.value] += 1
        summary.by_team_priority[(decision.team, decision.priority.value)] += 1
        summary.by_source[decision.team_source.split(":", 1)[0]] += 1
        summary.scores.append(decision.score)
        if decision.assigned:
            summary.assigned += 1
            if handling_time is not None:
                heapq.heappush(releases, (clock + handling_time, ticket.id))
        else:
            summary.queued_at_arrival += 1
        on_decision(decision)
    summary.still_queued = pool.queued_count()
    return summary
