"""``affroute generate`` and ``affroute route``: a program to try, routed offline in batch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from affroute.cli.common import (
    err,
    load_config_or_exit,
    out,
    progress_bar,
)
from affroute.config.schema import parse_duration
from affroute.domain import Priority
from affroute.engine import AgentPool, Router, RoutingDecision
from affroute.service.batch import BatchSummary, read_context_folder, route_batch
from affroute.service.records import RowError, TicketRecord, load_rows


def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the CSV/JSONL files to.")],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 7,
    partners: Annotated[int, typer.Option(min=1)] = 400,
    campaigns: Annotated[int, typer.Option(min=1)] = 60,
    tickets: Annotated[int, typer.Option(min=0)] = 5000,
    weeks: Annotated[int, typer.Option(min=1)] = 8,
) -> None:
    """Generate a synthetic affiliate program with ground-truth labels."""
    from affroute.synth import GeneratorSpec, generate_program, write_program

    spec = GeneratorSpec(partners=partners, campaigns=campaigns, tickets=tickets, weeks=weeks)
    with progress_bar("generating tickets", tickets) as done:
        program = generate_program(spec, np.random.default_rng(seed), progress=done)
    written = write_program(program, out_dir)
    out.print(
        f"Generated {len(program.partners)} partners, {len(program.deals)} deals, "
        f"{len(program.campaigns)} campaigns, {len(program.anomalies)} anomalies and "
        f"{len(program.tickets)} tickets (seed {seed}) in {out_dir}/ ({len(written)} files)"
    )


def _report_row_errors(errors: list[RowError], limit: int = 20) -> None:
    if not errors:
        return
    err.print(f"[yellow]{len(errors)} bad row(s) skipped:[/yellow]")
    for error in errors[:limit]:
        err.print(f"  {error}", markup=False, highlight=False)
    if len(errors) > limit:
        err.print(f"  ... and {len(errors) - limit} more")


def _print_summary(summary: BatchSummary, teams: list[str]) -> None:
    priorities = [p.value for p in Priority]
    table = Table(title=f"{summary.routed} tickets routed", show_footer=True)
    table.add_column("team", footer="total")
    for p in priorities:
        table.add_column(p.upper(), justify="right", footer=str(summary.by_priority.get(p, 0)))
    table.add_column("tickets", justify="right", footer=str(summary.routed))
    for team in sorted(teams, key=lambda t: -summary.by_team.get(t, 0)):
        if summary.by_team.get(team):
            cells = [str(summary.by_team_priority.get((team, p), 0)) for p in priorities]
            table.add_row(team, *cells, str(summary.by_team[team]))
    out.print(table)
    sources = ", ".join(f"{k} {v}" for k, v in summary.by_source.most_common())
    out.print(
        f"assigned on arrival {summary.assigned}, queued on arrival {summary.queued_at_arrival}, "
        f"pulled from queues later {summary.pulled_later}, still waiting {summary.still_queued}\n"
        f"median score {summary.median_score:.1f}; team decided by: {sources}"
    )


def route(
    tickets: Annotated[
        Path, typer.Argument(help="Tickets as .csv or .jsonl.", exists=True, dir_okay=False)
    ],
    config_path: Annotated[Path, typer.Option("--config", help="Routing configuration (YAML).")],
    context_dir: Annotated[
        Path, typer.Option("--context", help="Folder with partners, deals, campaigns, anomalies.")
    ],
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the decisions (.jsonl).")],
    explain: Annotated[bool, typer.Option(help="Print each decision's explanation.")] = False,
    handling_time: Annotated[
        str,
        typer.Option(
            help="Replay: an assigned ticket frees its agent after this long; 0 keeps all open."
        ),
    ] = "2h",
) -> None:
    """Route a file of tickets and write one decision per line, with its trace."""
    config = load_config_or_exit(config_path)
    try:
        hold = None if handling_time.strip() in ("0", "") else parse_duration(handling_time)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--handling-time") from None
    try:
        loaded_context = read_context_folder(context_dir, config.scoring)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--context") from None
    if loaded_context.missing:
        err.print(f"[yellow]no {', '.join(loaded_context.missing)} file in {context_dir}[/yellow]")
    with progress_bar("reading tickets", None):
        loaded = load_rows(tickets, TicketRecord)
    errors = loaded_context.errors + loaded.errors
    router = Router(config)
    pool = AgentPool(config.agents)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with (
        out_path.open("w", encoding="utf-8") as sink,
        progress_bar("routing", len(loaded.items)) as done,
    ):

        def write(decision: RoutingDecision) -> None:
            nonlocal count
            sink.write(json.dumps(decision.to_dict()) + "\n")
            count += 1
            if count % 500 == 0:
                done(count)
            if explain:
                out.print(decision.explain(), markup=False, highlight=False)

        summary = route_batch(
            loaded.items,
            router=router,
            context=loaded_context.context,
            pool=pool,
            handling_time=hold,
            on_decision=write,
        )
    _print_summary(summary, list(config.teams))
    out.print(f"decisions written to {out_path} (config {config.version})")
    _report_row_errors(errors)
    if errors:
        raise typer.Exit(1)
