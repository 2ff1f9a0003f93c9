"""Pure decision code: enrichment, scoring, compiled rules, assignment and the Router."""

from affroute.engine.assign import AgentPool, AgentState, Assignment, Outcome, WorkItem
from affroute.engine.context import RoutingContext, percentile_ranks
from affroute.engine.facts import Facts, enrich
from affroute.engine.router import (
    Prediction,
    Router,
    RoutingDecision,
    RuleMatch,
    TeamPredictor,
    sla_policy_for,
)
from affroute.engine.rules import CompiledRules, RuleState, compile_rules
from affroute.engine.score import FactorScore, ScoreBreakdown, Scorer, normalise, priority_for

__all__ = [
    "AgentPool",
    "AgentState",
    "Assignment",
    "CompiledRules",
    "FactorScore",
    "Facts",
    "Outcome",
    "Prediction",
    "Router",
    "RoutingContext",
    "RoutingDecision",
    "RuleMatch",
    "RuleState",
    "ScoreBreakdown",
    "Scorer",
    "TeamPredictor",
    "WorkItem",
    "compile_rules",
    "enrich",
    "normalise",
    "percentile_ranks",
    "priority_for",
    "sla_policy_for",
]
