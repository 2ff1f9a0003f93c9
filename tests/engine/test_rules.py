"""Compiled rules: every operator, nesting, ordering, stop, and rule state."""

from __future__ import annotations

from typing import Any

import pytest

from affroute.config import FIELDS, RoutingConfig
from affroute.domain import Anomaly, Campaign, Category, Channel, Deal, Priority, PromotionType
from affroute.engine import RuleState, compile_rules, enrich
from affroute.engine.facts import Facts
from tests.conftest import TicketFactory, config_with_rules, context_for


def cond(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return (
        {"field": field, "op": op, "value": value}
        if value is not None
        else {"field": field, "op": op}
    )


def tag_rule(name: str, *conditions: dict[str, Any], any_: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "when": {"any" if any_ else "all": list(conditions)},
        "then": {"tags": [name]},
    }


def run(config: RoutingConfig, facts: Facts) -> RuleState:
    state = RuleState(priority=Priority.P3)
    compile_rules(config.rules).apply(facts, state)
    return state


@pytest.fixture
def facts(make_ticket: TicketFactory) -> Facts:
    config = config_with_rules()
    context = context_for(
        config,
        deals=[Deal("D1", "P090", 42_000)],
        campaigns=[Campaign("C1", "Winter Sale", Channel.EMAIL, "EMEA", PromotionType.SEASONAL)],
        anomalies=[Anomaly("A1", "click_spike", campaign_id="C1")],
    )
    ticket = make_ticket(
        partner_id="P090",
        deal_id="D1",
        campaign_id="C1",
        category=Category.PAYOUT,
        subject="Payout for Winter Sale is LATE",
        body="Invoice INV-2291 not paid",
        tags=("vip",),
    )
    result = enrich(ticket, context)
    result.score = 72.5
    return result


CASES = [
    (cond("deal.value", "==", 42000), True),
    (cond("deal.value", "!=", 42000), False),
    (cond("deal.value", ">", 42000), False),
    (cond("deal.value", ">=", 42000), True),
    (cond("deal.value", "<", 50000), True),
    (cond("deal.value", "<=", 41999), False),
    (cond("deal.value", "between", [40000, 45000]), True),
    (cond("score", "between", [72.6, 100]), False),
    (cond("ticket.category", "in", ["payout", "commission_dispute"]), True),
    (cond("ticket.category", "not_in", ["payout"]), False),
    (cond("ticket.subject", "contains", "late"), True),
    (cond("ticket.text", "contains", "inv-2291"), True),
    (cond("ticket.body", "not_contains", "paid"), False),
    (cond("ticket.text", "matches", r"inv-\d{4}"), True),
    (cond("campaign.name", "matches", r"^winter"), False),  # strings keep their case
    (cond("campaign.name", "contains", "Sale"), True),
    (cond("campaign.promotion_type", "==", "seasonal"), True),
    (cond("ticket.tags", "contains", "vip"), True),
    (cond("ticket.tags", "not_contains", "vip"), False),
    (cond("has_open_anomaly", "==", True), True),
    (cond("anomaly_kinds", "contains", "click_spike"), True),
    (cond("partner.known", "!=", True), False),
    (cond("partner.account_manager", "is_set"), True),
    (cond("ticket.urgency", "not_set"), True),
    (cond("deal.value", "not_set"), False),
    (cond("engagement_percentile", ">=", 0.8), True),
    (cond("partner.tier", "==", "premium"), False),
]


@pytest.mark.parametrize(
    ("condition", "expected"), CASES, ids=[f"{c['field']} {c['op']}" for c, _ in CASES]
)
def test_each_operator(condition: dict[str, Any], expected: bool, facts: Facts) -> None:
    state = run(config_with_rules(tag_rule("r", condition)), facts)
    assert (state.matched == [0]) is expected


def test_missing_values_never_satisfy_comparisons(make_ticket: TicketFactory) -> None:
    config = config_with_rules(
        tag_rule("lt", cond("deal.value", "<", 10)),
        tag_rule("between", cond("deal.value", "between", [0, 10])),
        tag_rule("regex", cond("campaign.name", "matches", ".*")),
        tag_rule("contains", cond("campaign.region", "contains", "E")),
    )
    facts = enrich(make_ticket(), context_for(config))
    assert run(config, facts).matched == []


def test_all_and_any_nest(facts: Facts) -> None:
    rule = {
        "name": "nested",
        "when": {
            "all": [
                cond("deal.value", ">", 1000),
                {"any": [cond("score", ">", 99), cond("has_open_anomaly", "==", True)]},
            ],
            "any": [
                cond("ticket.region", "==", "APAC"),
                {"all": [cond("partner.known", "==", True)]},
            ],
        },
        "then": {"tags": ["hit"]},
    }
    assert run(config_with_rules(rule), facts).tags == ["hit"]
    rule["when"]["all"][1]["any"][1] = cond("has_open_anomaly", "==", False)
    assert run(config_with_rules(rule), facts).tags == []


def test_empty_condition_always_matches(facts: Facts) -> None:
    assert run(config_with_rules({"name": "always", "then": {"tags": ["x"]}}), facts).tags == ["x"]


def test_rules_apply_in_order_and_stop_ends_the_run(facts: Facts) -> None:
    config = config_with_rules(
        {"name": "first", "then": {"team": "general", "tags": ["a"]}},
        {"name": "second", "then": {"team": "finance", "tags": ["b"], "stop": True}},
        {"name": "third", "then": {"team": "general", "tags": ["c"]}},
    )
    state = run(config, facts)
    assert state.matched == [0, 1]
    assert state.team == "finance"
    assert state.team_rule == 1
    assert state.tags == ["a", "b"]


def test_later_rules_see_team_and_priority_of_earlier_ones(facts: Facts) -> None:
    config = config_with_rules(
        {"name": "route", "then": {"team": "finance", "priority": "p2"}},
        {
            "name": "follow-up",
            "when": {"all": [cond("team", "==", "finance"), cond("priority", "in", ["p1", "p2"])]},
            "then": {"skills": ["payouts:2"], "sla_policy": None, "tags": ["finance-p2"]},
        },
    )
    state = run(config, facts)
    assert state.tags == ["finance-p2"]
    assert [(s.name, s.level) for s in state.skills] == [("payouts", 2)]


def test_priority_floor_only_raises(facts: Facts) -> None:
    raise_to_p2 = {"name": "floor", "then": {"priority_floor": "p2"}}
    state = RuleState(priority=Priority.P4)
    compile_rules(config_with_rules(raise_to_p2).rules).apply(facts, state)
    assert state.priority is Priority.P2
    state = RuleState(priority=Priority.P1)
    compile_rules(config_with_rules(raise_to_p2).rules).apply(facts, state)
    assert state.priority is Priority.P1


def test_values_are_data_never_code(facts: Facts) -> None:
    hostile = "x') or True or ('"
    config = config_with_rules(tag_rule("r", cond("ticket.subject", "contains", hostile)))
    assert run(config, facts).matched == []
    assert hostile not in compile_rules(config.rules).source


def test_every_declared_field_is_on_the_facts_or_state(facts: Facts) -> None:
    for spec in FIELDS.values():
        holder = RuleState(priority=Priority.P1) if spec.name in ("team", "priority") else facts
        assert hasattr(holder, spec.attr), spec.name
