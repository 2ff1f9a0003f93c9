"""What every command shares: the consoles, progress bars, the database option, and
reading a configuration or saying what is wrong with it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from affroute.config import ConfigError, RoutingConfig, load_config
from affroute.service.uow import UnitOfWork
from affroute.settings import Settings
from affroute.store.db import make_engine, session_factory

out = Console()
err = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="SQLAlchemy URL (default: $AFFROUTE_DATABASE_URL or SQLite)."
    ),
]


def settings_for(database_url: str | None) -> Settings:
    """The service's settings, with the database the command was given (if any)."""
    settings = Settings()
    return settings.model_copy(update={"database_url": database_url}) if database_url else settings


def unit_of_work(settings: Settings) -> UnitOfWork:
    return UnitOfWork(session_factory(make_engine(settings.database_url)))


def new_bar(*, elapsed: bool = False) -> Progress:
    """A transient bar on stderr: done of total, and the time left (or, with ``elapsed``,
    the time taken, for steps too uneven to extrapolate)."""
    clock = TimeElapsedColumn() if elapsed else TimeRemainingColumn()
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), clock,
        console=err, transient=True,
    )  # fmt: skip


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A transient progress bar on stderr; yields a function that sets how much is done."""
    bar = new_bar()
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda done: bar.update(task, completed=done)


def load_config_or_exit(path: Path) -> RoutingConfig:
    """The configuration at `path`; else every problem in it on stderr, and exit 1."""
    try:
        return load_config(path)
    except ConfigError as exc:
        err.print(f"[red]{len(exc.issues)} problem(s) in {exc.source}:[/red]")
        for issue in exc.issues:
            err.print(f"  {exc.source}: {issue}", markup=False, highlight=False)
        raise typer.Exit(1) from None
