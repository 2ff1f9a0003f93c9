"""The measurement table, each metric a function ``(session, filters) -> dataclass rows``.

Every metric reads ``ticket_facts`` (see ``affroute.analytics.facts``), through the index
that leads with the columns it groups by. Counts, rates and means are exact. Medians and
correlations need each ticket's value: they are exact up to ``SAMPLE_LIMIT`` resolved
tickets and beyond that come from a uniform sample of about that many (by ``sample_key``);
each row says how many tickets its figure came from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from itertools import pairwise
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from affroute.analytics.stats import DEFAULT_EDGES, NO_DEAL, Segment, median, pearson, segments
from affroute.analytics.stats import spearman as spearman_rho
from affroute.service.errors import NotFoundError
from affroute.service.satisfaction import Satisfaction, monday, nps_of_counts
from affroute.service.sla import GroupCounts
from affroute.store.models import (
    AnomalyRow,
    ConfigVersionRow,
    ModelRow,
    PartnerRow,
    TicketFactRow,
)

F = TicketFactRow
SAMPLE_LIMIT = 50_000
HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Filters:
    """Tickets created in ``[created_from, created_to)``, of a team, of a partner tier."""

    created_from: datetime | None = None
    created_to: datetime | None = None
    team: str | None = None  # the ticket's current team
    partner_tier: str | None = None  # "unknown" for tickets without a partner


def _where(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.created_from is not None:
        conditions.append(F.created_at >= filters.created_from)
    if filters.created_to is not None:
        conditions.append(F.created_at < filters.created_to)
    if filters.team is not None:
        conditions.append(F.team == filters.team)
    if filters.partner_tier is not None:
        conditions.append(F.partner_tier == filters.partner_tier)
    return conditions


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _sampled(
    session: Session, where: list[ColumnElement[bool]], resolved: int, *columns: object
) -> list[tuple[Any, ...]]:
    """Resolved tickets' values: all of them, or about ``SAMPLE_LIMIT`` chosen uniformly."""
    conditions = [*where, F.resolution_seconds.is_not(None)]
    if resolved > SAMPLE_LIMIT:
        conditions.append(F.sample_key < SAMPLE_LIMIT / resolved)
    return [tuple(row) for row in session.execute(select(*columns).where(*conditions))]  # type: ignore[call-overload]


# -- resolution time by deal-value segment ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigChange:
    version: str
    activated_at: datetime
    active: bool


@dataclass(frozen=True, slots=True)
class SegmentResolution:
    period: str  # "all", or "before" / "after" the chosen configuration change
    segment: str
    low: float | None  # deal value, inclusive
    high: float | None  # deal value, exclusive
    tickets: int
    resolved: int
    mean_hours: float | None
    median_hours: float | None
    median_of: int  # resolved tickets the median was computed from


def config_changes(*, session: Session) -> list[ConfigChange]:
    """Every configuration version by activation time, oldest first."""
    rows = session.execute(
        select(
            ConfigVersionRow.version, ConfigVersionRow.created_at, ConfigVersionRow.active
        ).order_by(ConfigVersionRow.created_at, ConfigVersionRow.version)
    )
    return [ConfigChange(*row) for row in rows]


def config_change(*, session: Session, version: str) -> ConfigChange:
    """A version's activation; ``latest`` is the last one that replaced another."""
    changes = config_changes(session=session)
    if version == "latest":
        if len(changes) < 2:
            raise NotFoundError("no configuration change yet: only one version was activated")
        return changes[-1]
    for change in changes:
        if change.version == version:
            return change
    raise NotFoundError(f"configuration version {version!r} does not exist")


def resolution_by_segment(
    *,
    session: Session,
    filters: Filters,
    edges: Sequence[float] = DEFAULT_EDGES,
    around: str | None = None,
) -> list[SegmentResolution]:
    """Mean and median resolution hours per deal-value segment.

    With ``around`` (a config version, or ``latest``) the window is split at its
    activation, and each segment has a ``before`` and an ``after`` row.
    """
    bands = segments(edges)
    split = None if around is None else config_change(session=session, version=around).activated_at
    return _resolution(session, filters, bands, split)


def _segment_condition(segment: Segment) -> ColumnElement[bool]:
    if segment is NO_DEAL:
        return F.deal_value.is_(None)
    conditions = []
    if segment.low is not None:
        conditions.append(F.deal_value >= segment.low)
    if segment.high is not None:
        conditions.append(F.deal_value < segment.high)
    return and_(*conditions)


def _resolution(
    session: Session, filters: Filters, bands: list[Segment], split: datetime | None
) -> list[SegmentResolution]:
    """Rows per period ("all", or "before" and "after" ``split``) and segment.

    Each segment is one range of the deal-value index, read once for both periods (exact
    counts and means); one sample of the whole window gives the medians of both.
    """
    where = _where(filters)
    periods: list[tuple[str, ColumnElement[bool] | None]] = (
        [("all", None)] if split is None
        else [("before", F.created_at < split), ("after", F.created_at >= split)]
    )  # fmt: skip
    measures: list[Any] = []
    for _, inside in periods:
        for measure in (func.count(), func.count(F.resolution_seconds),
                        func.sum(F.resolution_seconds)):  # fmt: skip
            measures.append(measure if inside is None else measure.filter(inside))
    totals = [
        session.execute(select(*measures).where(*where, _segment_condition(band))).one()
        for band in bands
    ]
    resolved = sum(int(row[1 + 3 * i] or 0) for row in totals for i in range(len(periods)))
    points = _sampled(session, where, resolved, F.created_at, F.deal_value, F.resolution_seconds)
    hours: dict[tuple[str, str], list[float]] = defaultdict(list)
    for created, value, seconds in points:
        period = "all" if split is None else "before" if created < split else "after"
        band = next((b for b in bands if b.holds(value)), None)
        if band is not None:
            hours[(period, band.name)].append(seconds / HOUR)
    rows = []
    for i, (period, _) in enumerate(periods):
        for band, row in zip(bands, totals, strict=True):
            tickets, done, total = row[3 * i : 3 * i + 3]
            mine = hours[(period, band.name)]
            rows.append(
                SegmentResolution(
                    period=period, segment=band.name, low=band.low, high=band.high,
                    tickets=int(tickets or 0), resolved=int(done or 0),
                    mean_hours=float(total) / done / HOUR if done else None,
                    median_hours=median(mine), median_of=len(mine),
                )
            )  # fmt: skip
    return rows


# -- satisfaction by engagement level, and its trend ------------------------------------------


@dataclass
class _SurveyTally:
    issued: int = 0
    responses: int = 0
    csat_sum: int = 0
    csat_count: int = 0
    nps_count: int = 0
    promoters: int = 0
    detractors: int = 0

    def add(self, other: tuple[int, ...]) -> None:
        self.issued += other[0]
        self.responses += other[1]
        self.csat_sum += other[2]
        self.csat_count += other[3]
        self.nps_count += other[4]
        self.promoters += other[5]
        self.detractors += other[6]

    def row(self, group: str, week: date | None) -> Satisfaction:
        return Satisfaction(
            group=group,
            week=week,
            surveys=self.issued,
            responses=self.responses,
            response_rate=_share(self.responses, self.issued),
            csat=self.csat_sum / self.csat_count if self.csat_count else None,
            nps=nps_of_counts(self.promoters, self.detractors, self.nps_count),
        )


def _survey_tallies(session: Session, filters: Filters) -> dict[tuple[str, date], _SurveyTally]:
    """Surveys that went out, per engagement band and week solved."""
    answered = or_(F.csat.is_not(None), F.nps.is_not(None))
    rows = session.execute(
        select(
            F.engagement_band, F.survey_week,
            func.count().filter(F.survey_issued.is_(True)),
            func.count().filter(answered),
            func.coalesce(func.sum(F.csat), 0), func.count(F.csat), func.count(F.nps),
            func.count().filter(F.nps >= 9), func.count().filter(F.nps <= 6),
        )
        .where(*_where(filters), F.survey_week.is_not(None), F.survey_issued.is_(True))
        .group_by(F.engagement_band, F.survey_week)
    )  # fmt: skip
    tallies: dict[tuple[str, date], _SurveyTally] = {}
    for band, week, *counts in rows:
        if week is not None:
            tally = tallies.setdefault((band or "unknown", week), _SurveyTally())
            tally.add(tuple(int(c or 0) for c in counts))
    return tallies


def satisfaction_by_engagement(*, session: Session, filters: Filters) -> list[Satisfaction]:
    """CSAT, NPS and response rate per engagement band: the whole window, then each week."""
    return _by_engagement(_survey_tallies(session, filters))


def satisfaction_trend(*, session: Session, filters: Filters) -> list[Satisfaction]:
    """CSAT, NPS and response rate of all surveyed tickets, week by week (group ``all``)."""
    return _trend(_survey_tallies(session, filters))


@dataclass(frozen=True, slots=True)
class SurveyFigures:
    by_engagement: list[Satisfaction]
    trend: list[Satisfaction]
    overall: Satisfaction


def survey_figures(*, session: Session, filters: Filters) -> SurveyFigures:
    """The three satisfaction views above from one read of the facts (the overview's)."""
    tallies = _survey_tallies(session, filters)
    return SurveyFigures(_by_engagement(tallies), _trend(tallies), _overall(tallies))


def _counts(t: _SurveyTally) -> tuple[int, ...]:
    return (t.issued, t.responses, t.csat_sum, t.csat_count, t.nps_count, t.promoters,
            t.detractors)  # fmt: skip


def _by_engagement(tallies: dict[tuple[str, date], _SurveyTally]) -> list[Satisfaction]:
    result = []
    for band in sorted({band for band, _ in tallies}):
        weeks = sorted(week for b, week in tallies if b == band)
        overall = _SurveyTally()
        for week in weeks:
            overall.add(_counts(tallies[(band, week)]))
        result.append(overall.row(band, None))
        result.extend(tallies[(band, week)].row(band, week) for week in weeks)
    return result


def _trend(tallies: dict[tuple[str, date], _SurveyTally]) -> list[Satisfaction]:
    weekly: dict[date, _SurveyTally] = defaultdict(_SurveyTally)
    for (_, week), t in tallies.items():
        weekly[week].add(_counts(t))
    return [weekly[week].row("all", week) for week in sorted(weekly)]


def _overall(tallies: dict[tuple[str, date], _SurveyTally]) -> Satisfaction:
    whole = _SurveyTally()
    for t in tallies.values():
        whole.add(_counts(t))
    return whole.row("all", None)


# -- misroutes and escalations ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MisrouteRate:
    decided_by: str  # rule:<name>, model:<name>, default, or "all"
    kind: str  # rule, model, default, person, escalation, all
    tickets: int
    misrouted: int  # moved to another team by a person
    misroute_rate: float | None
    escalated: int
    escalation_rate: float | None


def misroute_rate(*, session: Session, filters: Filters) -> list[MisrouteRate]:
    """Share of tickets reassigned to another team, by what made the first decision; the
    share escalated beside it; the last row (``all``) covers every ticket."""
    rows = session.execute(
        select(
            F.decided_by,
            func.count(),
            func.count().filter(F.misrouted.is_(True)),
            func.count().filter(F.escalated.is_(True)),
        )
        .where(*_where(filters))
        .group_by(F.decided_by)
    ).all()
    result = [_misroute(source, int(n), int(m), int(e)) for source, n, m, e in rows]
    result.sort(key=lambda r: (-r.tickets, r.decided_by))
    total = [
        sum(getattr(r, name) for r in result) for name in ("tickets", "misrouted", "escalated")
    ]
    result.append(_misroute("all", *total))
    return result


def _misroute(source: str, tickets: int, misrouted: int, escalated: int) -> MisrouteRate:
    return MisrouteRate(
        decided_by=source,
        kind=source.split(":", 1)[0],
        tickets=tickets,
        misrouted=misrouted,
        misroute_rate=_share(misrouted, tickets),
        escalated=escalated,
        escalation_rate=_share(escalated, tickets),
    )


# -- routing outcomes -------------------------------------------------------------------------


class OutcomeKey(StrEnum):
    DECIDED_BY = "decided_by"  # rule:<name>, model:<name>, default
    TEAM = "team"  # the team the first decision chose


@dataclass(frozen=True, slots=True)
class RoutingOutcome:
    group: str
    tickets: int
    solved: int
    csat: float | None
    responses: int
    median_resolution_hours: float | None
    mean_resolution_hours: float | None
    reopen_rate: float | None
    reassignment_rate: float  # share of tickets moved to another team by a person
    median_of: int = 0  # solved tickets the median was computed from


def routing_outcomes(*, session: Session, filters: Filters, by: OutcomeKey) -> list[RoutingOutcome]:
    """What each first decision led to, grouped by what made it or by the team it chose:
    CSAT, resolution hours, reopen and reassignment rates."""
    rows = session.execute(
        select(
            F.decided_by, F.first_team,
            func.count(), func.count(F.resolution_seconds), func.sum(F.resolution_seconds),
            func.count().filter(F.reopened.is_(True)), func.count().filter(F.misrouted.is_(True)),
            func.count(F.csat), func.sum(F.csat),
        )
        .where(*_where(filters))
        .group_by(F.decided_by, F.first_team)  # the index's leading columns: no sort
    )  # fmt: skip
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0, 0, 0, 0])
    for source, team, *counts in rows:
        mine = totals[source if by is OutcomeKey.DECIDED_BY else team]
        for i, value in enumerate(counts):
            mine[i] += value or 0
    where = _where(filters)
    solved = int(sum(t[1] for t in totals.values()))
    column = F.decided_by if by is OutcomeKey.DECIDED_BY else F.first_team
    hours: dict[str, list[float]] = defaultdict(list)
    for group, seconds in _sampled(session, where, solved, column, F.resolution_seconds):
        hours[group].append(seconds / HOUR)
    result = []
    for group in sorted(totals):
        tickets, done, seconds, reopened, moved, answers, csat = totals[group]
        result.append(
            RoutingOutcome(
                group=group, tickets=int(tickets), solved=int(done),
                csat=csat / answers if answers else None, responses=int(answers),
                median_resolution_hours=median(hours[group]),
                mean_resolution_hours=seconds / done / HOUR if done else None,
                reopen_rate=_share(int(reopened), int(done)),
                reassignment_rate=moved / tickets, median_of=len(hours[group]),
            )
        )  # fmt: skip
    return result


# -- attribution errors over time -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttributionWeek:
    week: date  # Monday
    detected: int
    resolved: int
    open: int  # detected and not yet resolved at the end of the week


def attribution_errors(*, session: Session, filters: Filters) -> list[AttributionWeek]:
    """Attribution anomalies detected and resolved per week (by partner tier; not by team)."""
    found_at = func.coalesce(AnomalyRow.detected_at, AnomalyRow.updated_at)
    query = select(found_at, AnomalyRow.resolved_at)
    if filters.partner_tier is not None:
        query = query.join(PartnerRow, PartnerRow.id == AnomalyRow.partner_id).where(
            PartnerRow.tier == filters.partner_tier
        )
    detected: dict[date, int] = defaultdict(int)
    resolved: dict[date, int] = defaultdict(int)
    for found, fixed in session.execute(query):
        detected[monday(found)] += 1
        if fixed is not None:
            resolved[monday(fixed)] += 1
    weeks = sorted(set(detected) | set(resolved))
    start = monday(filters.created_from) if filters.created_from else None
    end = filters.created_to.date() if filters.created_to else None
    result, still_open = [], 0
    for week in weeks:
        still_open += detected[week] - resolved[week]
        if (start is None or week >= start) and (end is None or week < end):
            result.append(AttributionWeek(week, detected[week], resolved[week], still_open))
    return result


# -- priority score and resolution speed ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoreBin:
    low: float
    high: float
    tickets: int  # resolved tickets of the sample in this bin
    mean_hours: float | None
    median_hours: float | None


@dataclass(frozen=True, slots=True)
class ScorePoint:
    score: float
    hours: float


@dataclass(frozen=True, slots=True)
class ScoreCorrelation:
    """How priority score goes with resolution hours: negative means high scores go faster."""

    resolved: int  # resolved tickets in the window
    sample: int  # of which the figures below were computed from
    pearson: float | None
    spearman: float | None
    bins: list[ScoreBin] = field(default_factory=list)
    points: list[ScorePoint] = field(default_factory=list)  # at most ``POINTS``, for a scatter


POINTS = 500


def score_resolution_correlation(
    *, session: Session, filters: Filters, bin_width: float = 10.0
) -> ScoreCorrelation:
    """Pearson and Spearman correlation of score with resolution hours; binned medians."""
    if not 1.0 <= bin_width <= 50.0:
        raise ValueError("bin_width is between 1 and 50 score points")
    where = _where(filters)
    resolved = int(
        session.scalar(select(func.count()).where(*where, F.resolution_seconds.is_not(None))) or 0
    )
    pairs = _sampled(session, where, resolved, F.score, F.resolution_seconds)
    scores = np.array([p[0] for p in pairs], dtype=np.float64)
    hours = np.array([p[1] for p in pairs], dtype=np.float64) / HOUR
    bins = []
    edges = np.arange(0.0, 100.0 + bin_width, bin_width)
    for low, high in pairwise(edges):
        last = high >= 100.0  # the top bin holds a score of exactly 100
        inside = (scores >= low) & ((scores <= high) if last else (scores < high))
        chosen = hours[inside]
        bins.append(
            ScoreBin(
                low=float(low), high=float(min(high, 100.0)), tickets=int(chosen.size),
                mean_hours=float(chosen.mean()) if chosen.size else None,
                median_hours=median(chosen),
            )
        )  # fmt: skip
    step = max(1, len(pairs) // POINTS)
    points = [
        ScorePoint(float(s), float(h)) for s, h in zip(scores[::step], hours[::step], strict=True)
    ]
    return ScoreCorrelation(
        resolved=resolved,
        sample=len(pairs),
        pearson=pearson(scores, hours),
        spearman=spearman_rho(scores, hours),
        bins=bins,
        points=points[:POINTS],
    )


# -- SLA compliance and escalations -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlaCompliance:
    axis: str  # priority, team or partner_tier
    key: str
    tickets: int  # with an SLA clock
    breached: int
    escalated: int
    compliance: float  # share that did not breach
    escalated_share: float | None


AXES = ("priority", "team", "partner_tier")


def sla_compliance(*, session: Session, filters: Filters) -> list[SlaCompliance]:
    """Tickets with an SLA, breaches, escalations, compliance: by priority, team and tier."""
    rows = session.execute(
        select(
            F.team, F.priority, F.partner_tier,
            func.count(),
            func.count().filter(F.breached.is_(True)),
            func.count().filter(F.escalated.is_(True)),
        )
        .where(*_where(filters), F.has_sla.is_(True))
        .group_by(F.team, F.priority, F.partner_tier)
    )  # fmt: skip
    totals: dict[str, dict[str, list[int]]] = {
        axis: defaultdict(lambda: [0, 0, 0]) for axis in AXES
    }
    for team, priority, tier, tickets, breached, escalated in rows:
        for axis, key in zip(AXES, (priority, team, tier), strict=True):
            counts = totals[axis][key]
            counts[0] += int(tickets)
            counts[1] += int(breached)
            counts[2] += int(escalated)
    result = []
    for axis in AXES:
        for key in sorted(totals[axis]):
            group = GroupCounts(key, *totals[axis][key])
            result.append(
                SlaCompliance(
                    axis=axis, key=key, tickets=group.tickets, breached=group.breached,
                    escalated=group.escalated, compliance=group.compliance,
                    escalated_share=_share(group.escalated, group.tickets),
                )
            )  # fmt: skip
    return result


# -- routing model precision and recall -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelQuality:
    """Per model and team: ``live`` from outcomes, or ``evaluation`` from held-out data."""

    source: str
    model: str  # "model:<name>"
    team: str
    decisions: int  # tickets the model sent to this team (live, or in the held-out test)
    confirmed: int  # solved there without being moved by a person
    corrected: int  # moved to another team by a person
    missed: int  # sent elsewhere by the model, and moved here by a person
    precision: float | None  # confirmed / (confirmed + corrected)
    recall: float | None  # confirmed / (confirmed + missed)


def held_out_quality(session: Session) -> list[ModelQuality]:
    """The team models in use (active or shadow) as their last evaluation measured them: the
    held-out per-class precision and recall kept with each registered model file."""
    rows = session.execute(
        select(ModelRow.name, ModelRow.metrics)
        .where(ModelRow.label == "team", ModelRow.mode.in_(("active", "shadow")))
        .order_by(ModelRow.name)
    )
    found: list[ModelQuality] = []
    for name, figures in rows:
        for item in (figures or {}).get("classes", []):
            try:
                team, support = str(item["label"]), int(item["support"])
                precision, recall = float(item["precision"]), float(item["recall"])
            except (KeyError, TypeError, ValueError):
                continue  # a file from before per-class figures were kept
            confirmed = round(recall * support)
            sent = round(confirmed / precision) if precision else 0
            found.append(
                ModelQuality(
                    source="evaluation", model=f"model:{name}", team=team, decisions=sent,
                    confirmed=confirmed, corrected=sent - confirmed, missed=support - confirmed,
                    precision=_share(confirmed, sent), recall=_share(confirmed, support),
                )
            )  # fmt: skip
    return found


def model_quality(*, session: Session, filters: Filters) -> list[ModelQuality]:
    """Precision and recall of each routing model's team choices, judged by what happened:
    a ticket solved where the model sent it confirms it; one moved by a person corrects it.
    The models in use follow, as their last evaluation measured them (``evaluation`` rows;
    the filters do not apply to those)."""
    rows = session.execute(
        select(
            F.decided_by, F.first_team, F.team,
            func.count(),
            func.count().filter(F.misrouted.is_(True)),
            func.count().filter(F.misrouted.is_(False), F.resolved_at.is_not(None)),
        )
        .where(*_where(filters), F.decided_by.startswith("model:"))
        .group_by(F.decided_by, F.first_team, F.team)
    )  # fmt: skip
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for model, chosen, final, tickets, corrected, confirmed in rows:
        mine = tally[(model, chosen)]
        mine[0] += int(tickets)
        mine[1] += int(confirmed)
        mine[2] += int(corrected)
        if chosen != final:
            tally[(model, final)][3] += int(corrected)  # the team it should have chosen
    result = [
        ModelQuality(
            source="live", model=model, team=team, decisions=n, confirmed=ok, corrected=wrong,
            missed=missed, precision=_share(ok, ok + wrong), recall=_share(ok, ok + missed),
        )
        for (model, team), (n, ok, wrong, missed) in sorted(tally.items())
    ]  # fmt: skip
    return result + held_out_quality(session)
