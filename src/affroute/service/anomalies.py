"""Attribution anomalies in the service: ingest events, scan them, store and handle findings.

A finding is stored once: while an anomaly with its fingerprint is unresolved, a rescan
updates that row (severity, evidence, last seen) instead of adding another. Every change
that alters which anomalies are open bumps the routing context in the same transaction,
so the next ticket from the partner is routed with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

import polars as pl
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from affroute.anomaly.detect import Finding, ScanResult, scan
from affroute.anomaly.events import COUNT_SCHEMA, EVENT_SCHEMA
from affroute.config import AnomalyConfig
from affroute.domain import AnomalyStatus
from affroute.service.errors import ConflictError, NotFoundError
from affroute.service.runtime import CONTEXT_COUNTER, RoutingCache, bump
from affroute.service.uow import UnitOfWork
from affroute.store.db import upsert_statement
from affroute.store.models import (
    AnomalyRow,
    AttributionEventRow,
    ConversionCountRow,
    MetaRow,
    PartnerRow,
)

EVENTS_COUNTER = "events"
SCANNED_COUNTER = "events_scanned"
_CHUNK = 1000


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"


@dataclass(frozen=True, slots=True)
class Recorded:
    """What storing a scan's findings did."""

    new: list[str]  # ids of anomalies stored for the first time
    updated: list[str]  # ids of unresolved anomalies seen again


def anomaly_id(finding: Finding, now: datetime) -> str:
    """A stable id for a finding first stored at ``now`` (a recurrence gets a new one)."""
    digest = hashlib.sha256(f"{finding.key}|{now.isoformat()}".encode()).hexdigest()
    return f"AN-{digest[:16]}"


def record_findings(*, session: Session, findings: Sequence[Finding], now: datetime) -> Recorded:
    """Store new findings and refresh the unresolved anomalies that were found again."""
    if not findings:
        return Recorded([], [])
    by_key = {f.key: f for f in findings}
    existing = {
        row.fingerprint: row
        for start in range(0, len(by_key), _CHUNK)
        for row in session.scalars(
            select(AnomalyRow).where(
                AnomalyRow.fingerprint.in_(list(by_key)[start : start + _CHUNK]),
                AnomalyRow.status != AnomalyStatus.RESOLVED.value,
            )
        )
    }
    new: list[str] = []
    updated: list[str] = []
    for key, finding in by_key.items():
        row = existing.get(key)
        if row is None:
            row = AnomalyRow(
                id=anomaly_id(finding, now),
                kind=finding.kind,
                partner_id=finding.partner_id,
                campaign_id=finding.campaign_id,
                status=AnomalyStatus.OPEN.value,
                fingerprint=key,
                detected_at=now,
            )
            session.add(row)
            new.append(row.id)
        else:
            updated.append(row.id)
        row.severity = finding.severity
        row.summary = finding.summary
        row.evidence = finding.evidence
        row.last_seen_at = now
        row.updated_at = now
    session.flush()
    bump(session, CONTEXT_COUNTER)
    return Recorded(new, updated)


def get(*, session: Session, anomaly_id: str) -> AnomalyRow:
    row = session.get(AnomalyRow, anomaly_id)
    if row is None:
        raise NotFoundError(f"anomaly {anomaly_id!r} does not exist")
    return row


def list_anomalies(
    *,
    session: Session,
    status: Collection[AnomalyStatus] = (),
    kind: str | None = None,
    partner_id: str | None = None,
    campaign_id: str | None = None,
    detected_from: datetime | None = None,
    detected_to: datetime | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[AnomalyRow]:
    """Anomalies matching every filter given, by id, ``limit`` after the id ``after``."""
    query = select(AnomalyRow).order_by(AnomalyRow.id).limit(limit)
    if status:
        query = query.where(AnomalyRow.status.in_([s.value for s in status]))
    for column, value in (
        (AnomalyRow.kind, kind),
        (AnomalyRow.partner_id, partner_id),
        (AnomalyRow.campaign_id, campaign_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if detected_from is not None:
        query = query.where(AnomalyRow.detected_at >= detected_from)
    if detected_to is not None:
        query = query.where(AnomalyRow.detected_at < detected_to)
    if after is not None:
        query = query.where(AnomalyRow.id > after)
    return list(session.scalars(query))


def change_status(
    *, session: Session, anomaly_id: str, status: AnomalyStatus, actor: str, now: datetime
) -> AnomalyRow:
    """Acknowledge or resolve an anomaly; a resolved one stays resolved (a rescan reopens
    it as a new anomaly if the problem is still there)."""
    row = get(session=session, anomaly_id=anomaly_id)
    if row.status == AnomalyStatus.RESOLVED.value:
        raise ConflictError(f"anomaly {anomaly_id!r} is already resolved", {"field": "status"})
    if status is AnomalyStatus.OPEN:
        raise ConflictError("an anomaly cannot be reopened by hand", {"field": "status"})
    if status is AnomalyStatus.ACKNOWLEDGED:
        row.acknowledged_at = row.acknowledged_at or now
    else:
        row.resolved_at, row.resolved_by = now, actor
    row.status = status.value
    row.updated_at = now
    session.flush()
    bump(session, CONTEXT_COUNTER)
    return row


RESOLVED_BY_SCAN = "scan"


def resolve_unseen(*, session: Session, config: AnomalyConfig, now: datetime) -> list[str]:
    """Resolve the scan-found anomalies no scan has found for ``config.resolve_after``
    (uploaded ones, and everything when it is unset, wait for a person); their ids."""
    if config.resolve_after is None:
        return []
    resolved = list(
        session.scalars(
            update(AnomalyRow)
            .where(
                AnomalyRow.fingerprint.is_not(None),
                AnomalyRow.status != AnomalyStatus.RESOLVED.value,
                AnomalyRow.last_seen_at < now - config.resolve_after,
            )
            .values(
                status=AnomalyStatus.RESOLVED.value,
                resolved_at=now,
                resolved_by=RESOLVED_BY_SCAN,
                updated_at=now,
            )
            .returning(AnomalyRow.id)
        )
    )
    if resolved:
        bump(session, CONTEXT_COUNTER)  # the router stops flagging their partners
    return resolved


@dataclass(frozen=True, slots=True)
class PeriodCount:
    start: date
    detected: int
    resolved: int


def _period_start(moment: datetime, period: Period) -> date:
    day = moment.date()
    return day - timedelta(days=day.weekday()) if period is Period.WEEK else day


def counts_over_time(
    *, session: Session, period: Period, since: datetime | None, until: datetime | None
) -> list[PeriodCount]:
    """Anomalies detected and resolved per day or week (weeks start on Monday, UTC)."""
    detected: dict[date, int] = {}
    resolved: dict[date, int] = {}
    for column, tally in ((AnomalyRow.detected_at, detected), (AnomalyRow.resolved_at, resolved)):
        query = select(column).where(column.is_not(None))
        if since is not None:
            query = query.where(column >= since)
        if until is not None:
            query = query.where(column < until)
        for moment in session.scalars(query):
            if moment is None:
                continue
            start = _period_start(moment, period)
            tally[start] = tally.get(start, 0) + 1
    return [
        PeriodCount(start, detected.get(start, 0), resolved.get(start, 0))
        for start in sorted(detected.keys() | resolved.keys())
    ]


# --- events -------------------------------------------------------------------------------


def known_partners(session: Session) -> set[str]:
    return set(session.scalars(select(PartnerRow.id)))


@dataclass(frozen=True, slots=True)
class StoredEvents:
    events: int  # newly stored
    repeats: int  # events whose event_id was stored before: not stored again
    daily_counts: int  # stored or updated


def store_events(
    *, session: Session, events: pl.DataFrame, counts: pl.DataFrame, now: datetime
) -> StoredEvents:
    """Append events and upsert daily counts; the continuous scan will look at them.

    An event whose ``event_id`` is already stored (a sender retrying a batch) is skipped
    and counted; events without an id are always stored. Two requests racing with the same
    new ids store each once (the unique index) and may both count it as stored."""
    rows = events.drop("line").with_columns(pl.col("event").cast(pl.String)).to_dicts()
    stored = 0
    for start in range(0, len(rows), _CHUNK):
        chunk = [dict(r, ingested_at=now) for r in rows[start : start + _CHUNK]]
        ids = [r["event_id"] for r in chunk if r["event_id"] is not None]
        if ids:  # skip the ids stored before; the unique index settles a concurrent race
            known = set(
                session.scalars(
                    select(AttributionEventRow.event_id).where(
                        AttributionEventRow.event_id.in_(ids)
                    )
                )
            )
            chunk = [r for r in chunk if r["event_id"] is None or r["event_id"] not in known]
            statement = upsert_statement(session, AttributionEventRow).on_conflict_do_nothing(
                index_elements=["event_id"]
            )
        else:
            statement = insert(AttributionEventRow)
        if chunk:
            session.execute(statement, chunk)
        stored += len(chunk)
    count_rows = counts.drop("line").with_columns(pl.col("campaign_id").fill_null("")).to_dicts()
    for start in range(0, len(count_rows), _CHUNK):
        statement = upsert_statement(session, ConversionCountRow).values(
            [dict(r, updated_at=now) for r in count_rows[start : start + _CHUNK]]
        )
        statement = statement.on_conflict_do_update(
            index_elements=["day", "partner_id", "campaign_id"],
            set_={
                c: statement.excluded[c]
                for c in ("network_conversions", "advertiser_conversions", "updated_at")
            },
        )
        session.execute(statement)
    if stored or count_rows:
        bump(session, EVENTS_COUNTER)
    return StoredEvents(stored, len(rows) - stored, len(count_rows))


@dataclass(slots=True)
class EventWindow:
    """The stored events of the scan's lookback, kept in memory between one worker's scans.

    A scan reads only the events stored since the last one (by ``ingested_at``, read again
    with an overlap of ``overlap`` so that a batch committed a moment after its clock
    reading is not missed; rows already held are dropped by id), and the whole window again
    every ``reload_every`` as a safety net. Without it every scan read the whole lookback.
    """

    overlap: timedelta = timedelta(minutes=5)
    reload_every: timedelta = timedelta(hours=1)
    events: pl.DataFrame | None = None
    read_from: datetime | None = None  # the clock reading when the last read began
    loaded_at: datetime | None = None  # the last full read

    def full_read_due(self, now: datetime) -> bool:
        return self.loaded_at is None or now - self.loaded_at >= self.reload_every


_EVENT_COLUMNS = [c for c in EVENT_SCHEMA if c != "line"]


def _read_events(session: Session, *conditions: Any) -> pl.DataFrame:
    """Stored events as an event frame; ``line`` is the row's id."""
    result = session.execute(
        select(
            AttributionEventRow.id, *(getattr(AttributionEventRow, c) for c in _EVENT_COLUMNS)
        ).where(*conditions)
    )
    return pl.DataFrame(
        [tuple(r) for r in result],
        schema={"line": pl.Int64(), **_stored(_EVENT_COLUMNS)},
        orient="row",
    ).with_columns(
        pl.col("event").cast(EVENT_SCHEMA["event"]),
        pl.col("at").dt.replace_time_zone(None).dt.replace_time_zone("UTC"),
        pl.col("click_at").dt.replace_time_zone(None).dt.replace_time_zone("UTC"),
    )


def load_window(
    session: Session,
    lookback: timedelta,
    window: EventWindow | None = None,
    now: datetime | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The stored events and counts of the last ``lookback`` before the newest event
    (with a ``window`` and the clock's ``now``: reading only what arrived since)."""
    newest = session.scalar(select(func.max(AttributionEventRow.at)))
    newest_day = session.scalar(select(func.max(ConversionCountRow.day)))
    if newest_day is not None:
        end_of_day = datetime.combine(newest_day, time.max, tzinfo=UTC)
        newest = end_of_day if newest is None else max(newest, end_of_day)
    if newest is None:
        return pl.DataFrame(schema=EVENT_SCHEMA), pl.DataFrame(schema=COUNT_SCHEMA)
    since = newest - lookback
    if window is None or now is None:
        events = _read_events(session, AttributionEventRow.at >= since)
    elif window.events is None or window.read_from is None or window.full_read_due(now):
        events = _read_events(session, AttributionEventRow.at >= since)
        window.events, window.read_from, window.loaded_at = events, now, now
    else:
        arrived = _read_events(
            session,
            AttributionEventRow.ingested_at >= window.read_from - window.overlap,
            AttributionEventRow.at >= since,
        )
        held = window.events.filter(pl.col("at") >= since)
        events = pl.concat(
            [held, arrived.join(held.select("line"), on="line", how="anti")], how="vertical"
        )
        window.events, window.read_from = events, now
    count_columns = [c for c in COUNT_SCHEMA if c != "line"]
    counts_result = session.execute(
        select(*(getattr(ConversionCountRow, c) for c in count_columns)).where(
            ConversionCountRow.day >= since.date()
        )
    )
    counts = pl.DataFrame(
        [tuple(r) for r in counts_result],
        schema={c: COUNT_SCHEMA[c] for c in count_columns},
        orient="row",
    ).with_columns(
        pl.lit(0, pl.Int64()).alias("line"),
        pl.when(pl.col("campaign_id") == "")
        .then(None)
        .otherwise("campaign_id")
        .alias("campaign_id"),
    )
    return events.select(list(EVENT_SCHEMA)), counts.select(list(COUNT_SCHEMA))


def _stored(columns: Sequence[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {c: EVENT_SCHEMA[c] for c in columns}
    schema["event"] = pl.String()
    for name in ("at", "click_at"):
        schema[name] = pl.Datetime("us")  # aware values come back; normalised after
    return schema


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    scanned: bool
    events: int
    result: ScanResult | None
    recorded: Recorded | None


def scan_new_events(
    *,
    uow: UnitOfWork,
    cache: RoutingCache,
    now: datetime,
    thresholds: AnomalyConfig | None = None,
    window: EventWindow | None = None,
) -> ScanOutcome:
    """Scan the stored events if any arrived since the last scan; store what is found.
    With a ``window`` (one per worker) only the events stored since are read.

    Several workers may run this at once: the unique open fingerprint keeps one row per
    anomaly, and a worker that loses that race retries and finds the row.
    """

    def counters(session: Session) -> tuple[int, int]:
        values = dict(
            session.execute(
                select(MetaRow.key, MetaRow.value).where(
                    MetaRow.key.in_((EVENTS_COUNTER, SCANNED_COUNTER))
                )
            ).all()
        )
        return values.get(EVENTS_COUNTER, 0), values.get(SCANNED_COUNTER, 0)

    thresholds_given = thresholds
    seen, scanned = uow.run(counters)
    if seen == scanned:
        return ScanOutcome(False, 0, None, None)

    def work(session: Session) -> ScanOutcome:
        thresholds = thresholds_given or cache.current(session).config.anomalies
        events, counts = load_window(session, thresholds.lookback, window, now)
        result = scan(events, counts, thresholds)
        recorded = record_findings(session=session, findings=result.findings, now=now)
        session.execute(update(MetaRow).where(MetaRow.key == SCANNED_COUNTER).values(value=seen))
        return ScanOutcome(True, events.height, result, recorded)

    return uow.run(work)
