"""The multi-factor priority score."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from affroute.config import Normalisation, RoutingConfig, Scale
from affroute.domain import Anomaly, Category, Deal, Priority, Ticket, Urgency
from affroute.engine import AgentPool, Router, Scorer, enrich, normalise, priority_for
from affroute.engine.facts import Facts
from tests.conftest import T0, TicketFactory, config_with_rules, context_for, ranked_partners


def test_log_normalisation_runs_from_floor_to_cap() -> None:
    norm = Normalisation(Scale.LOG, cap=50_000, floor=500)
    assert normalise(None, norm) == 0.0
    assert normalise(400, norm) == 0.0
    assert normalise(5_000, norm) == math.log(10) / math.log(100)
    assert normalise(50_000, norm) == 1.0
    assert normalise(2_000_000, norm) == 1.0


def test_linear_normalisation() -> None:
    norm = Normalisation(Scale.LINEAR, cap=200, floor=0)
    assert normalise(50, norm) == 0.25


def test_seed_worked_example_30k_engaged_partner_scores_about_90(
    example_config: RoutingConfig, make_ticket: TicketFactory
) -> None:
    """The seed's example: a $30K deal from a highly engaged partner scores ~90, senior support."""
    partners = ranked_partners(100)
    top = partners[-1]
    context = context_for(example_config, partners=partners, deals=[Deal("D1", top.id, 30_000)])
    ticket = make_ticket(
        partner_id=top.id, deal_id="D1", category=Category.CAMPAIGN_PERFORMANCE, urgency=None
    )
    decision = Router(example_config).route(ticket, context, T0, AgentPool(example_config.agents))
    assert 85 <= decision.score <= 95
    assert decision.priority is Priority.P1
    assert decision.team == "senior_support"
    factors = {f.name: f for f in decision.factors}
    assert factors["deal_value"].points > 30
    assert factors["engagement"].normalised == 1.0
    assert sum(f.points for f in decision.factors) == pytest.approx(decision.score)


def test_urgency_is_detected_from_keywords_when_not_declared(
    example_config: RoutingConfig, make_ticket: TicketFactory
) -> None:
    scorer = Scorer(example_config.scoring)
    context = context_for(example_config)
    silent = enrich(make_ticket(subject="Payout missing ASAP"), context)
    assert scorer.urgency(silent) == (Urgency.URGENT, True)
    declared = enrich(make_ticket(subject="asap please", urgency=Urgency.LOW), context)
    assert scorer.urgency(declared) == (Urgency.LOW, False)
    plain = enrich(make_ticket(subject="hasapple"), context)  # no keyword inside a word
    assert scorer.urgency(plain) == (Urgency.NORMAL, False)


def test_anomaly_adds_its_weight(example_config: RoutingConfig, make_ticket: TicketFactory) -> None:
    scorer = Scorer(example_config.scoring)
    anomaly = Anomaly("A1", "click_spike", partner_id="P010")
    flagged = context_for(example_config, anomalies=[anomaly])
    clean = context_for(example_config)
    ticket = make_ticket(partner_id="P010")
    gap = scorer.score(enrich(ticket, flagged)).score - scorer.score(enrich(ticket, clean)).score
    assert math.isclose(gap, 100 * example_config.scoring.weights["attribution_anomaly"])


def test_unknown_partner_scores_neutral(
    example_config: RoutingConfig, make_ticket: TicketFactory
) -> None:
    facts = enrich(make_ticket(partner_id="P-NEW"), context_for(example_config))
    assert facts.engagement_percentile == 0.5
    assert facts.partner_known is False


def test_tiers_map_scores_to_priorities(example_config: RoutingConfig) -> None:
    tiers = example_config.tiers
    assert priority_for(100, tiers) is Priority.P1
    assert priority_for(80, tiers) is Priority.P1
    assert priority_for(79.99, tiers) is Priority.P2
    assert priority_for(35, tiers) is Priority.P3
    assert priority_for(0, tiers) is Priority.P4


_CONFIG_SCORER = Scorer(config_with_rules().scoring)
_BASE = enrich(
    Ticket("T1", "s", "b", T0, partner_id="P050"),
    context_for(config_with_rules(), partners=ranked_partners(100)),
)
_amounts = st.floats(min_value=0, max_value=1e9, allow_nan=False)
_shares = st.floats(min_value=0, max_value=1)
_urgency = st.sampled_from(list(Urgency))


def _facts(deal: float, engagement: float, leads: float, urgency: Urgency, flagged: bool) -> Facts:
    return replace(
        _BASE,
        deal_value=deal,
        engagement_percentile=engagement,
        lead_volume_percentile=leads,
        ticket_urgency=urgency,
        has_open_anomaly=flagged,
    )


@given(_amounts, _shares, _shares, _urgency, st.booleans())
def test_score_stays_within_0_and_100(
    deal: float, engagement: float, leads: float, urgency: Urgency, flagged: bool
) -> None:
    score = _CONFIG_SCORER.score(_facts(deal, engagement, leads, urgency, flagged)).score
    assert 0.0 <= score <= 100.0


@given(_amounts, _amounts, _shares, _shares, _urgency, st.booleans())
def test_score_never_falls_as_deal_value_rises(
    a: float, b: float, engagement: float, leads: float, urgency: Urgency, flagged: bool
) -> None:
    low, high = sorted((a, b))
    score_low = _CONFIG_SCORER.score(_facts(low, engagement, leads, urgency, flagged)).score
    score_high = _CONFIG_SCORER.score(_facts(high, engagement, leads, urgency, flagged)).score
    assert score_low <= score_high


@given(_amounts, _shares, _shares, _shares, _urgency, st.booleans())
def test_score_never_falls_as_engagement_rises(
    deal: float, a: float, b: float, leads: float, urgency: Urgency, flagged: bool
) -> None:
    low, high = sorted((a, b))
    score_low = _CONFIG_SCORER.score(_facts(deal, low, leads, urgency, flagged)).score
    score_high = _CONFIG_SCORER.score(_facts(deal, high, leads, urgency, flagged)).score
    assert score_low <= score_high
