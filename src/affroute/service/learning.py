"""What the models learn from, and what they suggest: training rows from resolved tickets
and the next team to try after a reassignment. (How they do live is an analytics metric:
``analytics.metrics.model_quality``.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from affroute.domain import TicketStatus
from affroute.engine import RoutingContext
from affroute.engine.facts import enrich
from affroute.service.errors import InvalidInputError
from affroute.service.predictor import ModelLabel, next_team, ticket_record
from affroute.service.runtime import RoutingCache, active_config, load_context
from affroute.service.tickets import decisions_of, events_of, get, ticket_from_row
from affroute.store.models import DecisionRow, TicketRow

_RESOLVED = (TicketStatus.SOLVED.value, TicketStatus.CLOSED.value)


def training_rows(*, session: Session, label: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Resolved tickets as model records (as the router built them) and their labels.

    The team label is the team the ticket ended on, after any reassignment: what the
    people who solved it found right, not what the router first chose. The structured
    columns are those the first decision's trace kept (the partner's tier, the deal's value
    and the anomalies as they were when the ticket came in); a ticket routed before traces
    kept them is joined with the catalog as it is now.
    """
    if label not in set(ModelLabel):
        raise InvalidInputError(
            f"cannot train on {label!r} from the database: use team or priority",
            {"field": "label"},
        )
    first = (
        select(func.min(DecisionRow.id).label("id"), DecisionRow.ticket_id)
        .group_by(DecisionRow.ticket_id)
        .subquery()
    )
    rows = session.execute(
        select(TicketRow, DecisionRow.trace)
        .outerjoin(first, first.c.ticket_id == TicketRow.id)
        .outerjoin(DecisionRow, DecisionRow.id == first.c.id)
        .where(TicketRow.status.in_(_RESOLVED))
        .order_by(TicketRow.created_at, TicketRow.id)
    )
    context: RoutingContext | None = None
    records: list[dict[str, Any]] = []
    labels: list[str] = []
    for row, trace in rows:
        kept = (trace or {}).get("model_inputs")
        if kept is not None:
            records.append({"subject": row.subject, "body": row.body} | kept)
        else:
            if context is None:
                context = load_context(session, active_config(session))
            ticket = ticket_from_row(row)
            records.append(ticket_record(ticket, enrich(ticket, context)))
        labels.append(row.team if label == ModelLabel.TEAM else row.priority)
    return records, labels


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The team a ticket should try next, from its text and the teams it has been on."""

    ticket_id: str
    path: list[str]  # the teams it has been on, first to current
    team: str | None  # None: no model in use, or every team it knows was tried
    probability: float | None
    model: str | None
    reason: str


def suggest_next_team(*, session: Session, cache: RoutingCache, ticket_id: str) -> Suggestion:
    """The most probable team the ticket has not been on, by the active team model (or the
    shadow one when none is active)."""
    row = get(session=session, ticket_id=ticket_id)
    path = team_path(session=session, ticket_id=ticket_id, current=row.team)
    routing = cache.current(session)
    predictor = routing.models.team or routing.models.team_shadow
    if predictor is None:
        return Suggestion(row.id, path, None, None, None, "no team model is active or in shadow")
    ticket = ticket_from_row(row)
    record = ticket_record(ticket, enrich(ticket, routing.context))
    found = next_team(predictor.model, record, tried=path, teams=routing.config.teams)
    if found is None:
        return Suggestion(
            row.id, path, None, None, predictor.name, "every team the model knows was tried"
        )
    return Suggestion(
        row.id,
        path,
        found.team,
        found.probability,
        predictor.name,
        f"the most probable team not yet tried, by model {predictor.name}",
    )


def team_path(*, session: Session, ticket_id: str, current: str) -> list[str]:
    """The teams a ticket has been on, in order, each once."""
    decisions = decisions_of(session=session, ticket_id=ticket_id)
    path = [decisions[0].team] if decisions else []
    for event in events_of(session=session, ticket_id=ticket_id):
        if event.kind == "reassigned":
            path.extend(str(event.data[k]) for k in ("from_team", "to_team") if event.data.get(k))
    path.append(current)
    return list(dict.fromkeys(path))
