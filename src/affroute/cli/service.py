"""``affroute serve`` and ``affroute demo``: the API, and a demo program replayed through it."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from affroute.cli.common import (
    DatabaseUrl,
    err,
    load_config_or_exit,
    out,
    progress_bar,
    settings_for,
    unit_of_work,
)
from affroute.config.schema import parse_duration
from affroute.service import configs, keys, users
from affroute.service.keys import Role
from affroute.service.runtime import RoutingCache
from affroute.settings import Settings
from affroute.store import migrate


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (use PostgreSQL for >1).")
    ] = 1,
    database_url: DatabaseUrl = None,
    config_path: Annotated[
        Path | None, typer.Option("--config", help="Config to activate if the database has none.")
    ] = None,
) -> None:
    """Serve the REST API with uvicorn (the database must be migrated: affroute db upgrade)."""
    import os

    import uvicorn

    if database_url:
        os.environ["AFFROUTE_DATABASE_URL"] = database_url
    if config_path:
        os.environ["AFFROUTE_CONFIG_PATH"] = str(config_path)
    settings = Settings()
    if workers > 1 and settings.database_url.startswith("sqlite"):
        err.print(
            "[yellow]several workers on SQLite are safe but serialised; use PostgreSQL[/yellow]"
        )
    out.print(f"affroute API on http://{host}:{port}/docs (database {settings.database_url})")
    uvicorn.run(
        "affroute.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


def demo(
    seed: Annotated[int, typer.Option(help="Seed of the generated program.")] = 7,
    tickets: Annotated[int, typer.Option(min=0, help="How many tickets to replay.")] = 1500,
    handling_time: Annotated[
        str, typer.Option(help="Each ticket is solved this long after arrival.")
    ] = "6h",
    database_url: DatabaseUrl = None,
    config_path: Annotated[Path, typer.Option("--config")] = Path("examples/affiliate.yaml"),
) -> None:
    """Fill a database with a generated program replayed through the service; print an admin key."""
    from affroute.service.demo import load_program
    from affroute.synth import GeneratorSpec, generate_program

    settings = settings_for(database_url)
    migrate.upgrade(settings.database_url)
    uow = unit_of_work(settings)
    now = datetime.now(UTC)
    load_config_or_exit(config_path)
    yaml_text = config_path.read_text(encoding="utf-8")
    uow.run(lambda s: configs.activate(session=s, yaml_text=yaml_text, actor="demo", now=now))
    spec = GeneratorSpec(tickets=tickets, weeks=max(1, tickets // 600))
    program = generate_program(spec, np.random.default_rng(seed))
    with progress_bar("replaying tickets", tickets) as done:
        count = load_program(
            uow=uow,
            cache=RoutingCache(),
            program=program,
            handling_time=parse_duration(handling_time),
            now=now,
            progress=done,
            surveys_rng=np.random.default_rng(seed + 1),
        )
    _, plain = uow.run(
        lambda s: keys.create(session=s, role=Role.ADMIN, name="demo admin", now=now)
    )
    password = secrets.token_urlsafe(12)
    login = f"demo-{secrets.token_hex(3)}"
    uow.run(
        lambda s: users.create(
            session=s, username=login, password=password, role=Role.ADMIN, now=now
        )
    )
    out.print(f"loaded {len(program.partners)} partners, replayed {count} tickets")
    out.print(f"demo admin key: {plain}", markup=False, highlight=False)
    out.print(f"dashboard: user {login}, password {password}", markup=False, highlight=False)
