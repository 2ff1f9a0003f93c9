"""The tuner against a known answer: outcomes of a bad config, scored by replaying its proposal.

The generator's satisfaction depends on routing (right team, waiting, priority), so the
known better configuration (fixtures/better.yaml) has a replayed mean CSAT to aim for.
"""

from __future__ import annotations

import numpy as np
import pytest

from affroute.config import load_config, parse_config_text
from affroute.feedback.outcomes import TicketOutcome, mean_csat
from affroute.feedback.tune import Dimension, TuneSettings, tune
from affroute.synth import AffiliateProgram, GeneratorSpec, generate_program
from affroute.synth.outcomes import replay_outcomes
from tests.feedback.conftest import BAD, BETTER

OUTCOME_SEED = 11


@pytest.fixture(scope="module")
def program() -> AffiliateProgram:
    # Two busy weeks: queues form at the daily peaks, so the score's order matters.
    return generate_program(GeneratorSpec(tickets=16_000, weeks=2), np.random.default_rng(3))


@pytest.fixture(scope="module")
def bad_outcomes(program: AffiliateProgram) -> list[TicketOutcome]:
    return replay_outcomes(program, load_config(BAD), np.random.default_rng(OUTCOME_SEED))


def test_the_tuned_config_lands_near_the_known_better_one(
    program: AffiliateProgram, bad_outcomes: list[TicketOutcome]
) -> None:
    better = mean_csat(
        replay_outcomes(program, load_config(BETTER), np.random.default_rng(OUTCOME_SEED))
    )
    bad = mean_csat(bad_outcomes)
    assert better - bad > 0.15  # there is a real gap to recover

    result = tune(bad_outcomes, BAD.read_text(), settings=TuneSettings(bootstrap=0))
    tuned_config = parse_config_text(result.config_text)
    tuned = mean_csat(replay_outcomes(program, tuned_config, np.random.default_rng(OUTCOME_SEED)))

    assert result.mean_csat == pytest.approx(bad)
    assert abs(result.predicted_mean_csat - better) <= 0.1
    assert abs(tuned - better) <= 0.1
    # What it found: deal value matters most, lead volume hardly, and seasonal campaign
    # tickets belong with promotions.
    assert result.weights is not None
    proposed = result.weights.proposed
    assert max(proposed, key=proposed.__getitem__) == "deal_value"
    assert proposed["lead_volume"] <= 0.1
    assert any(
        rule.team == "promotions" and (Dimension.PROMOTION_TYPE, "seasonal") in rule.segment
        for rule in result.rules
    )


def test_replayed_outcomes_are_fixed_by_the_seed(program: AffiliateProgram) -> None:
    small = AffiliateProgram(
        program.partners,
        program.deals,
        program.campaigns,
        program.anomalies,
        program.tickets[:2000],
    )
    config = load_config(BAD)
    first = replay_outcomes(small, config, np.random.default_rng(5))
    assert first == replay_outcomes(small, config, np.random.default_rng(5))
    assert first != replay_outcomes(small, config, np.random.default_rng(6))
    answered = [o for o in first if o.csat is not None]
    assert 0.35 < len(answered) / len(first) < 0.55  # the survey response rate
    assert all(1 <= o.csat <= 5 for o in answered if o.csat is not None)
    misrouted = [o for o in first if o.reassigned]
    assert misrouted and mean_csat(misrouted) < mean_csat(first) - 1
