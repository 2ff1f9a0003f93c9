"""Benchmark: the closed-loop tuner against the generator's known better configuration.

A generated program (40,000 tickets over five busy weeks by default) is replayed through
the real router and agent pool under the deliberately bad configuration
(tests/feedback/fixtures/bad.yaml); `affroute.feedback.tune` reads those outcomes and
proposes weights and rules. The proposal is then replayed with the same seed, beside the
known better configuration (fixtures/better.yaml). Reported: mean CSAT bad / tuned
(predicted by the tuner, and replayed) / known better, the share of the gap recovered,
and the time each step took. PASS when both tuned figures are within 0.1 of the better.

    .venv/bin/python bench/tune.py [--tickets N] [--weeks W] [--seed S] [--outcomes PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from affroute.config import load_config, parse_config_text
from affroute.feedback.outcomes import mean_csat
from affroute.feedback.records import write_outcomes
from affroute.feedback.tune import TuneSettings, tune
from affroute.synth import GeneratorSpec, generate_program
from affroute.synth.outcomes import replay_outcomes

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "feedback" / "fixtures"
TOLERANCE = 0.1

console = Console()
if not console.is_terminal:
    console = Console(width=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=40_000)
    parser.add_argument("--weeks", type=int, default=5)
    parser.add_argument("--seed", type=int, default=3, help="seed of the generated program")
    parser.add_argument("--outcome-seed", type=int, default=11, help="seed of the outcomes")
    parser.add_argument("--outcomes", type=Path, help="also write the bad config's outcomes")
    args = parser.parse_args()

    def outcome_rng() -> np.random.Generator:
        return np.random.default_rng(args.outcome_seed)

    timings: dict[str, float] = {}
    started = time.perf_counter()
    spec = GeneratorSpec(tickets=args.tickets, weeks=args.weeks)
    program = generate_program(spec, np.random.default_rng(args.seed))
    timings["generate"] = time.perf_counter() - started

    bad_path, better_path = FIXTURES / "bad.yaml", FIXTURES / "better.yaml"
    started = time.perf_counter()
    bad_outcomes = replay_outcomes(program, load_config(bad_path), outcome_rng())
    timings["replay (bad)"] = time.perf_counter() - started
    if args.outcomes:
        write_outcomes(args.outcomes, bad_outcomes)
    better = mean_csat(replay_outcomes(program, load_config(better_path), outcome_rng()))

    started = time.perf_counter()
    result = tune(bad_outcomes, bad_path.read_text(), settings=TuneSettings(), source="bad.yaml")
    timings["tune (200 bootstrap resamples)"] = time.perf_counter() - started
    tuned = mean_csat(
        replay_outcomes(program, parse_config_text(result.config_text), outcome_rng())
    )
    bad = mean_csat(bad_outcomes)

    gap = better - bad
    table = Table(
        "configuration",
        "mean CSAT",
        "gap recovered",
        "within 0.1 of better",
        title=f"{args.tickets:,} tickets over {args.weeks} weeks, {result.responses:,} answers"
        f" (program seed {args.seed}, outcome seed {args.outcome_seed})",
    )
    table.add_row("bad (fixtures/bad.yaml)", f"{bad:.3f}", "0%", "")
    for name, value in (
        ("tuned, predicted by the tuner", result.predicted_mean_csat),
        ("tuned, replayed", tuned),
    ):
        table.add_row(
            name,
            f"{value:.3f}",
            f"{(value - bad) / gap:.0%}",
            "yes" if abs(value - better) <= TOLERANCE else "NO",
        )
    table.add_row("known better (fixtures/better.yaml)", f"{better:.3f}", "100%", "")
    console.print(table)
    console.print(result.report(), markup=False, highlight=False)
    for step, seconds in timings.items():
        console.print(f"{step}: {seconds:.2f} s")
    ok = abs(result.predicted_mean_csat - better) <= TOLERANCE and abs(tuned - better) <= TOLERANCE
    console.print("PASS" if ok else "FAIL", style="bold green" if ok else "bold red")


if __name__ == "__main__":
    main()
