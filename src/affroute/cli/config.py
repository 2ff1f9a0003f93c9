"""``affroute config ...``: check and explore routing configurations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from affroute.cli.common import (
    load_config_or_exit,
    out,
)
from affroute.config import FIELDS, OPS_BY_KIND

config_app = typer.Typer(help="Check and explore routing configurations.", no_args_is_help=True)


@config_app.command("check")
def config_check(path: Annotated[Path, typer.Argument(help="The YAML configuration.")]) -> None:
    """Validate a configuration; print a summary, or every problem and exit 1."""
    config = load_config_or_exit(path)
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
