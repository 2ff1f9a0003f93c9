"""What Zendesk, Freshdesk and Standard Webhooks senders send us, read into tickets, and
what we write back to a help desk: pure functions of the payload and the mapping."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from affroute.config import HelpDeskMapping
from affroute.domain import Category, Urgency
from affroute.service.errors import InvalidInputError


class Desk(StrEnum):
    ZENDESK = "zendesk"
    FRESHDESK = "freshdesk"
    WEBHOOK = "webhook"  # any sender of Standard Webhooks


# Zendesk's priorities by name; Freshdesk's by number (1 low .. 4 urgent).
ZENDESK_PRIORITY = {"p1": "urgent", "p2": "high", "p3": "normal", "p4": "low"}
FRESHDESK_PRIORITY = {"p1": 4, "p2": 3, "p3": 2, "p4": 1}


@dataclass(frozen=True, slots=True)
class Inbound:
    """One inbound event, read: the sender's event id and the ticket's fields."""

    event_id: str
    external_id: str  # the help desk's ticket id
    subject: str
    body: str
    fields: dict[str, Any] = field(default_factory=dict)  # partner_id, deal_id, ...
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _tags(value: object) -> tuple[str, ...]:
    # Placeholders render tags as one space-separated string; the APIs as a list.
    items = value.split() if isinstance(value, str) else value if isinstance(value, list) else []
    return tuple(dict.fromkeys(str(t) for t in items if str(t).strip()))


def _custom_values(raw: object) -> dict[str, str]:
    """Custom fields as the APIs list them (``[{id, value}]``) or as a template's object."""
    if isinstance(raw, Mapping):
        return {str(k): _text(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return {
            str(item.get("id")): _text(item.get("value"))
            for item in raw
            if isinstance(item, Mapping) and "id" in item
        }
    return {}


def mapped_fields(mapping: HelpDeskMapping | None, custom: Mapping[str, str]) -> dict[str, Any]:
    """Our ticket fields from the help desk's custom fields; values we cannot use are left out
    (the sender cannot correct them, so they must not refuse the ticket)."""
    out: dict[str, Any] = {}
    for ours, theirs in (mapping.fields if mapping else {}).items():
        value = custom.get(theirs, "")
        if not value:
            continue
        if ours == "category":
            if value in Category._value2member_map_:
                out[ours] = Category(value)
        elif ours == "urgency":
            if value.lower() in Urgency._value2member_map_:
                out[ours] = Urgency(value.lower())
        else:
            out[ours] = value[:64]
    return out


def _created(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _need(ticket: Mapping[str, Any], *names: str) -> str:
    for name in names:
        if _text(ticket.get(name)):
            return _text(ticket.get(name))
    raise InvalidInputError(f"the payload has no ticket {names[0]}", {"field": names[0]})


def read_zendesk(
    payload: Mapping[str, Any], mapping: HelpDeskMapping | None, invocation_id: str | None
) -> Inbound:
    """A Zendesk ticket event (``zen:event-type:ticket.*`` with ``detail``) or a trigger's
    JSON body (``{"ticket": {...}}``, see the README for the template)."""
    ticket = payload.get("detail") or payload.get("ticket")
    if not isinstance(ticket, Mapping):
        raise InvalidInputError("expected a 'detail' or 'ticket' object", {"field": "detail"})
    event_id = _text(payload.get("id")) or _text(invocation_id)
    if not event_id:
        raise InvalidInputError("no event id: neither 'id' nor x-zendesk-webhook-invocation-id")
    return Inbound(
        event_id=event_id,
        external_id=_need(ticket, "id"),
        subject=_text(ticket.get("subject"))[:500] or "(no subject)",
        body=_text(ticket.get("description")),
        fields=mapped_fields(mapping, _custom_values(ticket.get("custom_fields"))),
        tags=_tags(ticket.get("tags")),
        created_at=_created(ticket.get("created_at")),
    )


def read_freshdesk(payload: Mapping[str, Any], mapping: HelpDeskMapping | None) -> Inbound:
    """A Freshdesk automation webhook (``{"ticket": {...}}`` or the classic
    ``{"freshdesk_webhook": {"ticket_id": ...}}``). Freshdesk sends no event id: the body's
    ``event_id`` if the template has one, else a hash of the body (a resend is identical)."""
    wrapped = payload.get("freshdesk_webhook")
    if isinstance(wrapped, Mapping):
        ticket = {k.removeprefix("ticket_"): v for k, v in wrapped.items()}
        custom = {k: _text(v) for k, v in ticket.items() if k.startswith("cf_")}
    else:
        ticket = payload.get("ticket")  # type: ignore[assignment]
        if not isinstance(ticket, Mapping):
            raise InvalidInputError("expected a 'ticket' object", {"field": "ticket"})
        custom = _custom_values(ticket.get("custom_fields"))
    canonical = repr(sorted(payload.items())).encode()
    return Inbound(
        event_id=_text(payload.get("event_id")) or hashlib.sha256(canonical).hexdigest(),
        external_id=_need(ticket, "id"),
        subject=_text(ticket.get("subject"))[:500] or "(no subject)",
        body=_text(ticket.get("description_text") or ticket.get("description")),
        fields=mapped_fields(mapping, custom),
        tags=_tags(ticket.get("tags")),
        created_at=_created(ticket.get("created_at")),
    )


def decision_note(trace: Mapping[str, Any]) -> str:
    """The decision trace as a private note an agent can read in the help desk."""
    lines = [
        f"affroute routed this ticket to {trace.get('team')} ({trace.get('team_source')}), "
        f"priority {str(trace.get('priority', '')).upper()}, score {trace.get('score')}.",
    ]
    factors = trace.get("factors") or {}
    if factors:
        parts = ", ".join(f"{name} {f.get('points')}" for name, f in factors.items())
        lines.append(f"Score: {parts}.")
    rules = [r.get("name") for r in trace.get("rules_matched") or []]
    if rules:
        lines.append(f"Rules matched: {', '.join(map(str, rules))}.")
    if trace.get("agent_id"):
        lines.append(f"Assigned to {trace['agent_id']} ({trace.get('assignment_reason')}).")
    else:
        lines.append(
            f"Waiting in the {trace.get('team')} queue ({trace.get('assignment_reason')})."
        )
    for name, state in (trace.get("enrichment") or {}).items():
        lines.append(f"Enrichment {name}: {state.get('note')}.")
    lines.append(f"Configuration {trace.get('config_version')}.")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Decided:
    """What the write-back tells the help desk."""

    external_id: str
    team: str
    agent_id: str | None
    priority: str
    tags: tuple[str, ...]
    trace: Mapping[str, Any]


def zendesk_update(decided: Decided, mapping: HelpDeskMapping | None) -> dict[str, Any]:
    """The body of ``PUT /api/v2/tickets/{id}.json``: group, assignee, priority, tags and a
    private comment with the trace."""
    mapping = mapping or HelpDeskMapping()
    ticket: dict[str, Any] = {
        "priority": ZENDESK_PRIORITY[decided.priority],
        "tags": list(decided.tags),
    }
    if decided.team in mapping.groups:
        ticket["group_id"] = mapping.groups[decided.team]
    if decided.agent_id in mapping.agents:
        ticket["assignee_id"] = mapping.agents[decided.agent_id]  # type: ignore[index]
    if mapping.private_note:
        ticket["comment"] = {"body": decision_note(decided.trace), "public": False}
    return {"ticket": ticket}


def freshdesk_update(decided: Decided, mapping: HelpDeskMapping | None) -> dict[str, Any]:
    """The body of ``PUT /api/v2/tickets/{id}`` and, if wanted, of the private note."""
    mapping = mapping or HelpDeskMapping()
    ticket: dict[str, Any] = {
        "priority": FRESHDESK_PRIORITY[decided.priority],
        "tags": list(decided.tags),
    }
    if decided.team in mapping.groups:
        ticket["group_id"] = mapping.groups[decided.team]
    if decided.agent_id in mapping.agents:
        ticket["responder_id"] = mapping.agents[decided.agent_id]  # type: ignore[index]
    note = {"body": decision_note(decided.trace), "private": True} if mapping.private_note else None
    return {"ticket": ticket, "note": note}
