"""Configuration versions: activate a validated YAML, read the active one, dry-run a candidate."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from affroute.config import ConfigError, RoutingConfig, parse_config_text
from affroute.domain import AgentStatus
from affroute.engine import Router
from affroute.service.errors import InvalidInputError, NotFoundError
from affroute.service.runtime import CONFIG_COUNTER, RoutingCache, bump, load_context
from affroute.service.tickets import ticket_from_row
from affroute.store.models import AgentRow, AgentTeamRow, ConfigVersionRow, DecisionRow, TicketRow


def parse_or_reject(yaml_text: str, *, source: str = "submitted config") -> RoutingConfig:
    """Parse a candidate config; invalid ones raise InvalidInputError listing every problem."""
    try:
        return parse_config_text(yaml_text, source=source)
    except ConfigError as exc:
        raise InvalidInputError(
            f"{len(exc.issues)} problem(s) in the configuration",
            [{"location": i.location, "message": i.message} for i in exc.issues],
        ) from None


def activate(*, session: Session, yaml_text: str, actor: str, now: datetime) -> ConfigVersionRow:
    """Validate, store (once per version) and activate a configuration; sync its agents."""
    config = parse_or_reject(yaml_text)
    row = session.get(ConfigVersionRow, config.version)
    if row is None:
        row = ConfigVersionRow(
            version=config.version, yaml=yaml_text, created_at=now, created_by=actor, active=False
        )
        session.add(row)
    session.execute(update(ConfigVersionRow).values(active=False))
    row.active = True
    _sync_agents(session, config)
    bump(session, CONFIG_COUNTER)
    session.flush()
    return row


def _sync_agents(session: Session, config: RoutingConfig) -> None:
    """Agents follow the config; presence and load stay; agents dropped from it retire."""
    existing = {a.id: a for a in session.scalars(select(AgentRow))}
    for agent in config.agents:
        row = existing.pop(agent.id, None)
        if row is None:
            row = AgentRow(id=agent.id, status=agent.status.value, load=0, last_assigned_at=None)
            session.add(row)
        row.name = agent.name
        row.skills = dict(agent.skills)
        row.capacity = agent.capacity
        row.seniority = agent.seniority.value
        row.retired = False
    for row in existing.values():
        row.retired = True
        row.status = AgentStatus.OFFLINE.value
    session.flush()
    session.execute(delete(AgentTeamRow))
    session.add_all(
        AgentTeamRow(agent_id=agent.id, team=team)
        for agent in config.agents
        for team in agent.teams
    )


def get_active(*, session: Session) -> ConfigVersionRow:
    row = session.scalars(select(ConfigVersionRow).where(ConfigVersionRow.active)).first()
    if row is None:
        raise NotFoundError("no configuration is active yet")
    return row


@dataclass(slots=True)
class DryRun:
    candidate_version: str
    compared: int = 0
    team_changed: int = 0
    priority_changed: int = 0
    moves: Counter[tuple[str, str]] = field(default_factory=Counter)
    differences: list[dict[str, Any]] = field(default_factory=list)


def dry_run(
    *, session: Session, cache: RoutingCache, yaml_text: str, last: int, show: int = 100
) -> DryRun:
    """Route the last ``last`` stored tickets with a candidate config; report what would change."""
    candidate = parse_or_reject(yaml_text)
    router = Router(candidate)
    live = cache.current(session)
    # The live catalog; engagement ranks depend on the scoring weights, so a candidate with
    # other weights gets its own context.
    context = (
        live.context
        if candidate.scoring == live.config.scoring
        else load_context(session, candidate)
    )
    rows = session.scalars(
        select(TicketRow).order_by(TicketRow.created_at.desc(), TicketRow.id.desc()).limit(last)
    )
    result = DryRun(candidate.version)
    for row in rows:
        first = session.scalars(
            select(DecisionRow)
            .where(DecisionRow.ticket_id == row.id)
            .order_by(DecisionRow.id)
            .limit(1)
        ).first()
        if first is None:
            continue
        decision = router.route(ticket_from_row(row), context, first.decided_at)
        result.compared += 1
        team_changed = decision.team != first.team
        priority_changed = decision.priority.value != first.priority
        result.team_changed += team_changed
        result.priority_changed += priority_changed
        if team_changed:
            result.moves[(first.team, decision.team)] += 1
        if (team_changed or priority_changed) and len(result.differences) < show:
            result.differences.append(
                {
                    "ticket_id": row.id,
                    "team": {"current": first.team, "candidate": decision.team},
                    "priority": {"current": first.priority, "candidate": decision.priority.value},
                    "score": {
                        "current": round(first.score, 2),
                        "candidate": round(decision.score, 2),
                    },
                    "candidate_source": decision.team_source,
                }
            )
    return result
