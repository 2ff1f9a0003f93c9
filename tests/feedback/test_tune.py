"""The tuner on small hand-built outcome sets, where every figure can be worked out."""

from __future__ import annotations

import math
import statistics

import pytest
import yaml

from affroute.config import parse_config_text
from affroute.domain import Category
from affroute.engine import Router
from affroute.feedback.outcomes import TicketOutcome
from affroute.feedback.tune import Dimension, TuneSettings, tune
from tests.conftest import T0, TicketFactory, context_for, minimal_data
from tests.feedback.conftest import OutcomeFactory

CONFIG = yaml.safe_dump(minimal_data(), sort_keys=False)
GENERAL = [2, 3, 2, 1, 3, 2, 3, 2, 2, 3] * 3  # 30 answers with the default team
FINANCE = [5, 4, 5, 4, 5, 5, 4, 4, 5, 4] * 2  # 20 answers with finance


def payout_outcomes(make_outcome: OutcomeFactory) -> list[TicketOutcome]:
    """Payout tickets: the default team's partners are unhappy, finance's are not."""
    general = [make_outcome(csat=c) for c in GENERAL]
    unanswered = [make_outcome() for _ in range(10)]
    finance = [make_outcome(csat=c, team="finance", team_source="person:lead") for c in FINANCE]
    # Another category, answered alike by both teams: nothing to propose there.
    other = [
        make_outcome(category=Category.ACCOUNT_ACCESS, csat=4, team=team)
        for team in ("general", "finance")
        for _ in range(25)
    ]
    return general + unanswered + finance + other


def test_the_evidence_is_the_arms_and_a_welch_interval(make_outcome: OutcomeFactory) -> None:
    settings = TuneSettings(min_responses=20, bootstrap=0)
    result = tune(payout_outcomes(make_outcome), CONFIG, settings=settings)

    assert result.weights is None  # no first-response times: nothing to fit weights on
    [rule] = result.rules
    assert rule.segment == ((Dimension.CATEGORY, "payout"),)
    assert rule.team == "finance" and rule.before_rule is None
    assert rule.better.responses == 20
    assert rule.better.mean_csat == pytest.approx(statistics.mean(FINANCE))
    [moved] = rule.moved
    assert (moved.team, moved.responses) == ("general", 30)
    assert moved.mean_csat == pytest.approx(statistics.mean(GENERAL))
    assert rule.moved_tickets == 40  # the unanswered tickets move too

    difference = statistics.mean(FINANCE) - statistics.mean(GENERAL)
    se = math.sqrt(
        statistics.variance(FINANCE) / len(FINANCE) + statistics.variance(GENERAL) / len(GENERAL)
    )
    assert rule.difference.estimate == pytest.approx(difference)
    assert rule.difference.low == pytest.approx(difference - 1.959964 * se, abs=1e-4)
    assert rule.difference.high == pytest.approx(difference + 1.959964 * se, abs=1e-4)
    answers = len(GENERAL) + len(FINANCE) + 50
    assert rule.expected_gain == pytest.approx(len(GENERAL) * difference / answers)
    assert result.mean_csat == pytest.approx((sum(GENERAL) + sum(FINANCE) + 50 * 4) / answers)
    assert result.predicted_mean_csat == pytest.approx(result.mean_csat + rule.expected_gain)
    assert "CSAT 2.30 with general (n=30) vs 4.50 with finance (n=20)" in result.report()


def test_the_proposed_config_is_valid_and_routes_the_segment(
    make_outcome: OutcomeFactory, make_ticket: TicketFactory
) -> None:
    result = tune(
        payout_outcomes(make_outcome), CONFIG, settings=TuneSettings(min_responses=20, bootstrap=0)
    )
    config = parse_config_text(result.config_text)
    router = Router(config)
    context = context_for(config)
    payout = router.route(make_ticket(category=Category.PAYOUT), context, T0)
    access = router.route(make_ticket(category=Category.ACCOUNT_ACCESS), context, T0)
    assert (payout.team, payout.team_source) == ("finance", f"rule:{result.rules[0].name}")
    assert access.team == "general"
    assert result.diff.startswith("--- config.yaml\n+++ config.yaml (tuned)\n")
    assert "+    then: {team: finance, tags: [tuned], stop: true}" in result.diff
    assert result.to_dict()["rules"][0]["moved"] == [
        {"team": "general", "responses": 30, "mean_csat": pytest.approx(2.3)}
    ]


def test_no_proposal_below_the_minimum_of_answers(make_outcome: OutcomeFactory) -> None:
    outcomes = payout_outcomes(make_outcome)
    # Finance has 20 answers: a minimum of 21 leaves nothing to compare with.
    result = tune(outcomes, CONFIG, settings=TuneSettings(min_responses=21, bootstrap=0))
    assert result.rules == ()
    assert result.config_text == CONFIG and result.diff == ""
    assert "No change proposed." in result.report()


def test_teams_that_do_equally_well_get_no_rule(make_outcome: OutcomeFactory) -> None:
    scores = [3, 4, 5, 4, 3, 5, 4, 4] * 5
    outcomes = [make_outcome(csat=c) for c in scores] + [
        make_outcome(csat=c, team="finance", team_source="person:lead") for c in scores
    ]
    assert tune(outcomes, CONFIG, settings=TuneSettings(bootstrap=0)).rules == ()


def test_a_rule_that_stopped_earlier_keeps_its_tickets(make_outcome: OutcomeFactory) -> None:
    """The proposal goes after a stop rule whose tickets do well, and moves only the rest."""
    data = minimal_data(
        rules=[
            {
                "name": "big payouts stay",
                "when": {"all": [{"field": "deal.value", "op": ">=", "value": 50000}]},
                "then": {"team": "general", "stop": True},
            }
        ]
    )
    text = yaml.safe_dump(data, sort_keys=False)
    outcomes = payout_outcomes(make_outcome) + [
        make_outcome(
            csat=5,
            deal_value=80_000.0,
            rules=("big payouts stay",),
            team_source="rule:big payouts stay",
        )
        for _ in range(30)
    ]
    result = tune(outcomes, text, settings=TuneSettings(min_responses=20, bootstrap=0))
    [rule] = result.rules
    assert rule.before_rule is None  # after "big payouts stay"
    assert rule.moved_tickets == 40
    config = parse_config_text(result.config_text)
    assert [r.name for r in config.rules] == ["big payouts stay", rule.name]


def test_the_same_outcomes_give_the_same_result(make_outcome: OutcomeFactory) -> None:
    outcomes = payout_outcomes(make_outcome)
    settings = TuneSettings(min_responses=20, bootstrap=50, random_state=3)
    first, second = (tune(outcomes, CONFIG, settings=settings) for _ in range(2))
    assert first.to_dict() == second.to_dict()
    assert first.config_text == second.config_text
