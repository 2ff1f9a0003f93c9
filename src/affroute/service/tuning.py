"""The tuner on stored history: outcomes read from the database, proposals kept for review.

Each solved ticket becomes a ``TicketOutcome``: the facts as the router sees them now
(partner, deal, campaign), its first decision as stored (factor values, matched rules,
what made it), what happened after (resolution and first-response time, SLA breach,
misroute, reopen) and its survey answer. ``propose`` runs the tuner on them and keeps a
changed configuration as an open proposal; nothing changes until someone accepts it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from affroute.config import FACTORS
from affroute.domain import PartnerTier, Priority, PromotionType, Urgency
from affroute.engine import enrich
from affroute.feedback.outcomes import TicketOutcome
from affroute.feedback.tune import TuneSettings, tune
from affroute.service import configs
from affroute.service.errors import ConflictError, NotFoundError
from affroute.service.history import DONE, KINDS, History
from affroute.service.runtime import Routing
from affroute.service.tickets import ticket_from_row
from affroute.store.models import (
    DecisionRow,
    SurveyRow,
    TicketEventRow,
    TicketRow,
    TuningProposalRow,
)

_CHUNK = 500


class ProposalStatus:
    OPEN = "open"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def stored_outcomes(
    *, session: Session, routing: Routing, since: datetime | None = None
) -> list[TicketOutcome]:
    """The outcome of every solved or closed ticket created since ``since``."""
    query = select(TicketRow).where(TicketRow.status.in_(DONE))
    if since is not None:
        query = query.where(TicketRow.created_at >= since)
    rows = list(session.scalars(query.order_by(TicketRow.created_at, TicketRow.id)))
    ids = [row.id for row in rows]
    decisions: dict[str, DecisionRow] = {}
    histories: dict[str, History] = defaultdict(History)
    answers: dict[str, tuple[int | None, int | None]] = {}
    for chunk in _chunks(ids):
        firsts = (
            select(func.min(DecisionRow.id))
            .where(DecisionRow.ticket_id.in_(chunk))
            .group_by(DecisionRow.ticket_id)
        )
        for decision in session.scalars(select(DecisionRow).where(DecisionRow.id.in_(firsts))):
            decisions[decision.ticket_id] = decision
        events = session.execute(
            select(
                TicketEventRow.ticket_id,
                TicketEventRow.kind,
                TicketEventRow.data,
                TicketEventRow.at,
            )
            .where(
                TicketEventRow.ticket_id.in_(chunk),
                TicketEventRow.kind.in_(KINDS),
            )
            .order_by(TicketEventRow.id)
        )
        for ticket_id, kind, data, at in events:
            histories[ticket_id].add(kind, data, at)
        for ticket_id, csat, nps in session.execute(
            select(SurveyRow.ticket_id, SurveyRow.csat, SurveyRow.nps).where(
                SurveyRow.ticket_id.in_(chunk), SurveyRow.status == "answered"
            )
        ):
            answers[ticket_id] = (csat, nps)
    outcomes = []
    for row in rows:
        first, history = decisions.get(row.id), histories[row.id]
        if first is None or history.solved_at is None:
            continue
        outcomes.append(_outcome(row, first, history, answers.get(row.id), routing))
    return outcomes


def _hours(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds() / 3600)


def _outcome(
    row: TicketRow,
    decision: DecisionRow,
    history: History,
    answer: tuple[int | None, int | None] | None,
    routing: Routing,
) -> TicketOutcome:
    facts = enrich(ticket_from_row(row), routing.context)
    trace: dict[str, Any] = decision.trace
    factors = trace.get("factors", {})
    assert history.solved_at is not None
    return TicketOutcome(
        ticket_id=row.id,
        created_at=row.created_at,
        category=facts.ticket_category,
        region=facts.ticket_region,
        partner_tier=PartnerTier(facts.partner_tier) if facts.partner_tier else None,
        engagement_percentile=facts.engagement_percentile,
        deal_value=facts.deal_value,
        promotion_type=(
            PromotionType(facts.campaign_promotion_type) if facts.campaign_promotion_type else None
        ),
        urgency=Urgency(trace.get("urgency", Urgency.NORMAL.value)),
        urgency_detected=bool(trace.get("urgency_detected", False)),
        has_open_anomaly=bool(trace.get("anomalies")),
        team=decision.team,
        team_source=decision.team_source,
        rules=tuple(match["name"] for match in trace.get("rules_matched", ())),
        priority=Priority(decision.priority),
        score=decision.score,
        factors=tuple(float(factors.get(name, {}).get("normalised", 0.0)) for name in FACTORS),
        agent_id=trace.get("agent_id"),
        resolution_hours=_hours(history.solved_at, row.created_at),
        first_response_hours=(
            _hours(history.first_response_at, row.created_at) if history.first_response_at else None
        ),
        sla_breached=row.sla_status == "breached",
        reassigned=history.misrouted,
        reopened=history.reopened,
        csat=answer[0] if answer else None,
        nps=answer[1] if answer else None,
    )


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def propose(
    *,
    session: Session,
    routing: Routing,
    now: datetime,
    since: datetime | None = None,
    settings: TuneSettings | None = None,
) -> TuningProposalRow | None:
    """Run the tuner on stored outcomes; keep a changed configuration as an open proposal.

    Returns None when the tuner changes nothing, or when the same proposal is open already.
    """
    active = configs.get_active(session=session)
    outcomes = stored_outcomes(session=session, routing=routing, since=since)
    result = tune(outcomes, active.yaml, settings=settings, source=f"config {active.version}")
    if not result.changed:
        return None
    digest = _hash(result.config_text)
    seen = session.scalar(
        select(TuningProposalRow.id).where(
            TuningProposalRow.proposed_hash == digest,
            TuningProposalRow.status == ProposalStatus.OPEN,
        )
    )
    if seen is not None:
        return None
    row = TuningProposalRow(
        id=secrets.token_hex(6),
        created_at=now,
        base_version=active.version,
        proposed_yaml=result.config_text,
        proposed_hash=digest,
        report=result.to_dict() | {"text": result.report()},
        status=ProposalStatus.OPEN,
    )
    session.add(row)
    session.flush()
    return row


def get(*, session: Session, proposal_id: str) -> TuningProposalRow:
    row = session.get(TuningProposalRow, proposal_id)
    if row is None:
        raise NotFoundError(f"tuning proposal {proposal_id!r} does not exist")
    return row


def listed(
    *, session: Session, status: str | None = None, limit: int = 50
) -> list[TuningProposalRow]:
    query = select(TuningProposalRow).order_by(TuningProposalRow.created_at.desc()).limit(limit)
    if status is not None:
        query = query.where(TuningProposalRow.status == status)
    return list(session.scalars(query))


def accept(*, session: Session, proposal_id: str, actor: str, now: datetime) -> TuningProposalRow:
    """Activate a proposal's configuration, if the configuration it was made from is active."""
    row = _open(session, proposal_id)
    active = configs.get_active(session=session)
    if active.version != row.base_version:
        raise ConflictError(
            f"the configuration changed since this proposal (made from {row.base_version}, "
            f"active is {active.version}); run the tuner again",
            {"field": "base_version"},
        )
    applied = configs.activate(session=session, yaml_text=row.proposed_yaml, actor=actor, now=now)
    row.status, row.decided_by, row.decided_at = ProposalStatus.ACCEPTED, actor, now
    row.applied_version = applied.version
    return row


def dismiss(*, session: Session, proposal_id: str, actor: str, now: datetime) -> TuningProposalRow:
    row = _open(session, proposal_id)
    row.status, row.decided_by, row.decided_at = ProposalStatus.DISMISSED, actor, now
    return row


def _open(session: Session, proposal_id: str) -> TuningProposalRow:
    row = get(session=session, proposal_id=proposal_id)
    if row.status != ProposalStatus.OPEN:
        raise ConflictError(f"proposal {proposal_id} is {row.status} already")
    return row
