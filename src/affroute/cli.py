"""The ``affroute`` command line."""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.orm import Session

from affroute.config import FIELDS, OPS_BY_KIND, ConfigError, RoutingConfig, load_config
from affroute.config.schema import parse_duration
from affroute.domain import Priority
from affroute.engine import AgentPool, Router, RoutingDecision
from affroute.feedback.cli import tune_command
from affroute.ml import cli as ml_cli
from affroute.service import configs, keys, users
from affroute.service.batch import BatchSummary, read_context_folder, route_batch
from affroute.service.errors import AffrouteError
from affroute.service.keys import Role
from affroute.service.records import RowError, TicketRecord, load_rows
from affroute.service.runtime import RoutingCache
from affroute.service.satisfaction import Dimension
from affroute.service.uow import UnitOfWork
from affroute.settings import Settings
from affroute.sim.cli import simulate_command
from affroute.store import migrate
from affroute.store.db import make_engine, session_factory

app = typer.Typer(help="Ticket routing for affiliate programs.", no_args_is_help=True)
config_app = typer.Typer(help="Check and explore routing configurations.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.command("tune")(tune_command)
app.command("simulate")(simulate_command)

out = Console()
err = Console(stderr=True)


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A transient progress bar on stderr; yields a function that sets how much is done."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda done: bar.update(task, completed=done)


def _load_config_or_exit(path: Path) -> RoutingConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        err.print(f"[red]{len(exc.issues)} problem(s) in {exc.source}:[/red]")
        for issue in exc.issues:
            err.print(f"  {exc.source}: {issue}", markup=False, highlight=False)
        raise typer.Exit(1) from None


@config_app.command("check")
def config_check(path: Annotated[Path, typer.Argument(help="The YAML configuration.")]) -> None:
    """Validate a configuration; print a summary, or every problem and exit 1."""
    config = _load_config_or_exit(path)
    table = Table(title=f"{path} is valid - version {config.version}", show_header=False)
    table.add_row("teams", ", ".join(config.teams))
    table.add_row("default team", config.default_team)
    online = sum(1 for a in config.agents if a.status.value == "online")
    capacity = sum(a.capacity for a in config.agents)
    table.add_row("agents", f"{len(config.agents)} ({online} online, total capacity {capacity})")
    table.add_row(
        "factor weights", ", ".join(f"{k} {v:.2f}" for k, v in config.scoring.weights.items())
    )
    table.add_row(
        "tiers", ", ".join(f"{t.priority.value.upper()} >= {t.min_score:g}" for t in config.tiers)
    )
    table.add_row("rules", str(len(config.rules)))
    for index, rule in enumerate(config.rules, start=1):
        table.add_row("", f"{index}. {rule.name}")
    table.add_row("calendars", ", ".join(config.calendars))
    table.add_row("SLA policies", ", ".join(p.name for p in config.sla_policies) or "none")
    links = config.integrations
    for desk, mapping in (("zendesk", links.zendesk), ("freshdesk", links.freshdesk)):
        if mapping is not None:
            fields = ", ".join(f"{k}<-{v}" for k, v in mapping.fields.items()) or "no fields"
            table.add_row(desk, f"{fields}; {len(mapping.groups)} group(s) mapped to teams")
    for source in links.enrichment:
        table.add_row("enrichment", f"{source.name} ({source.kind.value}, every {source.refresh})")
    out.print(table)


@config_app.command("fields")
def config_fields() -> None:
    """List the fields rules can test, with their operators."""
    table = Table("field", "kind", "operators", "meaning")
    for spec in FIELDS.values():
        ops = " ".join(sorted(op.value for op in OPS_BY_KIND[spec.kind]))
        meaning = spec.description + (f" ({', '.join(spec.choices)})" if spec.choices else "")
        table.add_row(spec.name, spec.kind.value, ops, meaning)
    out.print(table)


@app.command()
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


@app.command()
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
    config = _load_config_or_exit(config_path)
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


db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="SQLAlchemy URL (default: $AFFROUTE_DATABASE_URL or SQLite)."
    ),
]


def _settings(database_url: str | None) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"database_url": database_url}) if database_url else settings


def _uow(settings: Settings) -> UnitOfWork:
    return UnitOfWork(session_factory(make_engine(settings.database_url)))


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None, revision: str = "head") -> None:
    """Create or migrate the database schema (Alembic)."""
    settings = _settings(database_url)
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
    uow = _uow(_settings(database_url))
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


users_app = typer.Typer(help="Dashboard users.", no_args_is_help=True)
app.add_typer(users_app, name="users")


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
    uow = _uow(_settings(database_url))
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
    uow = _uow(_settings(database_url))
    if not uow.run(lambda s: keys.revoke(session=s, key_id=key_id)):
        err.print(f"[red]no key with id {key_id!r}[/red]")
        raise typer.Exit(1)
    out.print(f"key {key_id} revoked")


@app.command()
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


@app.command()
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

    settings = _settings(database_url)
    migrate.upgrade(settings.database_url)
    uow = _uow(settings)
    now = datetime.now(UTC)
    _load_config_or_exit(config_path)
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


sla_app = typer.Typer(help="SLA clocks and the escalation sweeper.", no_args_is_help=True)
app.add_typer(sla_app, name="sla")


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

    uow = _uow(_settings(database_url))
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

    uow = _uow(_settings(database_url))
    count = uow.run(
        lambda s: sla.recompute_all(
            session=s, cache=RoutingCache(), now=datetime.now(UTC), include_closed=include_closed
        )
    )
    out.print(f"recomputed the clocks of {count} tickets")


surveys_app = typer.Typer(help="Satisfaction surveys and their responses.", no_args_is_help=True)
app.add_typer(surveys_app, name="surveys")


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
    uow, cache, now = _uow(_settings(database_url)), RoutingCache(), datetime.now(UTC)
    recorded = replayed = 0

    def record(response: surveys.ExternalResponse, session: Session) -> surveys.Recorded:
        return surveys.record_response(
            session=session,
            routing=cache.current(session),
            response=response,
            source=surveys.ResponseSource.IMPORT,
            now=now,
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

    rows = _uow(_settings(database_url)).run(lambda s: satisfaction.satisfaction(session=s, by=by))
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


# The anomalies commands live in their own module, which uses the helpers above.
from affroute.cli_anomalies import anomalies_app  # noqa: E402

app.add_typer(anomalies_app, name="anomalies")

app.command()(ml_cli.train)
app.command()(ml_cli.evaluate)

from affroute.cli_models import models_app  # noqa: E402

app.add_typer(models_app, name="models")


analytics_app = typer.Typer(help="The analytics facts behind the metrics.", no_args_is_help=True)
app.add_typer(analytics_app, name="analytics")


@analytics_app.command("refresh")
def analytics_refresh(database_url: DatabaseUrl = None) -> None:
    """Bring the analytics facts up to the event log (the API does this in the background)."""
    from affroute.analytics import facts

    uow = _uow(_settings(database_url))
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


@app.command()
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
    uow = _uow(_settings(database_url))
    while uow.run(lambda s: facts.refresh(session=s)).events:
        pass
    now = datetime.now(UTC)
    found = uow.run(lambda s: overview_report.overview(session=s, filters=filters, now=now))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(overview_report.render(found), encoding="utf-8")
    out.print(f"report written to {out_path}")
