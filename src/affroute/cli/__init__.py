"""The ``affroute`` command line: one module per family of commands, assembled here."""

from __future__ import annotations

import typer

from affroute.cli import (
    admin,
    analytics,
    anomalies,
    config,
    ml,
    models,
    routing,
    service,
    simulate,
    sla,
    surveys,
    tune,
)

app = typer.Typer(help="Ticket routing for affiliate programs.", no_args_is_help=True)

# Running the service, and what it needs first.
app.command()(service.serve)
app.command()(service.demo)
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.keys_app, name="keys")
app.add_typer(admin.users_app, name="users")
app.add_typer(config.config_app, name="config")
# Routing offline: a generated program, or tickets from a file.
app.command()(routing.generate)
app.command()(routing.route)
# What runs beside the service.
app.add_typer(sla.sla_app, name="sla")
app.add_typer(surveys.surveys_app, name="surveys")
app.add_typer(anomalies.anomalies_app, name="anomalies")
app.add_typer(models.models_app, name="models")
app.add_typer(analytics.analytics_app, name="analytics")
app.command()(analytics.report)
# Learning and trying policies.
app.command()(ml.train)
app.command()(ml.evaluate)
app.command("tune")(tune.tune_command)
app.command("simulate")(simulate.simulate_command)

__all__ = ["app"]
