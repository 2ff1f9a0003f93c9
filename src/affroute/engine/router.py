"""The decision pipeline: enrich, score, rules, (model), team, then agent or queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from affroute.config import FACTORS, RoutingConfig, SkillRequirement, SlaPolicy
from affroute.domain import Priority, Ticket
from affroute.engine.assign import AgentPool, WorkItem
from affroute.engine.context import RoutingContext
from affroute.engine.facts import Facts, enrich
from affroute.engine.rules import CompiledRules, RuleState, compile_rules
from affroute.engine.score import FactorScore, ScoreBreakdown, Scorer, priority_for


@dataclass(frozen=True, slots=True)
class Prediction:
    """A model's suggestion for a field, and whether it was confident enough to act."""

    label: str
    confidence: float
    threshold: float
    model: str

    @property
    def confident(self) -> bool:
        return self.confidence >= self.threshold


class TeamPredictor(Protocol):
    """The ML hook: suggests a team when no rule pinned one."""

    def predict_team(self, ticket: Ticket, facts: Facts) -> Prediction | None: ...


class PriorityPredictor(Protocol):
    """The ML hook for priority: suggests one when no rule set or raised it."""

    def predict_priority(self, ticket: Ticket, facts: Facts) -> Prediction | None: ...


_PRIORITIES = {p.value: p for p in Priority}


@dataclass(frozen=True, slots=True)
class RuleMatch:
    name: str
    actions: tuple[str, ...]


@dataclass(slots=True)
class RoutingDecision:
    """The full, explainable outcome of routing one ticket (read-only by convention: not
    frozen, because a frozen dataclass of this size costs microseconds to build)."""

    ticket_id: str
    score: float
    tier_priority: Priority
    priority: Priority
    team: str
    team_source: str  # "rule:<name>", "model:<name>" or "default"
    agent_id: str | None
    queued: bool
    assignment_reason: str
    queue_position: int | None
    preferred_agent: str | None  # the partner's account manager, when a rule prefers them
    tags: tuple[str, ...]
    required_skills: tuple[SkillRequirement, ...]
    sla_policy: str | None
    breakdown: ScoreBreakdown
    rules_matched: tuple[RuleMatch, ...]
    urgency: str
    urgency_detected: bool
    prediction: Prediction | None
    flags: tuple[str, ...]
    anomalies: tuple[str, ...]
    config_version: str
    decided_at: datetime
    # A model in shadow mode: asked where the active one would be, recorded, never acted on.
    shadow_prediction: Prediction | None = None
    priority_source: str = "score"  # "score" (the tiers), "rule" or "model:<name>"
    priority_prediction: Prediction | None = None
    priority_shadow_prediction: Prediction | None = None
    # What the ticket was joined with (partner, deal, campaign, anomalies) at decision time.
    facts: Facts | None = None

    @property
    def assigned(self) -> bool:
        return self.agent_id is not None

    @property
    def factors(self) -> tuple[FactorScore, ...]:
        """Each factor's raw input, 0..1 value, weight and points."""
        return self.breakdown.factors

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form of the decision with its trace."""
        return {
            "ticket_id": self.ticket_id,
            "score": round(self.score, 2),
            "priority": self.priority.value,
            "tier_priority": self.tier_priority.value,
            "team": self.team,
            "team_source": self.team_source,
            "agent_id": self.agent_id,
            "queued": self.queued,
            "assignment_reason": self.assignment_reason,
            "queue_position": self.queue_position,
            "preferred_agent": self.preferred_agent,
            "tags": list(self.tags),
            "required_skills": [f"{s.name}:{s.level}" for s in self.required_skills],
            "sla_policy": self.sla_policy,
            "factors": {
                f.name: {
                    "raw": f.raw,
                    "normalised": round(f.normalised, 4),
                    "weight": round(f.weight, 4),
                    "points": round(f.points, 2),
                }
                for f in self.factors
            },
            "rules_matched": [
                {"name": r.name, "actions": list(r.actions)} for r in self.rules_matched
            ],
            "urgency": self.urgency,
            "urgency_detected": self.urgency_detected,
            "prediction": None
            if self.prediction is None
            else _prediction_dict(
                self.prediction, "active", acted=self.team_source.startswith("model:")
            ),
            "shadow_prediction": None
            if self.shadow_prediction is None
            else _prediction_dict(self.shadow_prediction, "shadow", acted=False),
            "priority_source": self.priority_source,
            "priority_prediction": None
            if self.priority_prediction is None
            else _prediction_dict(
                self.priority_prediction,
                "active",
                acted=self.priority_source.startswith("model:"),
            ),
            "priority_shadow_prediction": None
            if self.priority_shadow_prediction is None
            else _prediction_dict(self.priority_shadow_prediction, "shadow", acted=False),
            "flags": list(self.flags),
            "anomalies": list(self.anomalies),
            "config_version": self.config_version,
            "decided_at": self.decided_at.isoformat(),
        }

    def explain(self) -> str:
        """The decision as a person reads it."""
        lines = [
            f"Ticket {self.ticket_id}: score {self.score:.1f} -> {self.priority.value.upper()}"
        ]
        for f in self.factors:
            lines.append(
                f"  {f.name:<20} {f.points:6.1f} pts  (value {f.normalised:.2f}"
                f" x weight {f.weight:.2f}, raw {f.raw})"
            )
        if self.urgency_detected:
            lines.append(f"  urgency {self.urgency!r} detected from the text")
        lines.append(f"  tier gives {self.tier_priority.value.upper()}")
        if not self.rules_matched:
            lines.append("  no rule matched")
        for match in self.rules_matched:
            lines.append(f"  rule {match.name!r}: {', '.join(match.actions)}")
        if self.prediction is not None:
            p = self.prediction
            verdict = "acted" if self.team_source.startswith("model:") else "did not act"
            lines.append(
                f"  model {p.model} suggests {p.label!r} at {p.confidence:.2f}"
                f" (threshold {p.threshold:.2f}): {verdict}"
            )
        if self.shadow_prediction is not None:
            p = self.shadow_prediction
            lines.append(
                f"  shadow model {p.model} suggests {p.label!r} at {p.confidence:.2f}"
                f" (threshold {p.threshold:.2f}): recorded only"
            )
        if self.priority_prediction is not None:
            p = self.priority_prediction
            verdict = "acted" if self.priority_source.startswith("model:") else "did not act"
            lines.append(
                f"  priority model {p.model} suggests {p.label.upper()} at {p.confidence:.2f}"
                f" (threshold {p.threshold:.2f}): {verdict}"
            )
        lines.append(f"  team {self.team!r} (from {self.team_source})")
        if self.agent_id is not None:
            lines.append(f"  assigned to {self.agent_id}: {self.assignment_reason}")
        elif self.queued:
            lines.append(f"  queued at position {self.queue_position}: {self.assignment_reason}")
        else:
            lines.append("  not assigned: no agent pool given")
        anomaly = self.breakdown.raws[FACTORS.index("attribution_anomaly")]
        if anomaly:
            lines.append(f"  flagged by attribution anomaly: {anomaly}")
        if self.flags:
            lines.append(f"  flags: {', '.join(self.flags)}")
        lines.append(f"  config {self.config_version}")
        return "\n".join(lines)


def _prediction_dict(prediction: Prediction, mode: str, *, acted: bool) -> dict[str, Any]:
    return {
        "label": prediction.label,
        "confidence": round(prediction.confidence, 4),
        "threshold": prediction.threshold,
        "model": prediction.model,
        "mode": mode,
        "acted": acted,
    }


def _describe_actions(rule_then: Any) -> tuple[str, ...]:
    parts: list[str] = []
    if rule_then.team:
        parts.append(f"team={rule_then.team}")
    if rule_then.priority:
        parts.append(f"priority={rule_then.priority.value}")
    if rule_then.priority_floor:
        parts.append(f"priority_floor={rule_then.priority_floor.value}")
    if rule_then.tags:
        parts.append("tags+=" + ",".join(rule_then.tags))
    if rule_then.skills:
        parts.append("skills+=" + ",".join(f"{s.name}:{s.level}" for s in rule_then.skills))
    if rule_then.sla_policy:
        parts.append(f"sla_policy={rule_then.sla_policy}")
    if rule_then.prefer_account_manager:
        parts.append("prefer_account_manager")
    if rule_then.stop:
        parts.append("stop")
    return tuple(parts)


class Router:
    """Routes tickets under one configuration. Pure: same inputs, same decision."""

    def __init__(
        self,
        config: RoutingConfig,
        *,
        predictor: TeamPredictor | None = None,
        shadow: TeamPredictor | None = None,
        priority_predictor: PriorityPredictor | None = None,
        priority_shadow: PriorityPredictor | None = None,
    ) -> None:
        self.config = config
        self.scorer = Scorer(config.scoring)
        self.rules: CompiledRules = compile_rules(config.rules)
        self.predictor = predictor
        self.shadow = shadow
        self.priority_predictor = priority_predictor
        self.priority_shadow = priority_shadow
        # Per rule: does it set or raise the priority (then a model must not override it)?
        self._sets_priority = tuple(
            r.then.priority is not None or r.then.priority_floor is not None for r in config.rules
        )
        self._matches = tuple(RuleMatch(r.name, _describe_actions(r.then)) for r in config.rules)

    def route(
        self,
        ticket: Ticket,
        context: RoutingContext,
        now: datetime,
        pool: AgentPool | None = None,
    ) -> RoutingDecision:
        """Decide score, priority, team and (given a pool) the agent or queue place."""
        config = self.config
        facts = enrich(ticket, context)
        breakdown = self.scorer.score(facts)
        facts.score = breakdown.score
        facts.ticket_urgency = breakdown.urgency  # rules see the detected urgency too
        tier_priority = priority_for(breakdown.score, config.tiers)
        state = RuleState(priority=tier_priority)
        self.rules.run(facts, state)

        priority_source = "score"
        priority_prediction: Prediction | None = None
        priority_shadow: Prediction | None = None
        if any(map(self._sets_priority.__getitem__, state.matched)):
            priority_source = "rule"
        else:
            if self.priority_predictor is not None:
                priority_prediction = self.priority_predictor.predict_priority(ticket, facts)
                if (
                    priority_prediction is not None
                    and priority_prediction.confident
                    and priority_prediction.label in _PRIORITIES
                ):
                    state.priority = _PRIORITIES[priority_prediction.label]
                    priority_source = f"model:{priority_prediction.model}"
            if self.priority_shadow is not None:
                priority_shadow = self.priority_shadow.predict_priority(ticket, facts)

        prediction: Prediction | None = None
        shadow: Prediction | None = None
        if state.team_rule is not None:
            team, source = (
                state.team or config.default_team,
                f"rule:{config.rules[state.team_rule].name}",
            )
        else:
            team, source = config.default_team, "default"
            if self.predictor is not None:
                prediction = self.predictor.predict_team(ticket, facts)
                if (
                    prediction is not None
                    and prediction.confident
                    and prediction.label in config.teams
                ):
                    team, source = prediction.label, f"model:{prediction.model}"
            if self.shadow is not None:
                shadow = self.shadow.predict_team(ticket, facts)

        flags: list[str] = []
        if ticket.partner_id is None or not facts.partner_known:
            flags.append("partner_unknown")
        if facts.deal_inferred:
            flags.append("deal_inferred")
        if ticket.campaign_id and facts.campaign_name is None:
            flags.append("campaign_unknown")

        skills = tuple(state.skills)
        preferred = facts.partner_account_manager if state.prefer_account_manager else None
        agent_id: str | None = None
        queued = False
        position: int | None = None
        reason = ""
        if pool is not None:
            item = WorkItem(
                ticket_id=ticket.id,
                team=team,
                priority=state.priority,
                score=breakdown.score,
                created_at=ticket.created_at,
                skills=skills,
                preferred_agent=preferred,
            )
            outcome = pool.offer(item, now)
            if outcome.assignment is not None:
                agent_id, reason = outcome.assignment.agent_id, outcome.assignment.reason
            else:
                queued, position, reason = True, outcome.queue_position, outcome.reason

        return RoutingDecision(
            ticket_id=ticket.id,
            score=breakdown.score,
            tier_priority=tier_priority,
            priority=state.priority,
            team=team,
            team_source=source,
            agent_id=agent_id,
            queued=queued,
            assignment_reason=reason,
            queue_position=position,
            preferred_agent=preferred,
            tags=tuple(dict.fromkeys(state.tags)),
            required_skills=skills,
            sla_policy=state.sla_policy
            or sla_policy_for(config, state.priority, facts.partner_tier, team),
            breakdown=breakdown,
            rules_matched=tuple(map(self._matches.__getitem__, state.matched)),
            urgency=breakdown.urgency.value,
            urgency_detected=breakdown.urgency_detected,
            prediction=prediction,
            flags=tuple(flags),
            anomalies=tuple(a.id for a in facts.anomalies),
            config_version=config.version,
            decided_at=now,
            shadow_prediction=shadow,
            priority_source=priority_source,
            priority_prediction=priority_prediction,
            priority_shadow_prediction=priority_shadow,
            facts=facts,
        )


def sla_policy_for(
    config: RoutingConfig, priority: Priority, tier: str | None, team: str
) -> str | None:
    """The first SLA policy whose match fits the ticket (None: no policy applies)."""
    for policy in config.sla_policies:
        if _policy_matches(policy, priority, tier, team):
            return policy.name
    return None


def _policy_matches(policy: SlaPolicy, priority: Priority, tier: str | None, team: str) -> bool:
    return (
        (not policy.priorities or priority in policy.priorities)
        and (not policy.partner_tiers or tier in policy.partner_tiers)
        and (not policy.teams or team in policy.teams)
    )
