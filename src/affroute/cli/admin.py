"""``affroute db|keys|users ...``: the schema, API keys and dashboard users."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from affroute.cli.common import (
    DatabaseUrl,
    err,
    out,
    settings_for,
    unit_of_work,
)
from affroute.service import keys, users
from affroute.service.errors import AffrouteError
from affroute.service.keys import Role
from affroute.store import migrate

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
users_app = typer.Typer(help="Dashboard users.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None, revision: str = "head") -> None:
    """Create or migrate the database schema (Alembic)."""
    settings = settings_for(database_url)
    migrate.upgrade(settings.database_url, revision)
    out.print(f"database at revision {migrate.current(settings.database_url)}")


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="admin, analyst, agent or integration.")],
    agent: Annotated[str | None, typer.Option(help="The agent id (agent keys only).")] = None,
    name: Annotated[str, typer.Option(help="A note on who holds the key.")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    uow = unit_of_work(settings_for(database_url))
    try:
        _, plain = uow.run(
            lambda s: keys.create(
                session=s, role=role, agent_id=agent, name=name, now=datetime.now(UTC)
            )
        )
    except AffrouteError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    out.print(plain, markup=False, highlight=False)


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="The name to sign in with.")],
    role: Annotated[Role, typer.Option(help="admin, analyst or agent.")],
    agent: Annotated[str | None, typer.Option(help="The agent id (agent users only).")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a dashboard user; the password is asked for (or read from stdin), never echoed."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    uow = unit_of_work(settings_for(database_url))
    try:
        uow.run(
            lambda s: users.create(
                session=s,
                username=username,
                password=password,
                role=role,
                agent_id=agent,
                now=datetime.now(UTC),
            )
        )
    except AffrouteError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    out.print(f"created {role.value} user {username!r}", markup=False, highlight=False)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The id in the key: afr_<id>_...")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke an API key (servers stop trusting it within AFFROUTE_KEY_CACHE_SECONDS)."""
    uow = unit_of_work(settings_for(database_url))
    if not uow.run(lambda s: keys.revoke(session=s, key_id=key_id)):
        err.print(f"[red]no key with id {key_id!r}[/red]")
        raise typer.Exit(1)
    out.print(f"key {key_id} revoked")
