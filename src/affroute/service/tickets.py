"""Ticket use cases: ingest (route + assign), read, list, change status, reassign."""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Select, Table, and_, bindparam, insert, or_, select
from sqlalchemy.orm import Session

from affroute.domain import PRIORITY_RANK, Category, Ticket, TicketStatus, Urgency
from affroute.engine import WorkItem
from affroute.service import sla, surveys
from affroute.service.assignment import (
    assign,
    free_agent,
    pull_for_agent,
    skills_to_json,
    take_agent,
    work_item,
)
from affroute.service.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from affroute.service.events import record_event
from affroute.service.predictor import model_inputs
from affroute.service.runtime import RoutingCache
from affroute.store.models import (
    OPEN_STATUSES,
    AgentRow,
    AgentTeamRow,
    Base,
    DecisionRow,
    IdempotencyRow,
    TicketEventRow,
    TicketRow,
)

_OPEN = frozenset(s.value for s in OPEN_STATUSES)


@dataclass(frozen=True, slots=True)
class Ingested:
    ticket: TicketRow
    decision: DecisionRow | None
    replayed: bool


def new_ticket_id(now: datetime) -> str:
    """Time-ordered, unguessable ids: milliseconds then 48 random bits, in hex."""
    return f"{int(now.timestamp() * 1000):012x}{secrets.token_hex(6)}"


def ticket_from_row(row: TicketRow) -> Ticket:
    return Ticket(
        id=row.id,
        subject=row.subject,
        body=row.body,
        created_at=row.created_at,
        partner_id=row.partner_id,
        deal_id=row.deal_id,
        campaign_id=row.campaign_id,
        category=Category(row.category) if row.category else None,
        urgency=Urgency(row.urgency) if row.urgency else None,
        channel=row.channel,
        region=row.region,
        tags=tuple(row.tags),
        external_id=row.external_id,
    )


# Built once: Core statements on the tables skip the ORM's per-call statement handling.
_INSERT_TICKET = insert(cast(Table, TicketRow.__table__))
_INSERT_DECISION = insert(cast(Table, DecisionRow.__table__)).returning(DecisionRow.id)
_INSERT_EVENT = insert(cast(Table, TicketEventRow.__table__))
_EXTERNAL_ID = select(TicketRow.id).where(TicketRow.external_id == bindparam("external_id"))


def ingest(
    *,
    session: Session,
    cache: RoutingCache,
    ticket: Ticket,
    actor: str,
    idempotency_key: str | None,
    request_hash: str,
    now: datetime,
) -> Ingested:
    """Store, route and assign a ticket in the caller's transaction; repeats return the first.

    The caller gives the ticket its id (``new_ticket_id``); a repeat keeps the first one's.

    The rows are written with one bulk statement per table (not the ORM unit of work):
    this is the hot path. A concurrent duplicate (same external id or idempotency key)
    makes an insert fail; the unit of work then runs again and finds the winner's ticket.
    """
    if idempotency_key is not None:
        seen = session.get(IdempotencyRow, (idempotency_key, actor))
        if seen is not None:
            if seen.request_hash != request_hash:
                raise InvalidInputError(
                    "this Idempotency-Key was used with a different request body",
                    {"field": "Idempotency-Key"},
                )
            return _replay(session, seen.ticket_id)
    if ticket.external_id is not None:
        existing = session.scalar(_EXTERNAL_ID, {"external_id": ticket.external_id})
        if existing is not None:
            _remember(session, idempotency_key, actor, request_hash, existing, now)
            return _replay(session, existing)

    routing = cache.current(session)
    decision = routing.router.route(ticket, routing.context, now)
    taken = assign(
        session,
        WorkItem(
            ticket_id=ticket.id,
            team=decision.team,
            priority=decision.priority,
            score=decision.score,
            created_at=ticket.created_at,
            skills=decision.required_skills,
            preferred_agent=decision.preferred_agent,
        ),
        now,
    )
    row = TicketRow(
        id=ticket.id,
        external_id=ticket.external_id,
        partner_id=ticket.partner_id,
        deal_id=ticket.deal_id,
        campaign_id=ticket.campaign_id,
        subject=ticket.subject,
        body=ticket.body,
        category=ticket.category.value if ticket.category else None,
        urgency=ticket.urgency.value if ticket.urgency else None,
        channel=ticket.channel,
        region=ticket.region,
        tags=list(dict.fromkeys((*decision.tags, *ticket.tags))),
        status=TicketStatus.NEW.value,
        score=decision.score,
        priority=decision.priority.value,
        priority_rank=PRIORITY_RANK[decision.priority],
        team=decision.team,
        team_source=decision.team_source,
        agent_id=taken.agent_id,
        queued=taken.agent_id is None,
        required_skills=skills_to_json(decision.required_skills),
        sla_policy=decision.sla_policy,
        created_at=ticket.created_at,
        updated_at=now,
        sla_paused_seconds=0.0,
    )
    sla.start_clocks(config=routing.config, row=row, now=now)
    connection = session.connection()
    connection.execute(_INSERT_TICKET, [_columns(row)])
    trace = decision.to_dict() | {
        "agent_id": taken.agent_id,
        "queued": taken.agent_id is None,
        "assignment_reason": taken.reason,
    }
    if decision.facts is not None:  # what a model trained later from this ticket reads
        trace["model_inputs"] = model_inputs(ticket, decision.facts)
    if routing.enrichment:  # the CRM values used, and whether their source was reachable
        trace["enrichment"] = routing.enrichment
    decision_row = DecisionRow(
        ticket_id=ticket.id,
        config_version=decision.config_version,
        team=decision.team,
        team_source=decision.team_source,
        priority=decision.priority.value,
        score=decision.score,
        trace=trace,
        decided_at=now,
    )
    values = _columns(decision_row, generated_id=True)
    decision_row.id = connection.execute(_INSERT_DECISION, values).scalar_one()
    outcome = (
        ("assigned", {"agent_id": taken.agent_id, "reason": taken.reason})
        if taken.agent_id is not None
        else ("queued", {"team": decision.team, "reason": taken.reason})
    )
    events = [
        ("created", {"external_id": ticket.external_id}),
        (
            "routed",
            {
                "team": decision.team,
                "priority": decision.priority.value,
                "source": decision.team_source,
            },
        ),
        outcome,
    ]
    connection.execute(
        _INSERT_EVENT,
        [
            {"ticket_id": ticket.id, "kind": k, "actor": actor, "data": d, "at": now}
            for k, d in events
        ],
    )
    _remember(session, idempotency_key, actor, request_hash, ticket.id, now)
    return Ingested(row, decision_row, replayed=False)


def _columns(row: Base, *, generated_id: bool = False) -> dict[str, Any]:
    """The column values of a transient row, for a bulk insert (without a generated id)."""
    keys = (c.key for c in row.__mapper__.column_attrs)
    return {key: getattr(row, key) for key in keys if not (generated_id and key == "id")}


def _replay(session: Session, ticket_id: str) -> Ingested:
    first = session.scalars(
        select(DecisionRow)
        .where(DecisionRow.ticket_id == ticket_id)
        .order_by(DecisionRow.id)
        .limit(1)
    ).first()
    return Ingested(get(session=session, ticket_id=ticket_id), first, replayed=True)


def _remember(
    session: Session, key: str | None, actor: str, request_hash: str, ticket_id: str, now: datetime
) -> None:
    if key is not None:
        session.add(
            IdempotencyRow(
                key=key,
                principal=actor,
                request_hash=request_hash,
                ticket_id=ticket_id,
                created_at=now,
            )
        )


def get(*, session: Session, ticket_id: str) -> TicketRow:
    row = session.get(TicketRow, ticket_id)
    if row is None:
        raise NotFoundError(f"ticket {ticket_id!r} does not exist")
    return row


def decisions_of(*, session: Session, ticket_id: str) -> list[DecisionRow]:
    return list(
        session.scalars(
            select(DecisionRow).where(DecisionRow.ticket_id == ticket_id).order_by(DecisionRow.id)
        )
    )


def events_of(*, session: Session, ticket_id: str) -> list[TicketEventRow]:
    return list(
        session.scalars(
            select(TicketEventRow)
            .where(TicketEventRow.ticket_id == ticket_id)
            .order_by(TicketEventRow.id)
        )
    )


@dataclass(frozen=True, slots=True)
class TicketFilter:
    status: TicketStatus | None = None
    team: str | None = None
    agent_id: str | None = None
    priority: str | None = None
    partner_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    # Agents see their own tickets and their teams' queues, nothing else.
    visible_to_agent: str | None = None


def encode_cursor(row: TicketRow) -> str:
    return base64.urlsafe_b64encode(f"{row.created_at.isoformat()}|{row.id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, _, ticket_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), ticket_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInputError(
            "cursor is not one this API returned", {"field": "cursor"}
        ) from None


def agent_scope(session: Session, agent_id: str) -> Any:
    """The condition for tickets an agent may see: assigned to it, or queued in its teams."""
    teams = select(AgentTeamRow.team).where(AgentTeamRow.agent_id == agent_id)
    return or_(
        TicketRow.agent_id == agent_id, and_(TicketRow.queued.is_(True), TicketRow.team.in_(teams))
    )


def list_tickets(
    *, session: Session, filters: TicketFilter, cursor: str | None, limit: int
) -> list[TicketRow]:
    """Tickets newest first, ``limit`` of them after the cursor."""
    query: Select[tuple[TicketRow]] = select(TicketRow)
    conditions = {
        TicketRow.status: filters.status.value if filters.status else None,
        TicketRow.team: filters.team,
        TicketRow.agent_id: filters.agent_id,
        TicketRow.priority: filters.priority,
        TicketRow.partner_id: filters.partner_id,
    }
    for column, value in conditions.items():
        if value is not None:
            query = query.where(column == value)
    if filters.created_from is not None:
        query = query.where(TicketRow.created_at >= filters.created_from)
    if filters.created_to is not None:
        query = query.where(TicketRow.created_at < filters.created_to)
    if filters.visible_to_agent is not None:
        query = query.where(agent_scope(session, filters.visible_to_agent))
    if cursor is not None:
        created, ticket_id = _decode_cursor(cursor)
        query = query.where(
            or_(
                TicketRow.created_at < created,
                and_(TicketRow.created_at == created, TicketRow.id < ticket_id),
            )
        )
    query = query.order_by(TicketRow.created_at.desc(), TicketRow.id.desc()).limit(limit)
    return list(session.scalars(query))


def can_agent_see(session: Session, row: TicketRow, agent_id: str) -> bool:
    if row.agent_id == agent_id:
        return True
    if not row.queued:
        return False
    teams = set(session.scalars(select(AgentTeamRow.team).where(AgentTeamRow.agent_id == agent_id)))
    return row.team in teams


def _queue_or_assign(session: Session, row: TicketRow, actor: str, now: datetime) -> None:
    taken = assign(session, work_item(row), now)
    row.agent_id = taken.agent_id
    row.queued = taken.agent_id is None
    if taken.agent_id is not None:
        record_event(
            session, row.id, "assigned", actor, now, agent_id=taken.agent_id, reason=taken.reason
        )
    else:
        record_event(session, row.id, "queued", actor, now, team=row.team, reason=taken.reason)


def change_status(
    *,
    session: Session,
    cache: RoutingCache,
    ticket_id: str,
    status: TicketStatus,
    actor: str,
    now: datetime,
) -> TicketRow:
    """Move a ticket to a new status; leaving the open statuses frees its agent's slot."""
    row = _locked(session, ticket_id)
    old = TicketStatus(row.status)
    if old is TicketStatus.CLOSED:
        raise ConflictError(f"ticket {ticket_id} is closed; closed tickets cannot change")
    if old is status:
        return row
    was_open, is_open = old.value in _OPEN, status.value in _OPEN
    row.status = status.value
    row.updated_at = now
    record_event(
        session, row.id, "status_changed", actor, now, **{"from": old.value, "to": status.value}
    )
    if was_open and not is_open:
        if row.agent_id is not None:
            free_agent(session, row.agent_id)
            pull_for_agent(session, row.agent_id, now, actor)
        row.queued = False
    elif is_open and not was_open:
        _reopen(session, row, actor, now)
    routing = cache.current(session)
    sla.refresh(session=session, config=routing.config, row=row, now=now)
    if status is TicketStatus.SOLVED and was_open:
        surveys.issue_on_solve(session=session, routing=routing, ticket=row, actor=actor, now=now)
    return row


def _reopen(session: Session, row: TicketRow, actor: str, now: datetime) -> None:
    """Back to its agent if they can take it again, else assign in the team or queue."""
    if row.agent_id is not None and take_agent(session, row.agent_id, now):
        return
    if row.agent_id is not None:
        reason = "agent offline or at capacity on reopen"
        record_event(
            session, row.id, "unassigned", actor, now, agent_id=row.agent_id, reason=reason
        )
        row.agent_id = None
    _queue_or_assign(session, row, actor, now)


def _locked(session: Session, ticket_id: str) -> TicketRow:
    row = session.scalars(
        select(TicketRow)
        .where(TicketRow.id == ticket_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise NotFoundError(f"ticket {ticket_id!r} does not exist")
    return row


def reassign(
    *,
    session: Session,
    cache: RoutingCache,
    ticket_id: str,
    team: str | None,
    agent_id: str | None,
    reason: str,
    actor: str,
    now: datetime,
    escalation: bool = False,
) -> TicketRow:
    """Move a ticket to another team and/or agent, recording what made the overturned choice.

    A move by the escalation ladder is not a misroute: the first choice was not wrong,
    the ticket ran out of time.
    """
    if team is None and agent_id is None:
        raise InvalidInputError("give a team, an agent, or both", {"field": "team"})
    row = _locked(session, ticket_id)
    if row.status not in _OPEN:
        raise ConflictError(f"ticket {ticket_id} is {row.status}; reopen it before reassigning")
    config = cache.current(session).config
    if team is not None and team not in config.teams:
        raise InvalidInputError(
            f"unknown team {team!r}", {"field": "team", "known": sorted(config.teams)}
        )
    target_agent: AgentRow | None = None
    if agent_id is not None:
        target_agent = session.get(AgentRow, agent_id)
        if target_agent is None or target_agent.retired:
            raise InvalidInputError(f"unknown agent {agent_id!r}", {"field": "agent_id"})
        agent_teams = set(
            session.scalars(select(AgentTeamRow.team).where(AgentTeamRow.agent_id == agent_id))
        )
        if team is None:
            team = row.team if row.team in agent_teams else sorted(agent_teams)[0]
        elif team not in agent_teams:
            raise InvalidInputError(
                f"agent {agent_id!r} is not in team {team!r}", {"field": "agent_id"}
            )
    assert team is not None
    if agent_id is not None and agent_id == row.agent_id and team == row.team:
        return row
    overturned = row.team_source
    previous_team, previous_agent = row.team, row.agent_id
    if previous_agent is not None and previous_agent != agent_id:
        free_agent(session, previous_agent)
    row.team = team
    row.team_source = f"{'escalation' if escalation else 'person'}:{actor}"
    row.updated_at = now
    if agent_id is not None and agent_id != previous_agent:
        if not take_agent(session, agent_id, now):
            raise ConflictError(
                f"agent {agent_id} is offline or at capacity", {"field": "agent_id"}
            )
        row.agent_id, row.queued = agent_id, False
    elif agent_id is None:
        row.agent_id = None
    record_event(
        session, row.id, "reassigned", actor, now,
        from_team=previous_team, to_team=team, from_agent=previous_agent, to_agent=agent_id,
        reason=reason, overturned=overturned, misroute=previous_team != team and not escalation,
    )  # fmt: skip
    if row.agent_id is None:
        _queue_or_assign(session, row, actor, now)
    elif agent_id is not None:
        record_event(
            session, row.id, "assigned", actor, now, agent_id=agent_id, reason="chosen by a person"
        )
    if previous_agent is not None and previous_agent != row.agent_id:
        pull_for_agent(session, previous_agent, now, actor)
    sla.refresh(session=session, config=config, row=row, now=now)
    return row


class ReplyAuthor(StrEnum):
    AGENT = "agent"
    PARTNER = "partner"


def reply(
    *,
    session: Session,
    cache: RoutingCache,
    ticket_id: str,
    author: ReplyAuthor,
    actor: str,
    now: datetime,
) -> TicketRow:
    """Record a public reply: the SLA clocks count first and next responses from these."""
    row = _locked(session, ticket_id)
    if row.status == TicketStatus.CLOSED.value:
        raise ConflictError(f"ticket {ticket_id} is closed")
    if author is ReplyAuthor.PARTNER:
        kind = "partner_replied"
    else:
        answered = session.scalar(
            select(TicketEventRow.id).where(
                TicketEventRow.ticket_id == ticket_id, TicketEventRow.kind == "first_response"
            )
        )
        kind = "replied" if answered is not None else "first_response"
    record_event(session, row.id, kind, actor, now)
    row.updated_at = now
    sla.refresh(session=session, config=cache.current(session).config, row=row, now=now)
    return row
