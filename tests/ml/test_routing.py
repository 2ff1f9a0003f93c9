"""A ticket model in the router: confident predictions route, unsure ones leave the rules'
team, and a rule that pins the team wins."""

from __future__ import annotations

import pytest

from affroute.domain import Category
from affroute.engine import Router
from affroute.ml.classifier import TicketClassifier
from affroute.ml.compiled import TicketModel
from affroute.service.predictor import ModelPredictor
from tests.conftest import T0, TicketFactory, config_with_rules, context_for

PAYOUTS_TO_GENERAL = {
    "name": "payouts",
    "when": {"all": [{"field": "ticket.category", "op": "==", "value": "payout"}]},
    "then": {"team": "general"},
}


@pytest.fixture(scope="module")
def predictor() -> ModelPredictor:
    finance = [f"commission payout invoice bank transfer missing {i}" for i in range(30)]
    general = [f"login password portal account locked {i}" for i in range(30)]
    # Tickets that mention both are labelled either way: the model cannot be sure of them.
    mixed = [f"payout portal {i}" for i in range(20)]
    model = TicketClassifier(random_state=0).fit(
        [{"subject": t, "body": ""} for t in finance + general + mixed],
        ["finance"] * 30 + ["general"] * 30 + ["finance", "general"] * 10,
    )
    return ModelPredictor(TicketModel.from_classifier(model), "tiny")


def test_confident_prediction_routes(predictor: ModelPredictor, make_ticket: TicketFactory) -> None:
    config = config_with_rules(PAYOUTS_TO_GENERAL)
    ticket = make_ticket(subject="Commission payout missing", body="the bank transfer never came")
    decision = Router(config, predictor=predictor).route(ticket, context_for(config), T0)
    assert (decision.team, decision.team_source) == ("finance", "model:tiny")
    assert decision.to_dict()["prediction"]["acted"] is True


def test_unsure_prediction_leaves_the_rules_team(
    predictor: ModelPredictor, make_ticket: TicketFactory
) -> None:
    config = config_with_rules(PAYOUTS_TO_GENERAL)
    ticket = make_ticket(subject="payout portal", body="")
    decision = Router(config, predictor=predictor).route(ticket, context_for(config), T0)
    assert decision.prediction is not None and not decision.prediction.confident
    assert (decision.team, decision.team_source) == ("general", "default")
    assert "did not act" in decision.explain()


def test_a_rule_that_pins_the_team_wins(
    predictor: ModelPredictor, make_ticket: TicketFactory
) -> None:
    config = config_with_rules(PAYOUTS_TO_GENERAL)
    ticket = make_ticket(
        subject="Commission payout missing",
        body="the bank transfer never came",
        category=Category.PAYOUT,
    )
    label, confidence, threshold = predictor.model.predict_one(
        {"subject": ticket.subject, "body": ticket.body}
    )
    assert label == "finance" and confidence >= threshold  # the model would have acted
    decision = Router(config, predictor=predictor).route(ticket, context_for(config), T0)
    assert (decision.team, decision.team_source) == ("general", "rule:payouts")
    assert decision.prediction is None  # the model is not even asked


def test_a_priority_model_acts_only_where_no_rule_set_the_priority(
    make_ticket: TicketFactory,
) -> None:
    urgent = [f"site down all sales lost now {i}" for i in range(30)]
    calm = [f"question about next month report {i}" for i in range(30)]
    model = TicketClassifier(random_state=0).fit(
        [{"subject": t, "body": ""} for t in urgent + calm], ["p1"] * 30 + ["p4"] * 30
    )
    priorities = ModelPredictor(TicketModel.from_classifier(model), "prio")
    floor = {
        "name": "payouts at least p3",
        "when": {"all": [{"field": "ticket.category", "op": "==", "value": "payout"}]},
        "then": {"priority_floor": "p3"},
    }
    config = config_with_rules(floor)
    router = Router(config, priority_predictor=priorities)
    ticket = make_ticket(subject="site down all sales lost now", body="")
    decision = router.route(ticket, context_for(config), T0)
    assert (decision.priority.value, decision.priority_source) == ("p1", "model:prio")
    assert decision.to_dict()["priority_prediction"]["acted"] is True

    payout = make_ticket(subject="site down all sales lost now", body="", category=Category.PAYOUT)
    decision = router.route(payout, context_for(config), T0)
    assert decision.priority_source == "rule" and decision.priority_prediction is None
