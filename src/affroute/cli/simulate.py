"""`affroute simulate`: each policy on the same arrivals over several seeds, compared."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from affroute.cli.common import err, load_config_or_exit, new_bar, out
from affroute.engine import RoutingContext
from affroute.sim.files import InputError, read_agents, read_arrivals, read_servicenow
from affroute.sim.model import BASELINES, Policy, PolicyKind
from affroute.sim.report import METRICS, compare
from affroute.sim.workload import config_agents, generated_workload, run_policies


def simulate_command(
    config: Annotated[Path, typer.Option("--config", help="The policy to try (YAML).")],
    arrivals: Annotated[
        str,
        typer.Option(
            help="Tickets (.csv/.jsonl, optional true_team), the ServiceNow log "
            "(incident_event_log*.csv[.gz]), or 'generated'."
        ),
    ] = "generated",
    compare_with: Annotated[
        list[Path] | None, typer.Option("--compare", help="Other configurations to compare.")
    ] = None,
    baselines: Annotated[bool, typer.Option(help="Add FIFO, round robin, least loaded.")] = False,
    agents: Annotated[
        Path | None, typer.Option(help="Agents .csv/.jsonl (default: the config's).")
    ] = None,
    context_dir: Annotated[
        Path | None, typer.Option("--context", help="Partners/deals/... for file arrivals.")
    ] = None,
    days: Annotated[float, typer.Option(min=0.01)] = 14.0,
    tickets: Annotated[int, typer.Option(help="Generated tickets.", min=1)] = 3000,
    seed: Annotated[int, typer.Option()] = 0,
    seeds: Annotated[int, typer.Option(help="Replications per policy.", min=1)] = 5,
    plots: Annotated[Path | None, typer.Option(help="Write PNG figures here.")] = None,
) -> None:
    """Run each policy on the same arrivals over several seeds; compare with 95% CIs."""
    base = load_config_or_exit(config)
    root = np.random.SeedSequence(seed)
    workload_seed, *replica_seeds = root.spawn(seeds + 1)
    try:
        if arrivals == "generated":
            arriving, context = generated_workload(
                base, tickets, days, np.random.default_rng(workload_seed)
            )
        else:
            path = Path(arrivals)
            if not path.exists():
                err.print(f"[red]{path} does not exist[/red]")
                raise typer.Exit(1)
            arriving = read_servicenow(path) if "incident" in path.name else read_arrivals(path)
            context = RoutingContext.build(scoring=base.scoring)
            if context_dir is not None:
                from affroute.service.batch import read_context_folder

                context = read_context_folder(context_dir, base.scoring).context
        roster = (
            read_agents(agents, set(base.teams), set(base.calendars))
            if agents is not None
            else config_agents(base)
        )
    except InputError as exc:
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None

    policies = [Policy(config.stem, PolicyKind.ROUTER, base)]
    for other in compare_with or []:
        policies.append(Policy(other.stem, PolicyKind.ROUTER, load_config_or_exit(other)))
    if baselines:
        policies += [Policy(kind.value, kind, base) for kind in BASELINES]

    bar = new_bar(elapsed=True)
    with bar:
        total = bar.add_task("simulating", total=len(policies) * seeds)

        runs_started = 0

        def started(policy: Policy) -> None:
            nonlocal runs_started
            bar.update(total, completed=runs_started, description=f"simulating {policy.name}")
            runs_started += 1

        runs = run_policies(
            arriving, policies, agents=roster, context=context, days=days,
            seeds=replica_seeds, started=started,
        )  # fmt: skip

    first = runs[policies[0].name][0]
    table = Table(
        title=f"{first.arrivals} arrivals over {days:g} days, {len(roster)} agents, "
        f"{seeds} seeds (mean ± 95% CI)"
    )
    table.add_column("metric")
    for policy in policies:
        table.add_column(policy.name, justify="right")
    compared = compare(runs)
    for metric, label in METRICS.items():
        table.add_row(label, *(str(compared[p.name][metric]) for p in policies))
    out.print(table)
    if plots is not None:
        from affroute.sim.plots import write_plots

        for written in write_plots(runs, plots):
            out.print(f"wrote {written}")
