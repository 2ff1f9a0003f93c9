"""``affroute sla ...``: SLA clocks and the escalation sweeper."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from affroute.cli.common import (
    DatabaseUrl,
    out,
    settings_for,
    unit_of_work,
)
from affroute.service.runtime import RoutingCache

sla_app = typer.Typer(help="SLA clocks and the escalation sweeper.", no_args_is_help=True)


@sla_app.command("sweep")
def sla_sweep(
    once: Annotated[bool, typer.Option("--once", help="One sweep, then exit.")] = False,
    interval: Annotated[float, typer.Option(min=1, help="Seconds between sweeps.")] = 30,
    limit: Annotated[int, typer.Option(min=1, help="Due tickets per sweep.")] = 500,
    database_url: DatabaseUrl = None,
) -> None:
    """Fire the escalation steps that came due; safe to run beside other sweepers."""
    import time

    from affroute.service import sla

    uow = unit_of_work(settings_for(database_url))
    cache = RoutingCache()
    while True:
        total = fired = 0
        while True:  # drain: several transactions if more than `limit` tickets are due
            done = sla.sweep(uow=uow, cache=cache, now=datetime.now(UTC), limit=limit)
            total, fired = total + done.examined, fired + done.fired
            if done.examined < limit:
                break
        out.print(
            f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z examined {total} tickets, fired {fired} steps"
        )
        if once:
            return
        time.sleep(interval)


@sla_app.command("recompute")
def sla_recompute(
    include_closed: Annotated[bool, typer.Option(help="Also solved and closed tickets.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Recompute every ticket's clocks from its events (after a calendar or policy change)."""
    from affroute.service import sla

    uow = unit_of_work(settings_for(database_url))
    count = uow.run(
        lambda s: sla.recompute_all(
            session=s, cache=RoutingCache(), now=datetime.now(UTC), include_closed=include_closed
        )
    )
    out.print(f"recomputed the clocks of {count} tickets")
