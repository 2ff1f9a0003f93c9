"""``affroute surveys ...``: satisfaction surveys and their responses."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from affroute.cli.common import (
    DatabaseUrl,
    err,
    out,
    progress_bar,
    settings_for,
    unit_of_work,
)
from affroute.service.errors import AffrouteError
from affroute.service.runtime import RoutingCache
from affroute.service.satisfaction import Dimension

surveys_app = typer.Typer(help="Satisfaction surveys and their responses.", no_args_is_help=True)


@surveys_app.command("import")
def surveys_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A CSV export.")],
    column: Annotated[
        list[str] | None,
        typer.Option(
            help="FIELD=COLUMN: where the export keeps a field (ticket_id, external_id, "
            "response_id, csat, nps, comment, answered_at); repeat for each.",
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Import survey responses exported by another tool (SurveyMonkey, Zigpoll, Qualtrics)."""
    from affroute.service import surveys

    columns: dict[str, str] = {}
    for item in column or []:
        name, sep, header = item.partition("=")
        if not sep or not header:
            raise typer.BadParameter(f"expected FIELD=COLUMN, got {item!r}", param_hint="--column")
        columns[name.strip()] = header.strip()
    try:
        good, errors = surveys.responses_from_csv(file.read_text(encoding="utf-8-sig"), columns)
    except AffrouteError as exc:
        raise typer.BadParameter(exc.message, param_hint="--column") from None
    settings = settings_for(database_url)
    uow, cache, now = unit_of_work(settings), RoutingCache(), datetime.now(UTC)
    recorded = replayed = 0

    def record(response: surveys.ExternalResponse, session: Session) -> surveys.Recorded:
        return surveys.record_response(
            session=session,
            routing=cache.current(session),
            response=response,
            source=surveys.ResponseSource.IMPORT,
            now=now,
            announce=bool(settings.events_webhook_url),
        )

    with progress_bar("importing responses", len(good)) as advance:
        for index, (line, response) in enumerate(good, 1):
            try:
                done = uow.run(partial(record, response))
            except AffrouteError as exc:
                field = exc.details.get("field") if isinstance(exc.details, dict) else None
                errors.append({"line": line, "field": field, "message": exc.message})
                continue
            finally:
                advance(index)
            recorded += not done.replayed
            replayed += done.replayed
    out.print(f"recorded {recorded} responses, {replayed} seen before, {len(errors)} refused")
    for error in sorted(errors, key=lambda e: int(str(e["line"]))):
        err.print(f"{file}:{error['line']}: {error['field']}: {error['message']}")
    if errors:
        raise typer.Exit(1)


@surveys_app.command("report")
def surveys_report(
    by: Annotated[Dimension, typer.Option(help="What to group by.")] = Dimension.TEAM,
    database_url: DatabaseUrl = None,
) -> None:
    """CSAT, NPS and response rate per group, over everything stored."""
    from affroute.service import satisfaction

    rows = unit_of_work(settings_for(database_url)).run(
        lambda s: satisfaction.satisfaction(session=s, by=by)
    )
    table = Table(title=f"Satisfaction by {by.value}")
    for name in ("group", "surveys", "responses", "response rate", "CSAT", "NPS"):
        table.add_column(name, justify="left" if name == "group" else "right")
    for row in (r for r in rows if r.week is None):
        table.add_row(
            row.group,
            str(row.surveys),
            str(row.responses),
            "-" if row.response_rate is None else f"{row.response_rate:.0%}",
            "-" if row.csat is None else f"{row.csat:.2f}",
            "-" if row.nps is None else f"{row.nps:+.0f}",
        )
    out.print(table)
