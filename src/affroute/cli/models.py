"""``affroute models ...``: the model registry from the command line (as the API does it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from affroute.cli.common import DatabaseUrl, err, out, settings_for, unit_of_work
from affroute.service.errors import AffrouteError
from affroute.store.models import ModelRow

models_app = typer.Typer(
    help="Ticket models in the service: register, shadow, promote, demote.", no_args_is_help=True
)
ACTOR = "cli"


def _run(database_url: str | None, work: Callable[[Session], str]) -> None:
    try:
        message = unit_of_work(settings_for(database_url)).run(work)
    except AffrouteError as exc:
        err.print(f"[red]{exc.message}[/red]", highlight=False)
        raise typer.Exit(1) from None
    out.print(message, highlight=False, markup=False)


def _line(row: ModelRow) -> str:
    return f"model {row.id} ({row.name}, {row.label}) is {row.mode}"


@models_app.command("register")
def register(
    path: Annotated[
        Path,
        typer.Argument(help="A model file from `affroute train`.", exists=True, dir_okay=False),
    ],
    name: Annotated[str | None, typer.Option(help="A name (default: the file's).")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Store a model file in the database (checked first); it starts merely registered."""
    from affroute.service import registry

    content = path.read_bytes()
    _run(
        database_url,
        lambda s: _line(
            registry.register(
                session=s,
                content=content,
                name=name or path.stem,
                actor=ACTOR,
                now=datetime.now(UTC),
            )
        ),
    )


@models_app.command("list")
def list_models(database_url: DatabaseUrl = None) -> None:
    """Registered models with their mode, classes, fingerprint and held-out metrics."""
    from affroute.service import registry

    def work(session: Session) -> str:
        table = Table("id", "name", "label", "mode", "classes", "macro-F1", "acts on", "data")
        for row in registry.listed(session=session):
            metrics = row.metrics
            table.add_row(
                row.id,
                row.name,
                row.label,
                row.mode,
                ", ".join(row.classes),
                f"{metrics['macro_f1']:.3f}" if metrics.get("macro_f1") is not None else "-",
                f"{metrics['coverage']:.1%}" if metrics.get("coverage") is not None else "-",
                row.fingerprint[:12],
            )
        out.print(table)
        return ""

    _run(database_url, work)


def _mode_command(mode_name: str, doc: str) -> None:
    def command(
        model_id: Annotated[str, typer.Argument(help="The id `affroute models list` shows.")],
        database_url: DatabaseUrl = None,
    ) -> None:
        from affroute.service import registry
        from affroute.service.predictor import ModelMode

        mode = ModelMode(mode_name)
        _run(
            database_url,
            lambda s: _line(
                registry.set_mode(
                    session=s, model_id=model_id, mode=mode, actor=ACTOR, now=datetime.now(UTC)
                )
            ),
        )

    command.__doc__ = doc
    verb = {"shadow": "shadow", "active": "promote", "registered": "demote"}[mode_name]
    models_app.command(verb)(command)


_mode_command("shadow", "Run a model in shadow: it predicts and is recorded, it never acts.")
_mode_command("active", "Make a model active: it routes where confident and no rule decided.")
_mode_command("registered", "Take a model out of use; the rules route alone again.")
