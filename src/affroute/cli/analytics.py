"""``affroute analytics refresh`` and ``affroute report``: the facts behind the metrics,
and the overview as a file to share."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from affroute.cli.common import (
    DatabaseUrl,
    err,
    out,
    settings_for,
    unit_of_work,
)

analytics_app = typer.Typer(help="The analytics facts behind the metrics.", no_args_is_help=True)


@analytics_app.command("refresh")
def analytics_refresh(database_url: DatabaseUrl = None) -> None:
    """Bring the analytics facts up to the event log (the API does this in the background)."""
    from affroute.analytics import facts

    uow = unit_of_work(settings_for(database_url))
    written = events = 0
    while True:  # batches of events, one transaction each
        done = uow.run(lambda s: facts.refresh(session=s))
        written, events = written + done.tickets, events + done.events
        if done.busy or not done.events:
            break
    out.print(f"{events} events read, {written} tickets' facts written")


def _day(value: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        err.print(f"[red]{option} {value!r}: give a date as YYYY-MM-DD[/red]")
        raise typer.Exit(2) from None


def report(
    out_path: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
    start: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD, UTC) of ticket creation.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day (YYYY-MM-DD, UTC), included.")
    ] = None,
    team: Annotated[str | None, typer.Option(help="Only tickets of this team.")] = None,
    partner_tier: Annotated[str | None, typer.Option(help="Only this partner tier.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Write the analytics overview as one self-contained HTML file to share."""
    from datetime import timedelta

    from affroute.analytics import facts
    from affroute.analytics import report as overview_report
    from affroute.analytics.metrics import Filters

    filters = Filters(
        created_from=_day(start, "--from") if start else None,
        created_to=_day(end, "--to") + timedelta(days=1) if end else None,
        team=team,
        partner_tier=partner_tier,
    )
    uow = unit_of_work(settings_for(database_url))
    while uow.run(lambda s: facts.refresh(session=s)).events:
        pass
    now = datetime.now(UTC)
    found = uow.run(lambda s: overview_report.overview(session=s, filters=filters, now=now))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(overview_report.render(found), encoding="utf-8")
    out.print(f"report written to {out_path}")
