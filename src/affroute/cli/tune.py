"""``affroute tune``: propose weights and rules from outcomes; print the evidence and diff."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.syntax import Syntax
from rich.table import Table
from sqlalchemy.orm import Session

from affroute.cli.common import err, out, settings_for, unit_of_work
from affroute.config import FACTORS, ConfigError, parse_config_text
from affroute.feedback.records import read_outcomes
from affroute.feedback.tune import TuneResult, TuneSettings, tune
from affroute.service.runtime import RoutingCache

DEFAULTS = TuneSettings()


def tune_command(
    config_path: Annotated[
        Path | None, typer.Option("--config", help="The current routing configuration (YAML).")
    ] = None,
    outcomes_path: Annotated[
        Path | None,
        typer.Option("--outcomes", help="Ticket outcomes (.csv or .jsonl).", exists=True),
    ] = None,
    from_db: Annotated[
        bool,
        typer.Option(
            "--from-db", help="Learn from the database's solved tickets and its active config."
        ),
    ] = False,
    days: Annotated[
        int, typer.Option(min=1, help="With --from-db: tickets created this many days back.")
    ] = 90,
    apply: Annotated[
        bool,
        typer.Option("--apply", help="With --from-db: activate the proposal as a new version."),
    ] = False,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (default: $AFFROUTE_DATABASE_URL).")
    ] = None,
    min_responses: Annotated[
        int, typer.Option(min=2, help="CSAT answers needed on each side of a comparison.")
    ] = DEFAULTS.min_responses,
    min_difference: Annotated[
        float, typer.Option(min=0, help="Smallest CSAT difference worth a rule.")
    ] = DEFAULTS.min_difference,
    confidence: Annotated[
        float, typer.Option(min=0.5, max=0.999, help="Confidence of the intervals.")
    ] = DEFAULTS.confidence,
    bootstrap: Annotated[
        int, typer.Option(min=0, help="Resamples for the weights' intervals.")
    ] = DEFAULTS.bootstrap,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write the proposed configuration here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Propose factor weights and routing rules from ticket outcomes.

    Nothing is applied unless --apply is given with --from-db.
    """
    settings = TuneSettings(
        min_responses=min_responses,
        min_difference=min_difference,
        confidence=confidence,
        bootstrap=bootstrap,
    )
    if apply and not from_db:
        raise typer.BadParameter("--apply works with --from-db", param_hint="--apply")
    if from_db:
        if config_path is not None or outcomes_path is not None:
            raise typer.BadParameter(
                "--from-db reads the config and outcomes from the database", param_hint="--from-db"
            )
        result, errors, source = _from_database(database_url, days, settings), 0, "database"
    else:
        if config_path is None or outcomes_path is None:
            raise typer.BadParameter("give --config and --outcomes, or --from-db")
        try:
            text = config_path.read_text(encoding="utf-8")
            parse_config_text(text, source=str(config_path))
        except (OSError, ConfigError) as exc:
            err.print(f"[red]{exc}[/red]", highlight=False)
            raise typer.Exit(1) from None
        loaded = read_outcomes(outcomes_path)
        for error in loaded.errors[:20]:
            err.print(f"  {error}", markup=False, highlight=False, soft_wrap=True)
        if loaded.errors:
            err.print(f"[yellow]{len(loaded.errors)} bad row(s) skipped[/yellow]")
        result = tune(loaded.items, text, settings=settings, source=str(config_path))
        errors, source = len(loaded.errors), str(config_path)
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(result.config_text, encoding="utf-8")
    if as_json:
        out.print_json(json.dumps(result.to_dict()))
    else:
        _print(result)
        if out_path is not None:
            out.print(f"proposed configuration written to {out_path}")
    if apply:
        _apply(database_url, result, source)
    if errors:
        raise typer.Exit(1)


def _from_database(database_url: str | None, days: int, settings: TuneSettings) -> TuneResult:
    from affroute.service import configs, tuning

    cache = RoutingCache()
    since = datetime.now(UTC) - timedelta(days=days)

    def work(session: Session) -> TuneResult:
        active = configs.get_active(session=session)
        outcomes = tuning.stored_outcomes(
            session=session, routing=cache.current(session), since=since
        )
        return tune(outcomes, active.yaml, settings=settings, source=f"config {active.version}")

    return unit_of_work(settings_for(database_url)).run(work)


def _apply(database_url: str | None, result: TuneResult, source: str) -> None:
    from affroute.service import configs

    if not result.changed:
        out.print("nothing to apply")
        return
    row = unit_of_work(settings_for(database_url)).run(
        lambda s: configs.activate(
            session=s, yaml_text=result.config_text, actor="tune --apply", now=datetime.now(UTC)
        )
    )
    out.print(f"activated configuration version {row.version} (tuned from {source})")


def _print(result: TuneResult) -> None:
    out.print(
        f"{result.tickets} tickets, {result.responses} CSAT answers: mean CSAT"
        f" [bold]{result.mean_csat:.2f}[/bold], predicted with the proposals"
        f" [bold]{result.predicted_mean_csat:.2f}[/bold]"
    )
    if result.weights is not None:
        w = result.weights
        table = Table(
            "factor",
            "current",
            "proposed",
            "interval",
            "CSAT/hour waited",
            title=f"Factor weights (expected effect {w.expected_gain:+.3f} CSAT)",
        )
        for name in FACTORS:
            low, high = w.intervals.get(name, (float("nan"), float("nan")))
            table.add_row(
                name,
                f"{w.current[name]:.2f}",
                f"{w.proposed[name]:.2f}",
                f"{low:.2f}..{high:.2f}",
                f"{w.cost_per_hour[name]:.3f}",
            )
        out.print(table)
    if result.rules:
        table = Table(
            "#",
            "segment",
            "now (n, CSAT)",
            "to (n, CSAT)",
            "difference",
            "effect",
            title="Rule proposals",
        )
        for index, rule in enumerate(result.rules, start=1):
            d = rule.difference
            table.add_row(
                str(index),
                ", ".join(f"{dim.value}={value}" for dim, value in rule.segment),
                "\n".join(f"{a.team} ({a.responses}, {a.mean_csat:.2f})" for a in rule.moved),
                f"{rule.team} ({rule.better.responses}, {rule.better.mean_csat:.2f})",
                f"{d.estimate:+.2f} ({d.low:+.2f}..{d.high:+.2f})",
                f"{rule.expected_gain:+.3f}",
            )
        out.print(table)
    for note in result.notes:
        out.print(note, style="yellow")
    if result.diff:
        out.print(Syntax(result.diff, "diff", theme="ansi_dark", word_wrap=True))
    else:
        out.print("No change proposed.")
