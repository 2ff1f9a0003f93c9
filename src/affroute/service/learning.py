"""What the models learn from and how they do live: training rows from resolved tickets,
the next team to try after a reassignment, and per-class outcomes of the model's routing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
from affroute.store.models import DecisionRow, TicketEventRow, TicketRow

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


@dataclass(slots=True)
class ClassOutcome:
    """How a model's routing to one class turned out.

    ``confirmed``: solved or closed without a misroute reassignment; ``corrected``: a
    person moved it to another team; ``open``: neither yet. ``resolved_in_class``: resolved
    tickets the model was asked about that ended in this class (the recall's denominator).
    """

    model: str
    label: str
    acted: int = 0
    confirmed: int = 0
    corrected: int = 0
    open: int = 0
    resolved_in_class: int = 0

    @property
    def precision(self) -> float | None:
        judged = self.confirmed + self.corrected
        return self.confirmed / judged if judged else None

    @property
    def recall(self) -> float | None:
        return self.confirmed / self.resolved_in_class if self.resolved_in_class else None


def model_outcomes(
    *, session: Session, since: datetime | None = None, until: datetime | None = None
) -> list[ClassOutcome]:
    """Live precision and recall of the team models, per model and class, from stored
    decisions (created in [since, until)) and what people did with the tickets after."""
    query = select(
        DecisionRow.ticket_id,
        DecisionRow.team,
        DecisionRow.team_source,
        DecisionRow.trace,
        TicketRow.team,
        TicketRow.status,
    ).join(TicketRow, TicketRow.id == DecisionRow.ticket_id)
    if since is not None:
        query = query.where(DecisionRow.decided_at >= since)
    if until is not None:
        query = query.where(DecisionRow.decided_at < until)
    decisions = session.execute(query).all()
    corrected = _corrected(session, {d[0] for d in decisions if d[2].startswith("model:")})
    outcomes: dict[tuple[str, str], ClassOutcome] = {}

    def outcome(model: str, label: str) -> ClassOutcome:
        key = (model, label)
        if key not in outcomes:
            outcomes[key] = ClassOutcome(model, label)
        return outcomes[key]

    for ticket_id, team, source, trace, final_team, status in decisions:
        prediction = (trace or {}).get("prediction")
        resolved = status in _RESOLVED
        if prediction and resolved:
            outcome(str(prediction["model"]), final_team).resolved_in_class += 1
        if not source.startswith("model:"):
            continue
        counts = outcome(source.removeprefix("model:"), team)
        counts.acted += 1
        if (ticket_id, source) in corrected:
            counts.corrected += 1
        elif resolved:
            counts.confirmed += 1
        else:
            counts.open += 1
    return sorted(outcomes.values(), key=lambda o: (o.model, o.label))


def _corrected(session: Session, ticket_ids: set[str]) -> set[tuple[str, str]]:
    """(ticket, overturned source) of every misroute reassignment of these tickets."""
    found: set[tuple[str, str]] = set()
    ids = sorted(ticket_ids)
    for start in range(0, len(ids), 1000):  # a bounded IN list
        events = session.execute(
            select(TicketEventRow.ticket_id, TicketEventRow.data).where(
                TicketEventRow.kind == "reassigned",
                TicketEventRow.ticket_id.in_(ids[start : start + 1000]),
            )
        )
        found.update(
            (ticket_id, str(data.get("overturned", "")))
            for ticket_id, data in events
            if data.get("misroute")
        )
    return found
