"""The Router pipeline: decisions, traces, flags, the model hook and determinism."""

from __future__ import annotations

import json
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from affroute.config import RoutingConfig
from affroute.domain import Anomaly, Category, Deal, PartnerTier, Priority, Ticket, Urgency
from affroute.engine import AgentPool, Prediction, Router
from affroute.engine.facts import Facts
from tests.conftest import T0, TicketFactory, config_with_rules, context_for, ranked_partners


@dataclass
class FixedPredictor:
    label: str
    confidence: float
    threshold: float = 0.9

    def predict_team(self, ticket: Ticket, facts: Facts) -> Prediction:
        return Prediction(self.label, self.confidence, self.threshold, "test-model")


def test_decision_carries_a_readable_trace(
    example_config: RoutingConfig, make_ticket: TicketFactory
) -> None:
    context = context_for(example_config, deals=[Deal("D9", "P020", 75_000)])
    ticket = make_ticket(
        partner_id="P020", deal_id="D9", category=Category.PAYOUT, urgency=Urgency.URGENT
    )
    decision = Router(example_config).route(ticket, context, T0, AgentPool(example_config.agents))
    assert decision.team == "senior_support"
    assert decision.team_source == "rule:high-value deals to senior analysts"
    assert [r.name for r in decision.rules_matched] == [
        "urgent tickets are at least P2",
        "high-value deals to senior analysts",
    ]
    assert decision.agent_id is not None and decision.agent_id.startswith("ss-")
    assert decision.config_version == example_config.version
    assert set(decision.tags) == {"urgent", "high_value"}
    text = decision.explain()
    for expected in (
        "deal_value",
        "high-value deals to senior analysts",
        decision.agent_id,
        "config",
    ):
        assert expected in text
    payload = json.loads(json.dumps(decision.to_dict()))
    assert payload["factors"]["deal_value"]["raw"] == 75_000
    assert payload["priority"] in {"p1", "p2"}


def test_the_trace_names_the_anomaly_that_raised_the_ticket(
    example_config: RoutingConfig, make_ticket: TicketFactory
) -> None:
    flag = Anomaly("AN-42", "duplicate_leads", partner_id="P007", campaign_id="C1")
    context = context_for(example_config, anomalies=[flag])
    decision = Router(example_config).route(make_ticket(partner_id="P007"), context, T0)
    assert decision.team == "analytics"
    assert decision.anomalies == ("AN-42",)
    factor = decision.to_dict()["factors"]["attribution_anomaly"]
    assert factor["raw"] == "AN-42 duplicate_leads on partner P007 and campaign C1"
    assert factor["normalised"] == 1.0
    assert "flagged by attribution anomaly: AN-42 duplicate_leads" in decision.explain()
    plain = Router(example_config).route(make_ticket(partner_id="P008"), context, T0)
    assert plain.to_dict()["factors"]["attribution_anomaly"]["raw"] is None
    assert "flagged by attribution anomaly" not in plain.explain()


def test_unknown_partner_is_routed_and_flagged(
    example_config: RoutingConfig, make_ticket: TicketFactory
) -> None:
    decision = Router(example_config).route(
        make_ticket(partner_id="P-NEW"), context_for(example_config), T0
    )
    assert "partner_unknown" in decision.flags
    assert decision.team == "general_support"
    assert decision.agent_id is None and not decision.queued  # no pool: team only


def test_deal_is_inferred_from_the_partner_when_missing(
    example_config: RoutingConfig, make_ticket: TicketFactory
) -> None:
    context = context_for(
        example_config, deals=[Deal("D1", "P010", 900), Deal("D2", "P010", 60_000)]
    )
    decision = Router(example_config).route(make_ticket(partner_id="P010"), context, T0)
    assert "deal_inferred" in decision.flags
    assert decision.team == "senior_support"


def test_sla_policy_follows_priority_and_tier(
    example_config: RoutingConfig, make_ticket: TicketFactory
) -> None:
    partners = ranked_partners(100)
    context = context_for(example_config, partners=partners)
    router = Router(example_config)
    premium = router.route(make_ticket(partner_id="P099"), context, T0)
    assert partners[99].tier is PartnerTier.PREMIUM
    assert premium.sla_policy == "premium partners"
    plain = router.route(make_ticket(partner_id="P001"), context, T0)
    assert plain.sla_policy == plain.priority.value


def test_model_acts_only_when_confident_and_no_rule_pinned_the_team(
    make_ticket: TicketFactory,
) -> None:
    config = config_with_rules(
        {
            "name": "payouts",
            "when": {"all": [{"field": "ticket.category", "op": "==", "value": "payout"}]},
            "then": {"team": "general"},
        }
    )
    context = context_for(config)
    sure = Router(config, predictor=FixedPredictor("finance", 0.97)).route(
        make_ticket(), context, T0
    )
    assert (sure.team, sure.team_source) == ("finance", "model:test-model")
    unsure = Router(config, predictor=FixedPredictor("finance", 0.6)).route(
        make_ticket(), context, T0
    )
    assert (unsure.team, unsure.team_source) == ("general", "default")
    assert unsure.prediction is not None and not unsure.prediction.confident
    pinned = Router(config, predictor=FixedPredictor("finance", 0.99)).route(
        make_ticket(category=Category.PAYOUT), context, T0
    )
    assert (pinned.team, pinned.team_source) == ("general", "rule:payouts")
    unknown_team = Router(config, predictor=FixedPredictor("marketing", 0.99)).route(
        make_ticket(), context, T0
    )
    assert unknown_team.team == "general"


def test_queued_decision_says_why(make_ticket: TicketFactory) -> None:
    config = config_with_rules()
    pool = AgentPool(config.agents)
    router = Router(config)
    context = context_for(config)
    decisions = [router.route(make_ticket(), context, T0, pool) for _ in range(5)]
    assert [d.assigned for d in decisions] == [True, True, True, True, False]
    assert decisions[-1].queued and decisions[-1].queue_position == 1
    assert "at capacity" in decisions[-1].assignment_reason


_categories = st.sampled_from([None, *Category])
_urgencies = st.sampled_from([None, *Urgency])


@settings(max_examples=50, deadline=None)
@given(
    partner=st.integers(0, 120), category=_categories, urgency=_urgencies, text=st.text(max_size=80)
)
def test_same_inputs_give_the_same_decision(
    example_config: RoutingConfig,
    partner: int,
    category: Category | None,
    urgency: Urgency | None,
    text: str,
) -> None:
    context = context_for(example_config, deals=[Deal("D1", "P050", 51_000)])
    ticket = Ticket(
        "T1", text, text, T0, partner_id=f"P{partner:03d}", category=category, urgency=urgency
    )
    first = Router(example_config).route(ticket, context, T0, AgentPool(example_config.agents))
    second = Router(example_config).route(ticket, context, T0, AgentPool(example_config.agents))
    assert first == second
    assert first.assigned or first.queued
    assert first.priority in Priority
