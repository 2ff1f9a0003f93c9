"""The event core against queueing theory: Erlang C for M/M/c, Cobham for priorities."""

from __future__ import annotations

import numpy as np
import pytest

from affroute.sim import (
    check_cobham,
    check_erlang_c,
    cobham_waits,
    erlang_c_wait,
    simulate_mm1_priority,
    simulate_mmc,
)

# 8 seeds x 300,000 customers per load (~3 s each). The assertion below also requires the
# estimate's own standard error to be under a third of the 2% allowed, so passing is not luck.
SEEDS, CUSTOMERS, WARMUP = 8, 300_000, 1_000


def test_erlang_c_formula_matches_known_values() -> None:
    # M/M/1: Wq = rho / (mu - lambda); M/M/2 at a = 1: C = 1/3, Wq = C / (2 - 1).
    assert erlang_c_wait(0.5, 1.0, 1) == pytest.approx(1.0)
    assert erlang_c_wait(1.0, 1.0, 2) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="grows without bound"):
        erlang_c_wait(2.0, 1.0, 2)


@pytest.mark.parametrize(("load", "servers"), [(0.5, 2), (0.7, 3), (0.8, 5), (0.9, 3), (0.95, 3)])
def test_mmc_mean_wait_matches_erlang_c_within_2_percent(load: float, servers: int) -> None:
    check = check_erlang_c(load, servers, CUSTOMERS, SEEDS, warmup=WARMUP, seed=9)
    assert check.error < 0.02, check
    assert check.controlled_se / check.exact < 0.02 / 3, check


@pytest.mark.parametrize("load", [0.5, 0.7])
def test_mmc_plain_average_over_seeds_is_within_2_percent_at_moderate_load(load: float) -> None:
    # Without the control variate, the plain average is precise enough up to ~0.7.
    check = check_erlang_c(load, 2, CUSTOMERS, SEEDS, warmup=WARMUP, seed=3)
    assert check.plain_error < 0.02, check
    assert check.plain_se / check.exact < 0.02 / 3, check


def test_cobham_formula_matches_the_textbook_example() -> None:
    # Classes at 0.2, 0.3, 0.3 with mu = 1: W0 = 0.8, W = 0.8/0.8, 0.8/(0.8*0.5), 0.8/(0.5*0.2).
    assert cobham_waits([0.2, 0.3, 0.3], 1.0) == pytest.approx([1.0, 2.0, 8.0])


def test_priority_waits_match_cobham_within_2_percent_per_class() -> None:
    checks = check_cobham([0.2, 0.3, 0.3], CUSTOMERS, SEEDS, warmup=WARMUP, seed=5)
    for level, check in enumerate(checks):
        assert check.error < 0.02, (level, check)
        assert check.controlled_se / check.exact < 0.02 / 3, (level, check)


def test_same_seed_same_waits_and_priorities_order_the_queue() -> None:
    first = simulate_mmc(0.9, 1.0, 1, 20_000, np.random.default_rng(4))
    again = simulate_mmc(0.9, 1.0, 1, 20_000, np.random.default_rng(4))
    assert np.array_equal(first.waits, again.waits)
    run = simulate_mm1_priority([0.3, 0.3, 0.3], 1.0, 50_000, np.random.default_rng(1))
    means = [run.mean_wait_of(k) for k in range(3)]
    assert means[0] < means[1] < means[2]
