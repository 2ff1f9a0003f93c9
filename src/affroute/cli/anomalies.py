"""``affroute anomalies ...``: scan event files, generate logs with injected anomalies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from affroute.anomaly.detect import DETECTOR_OF, DETECTORS, ScanResult, scan
from affroute.anomaly.events import EventInput, InputError, parse_mapping, read_file
from affroute.cli.common import (
    DatabaseUrl,
    err,
    load_config_or_exit,
    out,
    progress_bar,
    settings_for,
    unit_of_work,
)

anomalies_app = typer.Typer(help="Attribution anomalies in click, lead and conversion data.")


@anomalies_app.command("scan")
def scan_files(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Event files and daily count files (.csv or .parquet).",
            exists=True,
            dir_okay=False,
        ),
    ],
    config_path: Annotated[
        Path, typer.Option("--config", help="Routing configuration with the anomalies section.")
    ] = Path("examples/affiliate.yaml"),
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="FIELD=COLUMN, e.g. partner_id=channel (repeatable)."),
    ] = None,
    event: Annotated[
        str | None, typer.Option(help="Event kind of every row when there is no event column.")
    ] = None,
    timezone: Annotated[
        str, typer.Option(help="Time zone of timestamps written without an offset.")
    ] = "UTC",
    show: Annotated[int, typer.Option(min=0, help="How many anomalies to print.")] = 20,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write every anomaly as JSON Lines here.")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Scan event files for attribution anomalies; print a summary.

    With --database-url the anomalies are stored (an open one found again is updated, not
    duplicated) and events of partners missing from its catalog are listed.
    """
    config = load_config_or_exit(config_path)
    try:
        columns = parse_mapping(mapping or [])
    except InputError as exc:
        raise typer.BadParameter(str(exc), param_hint="--map") from None
    uow = unit_of_work(settings_for(database_url)) if database_url else None
    known = None
    if uow is not None:
        from affroute.service.anomalies import known_partners

        known = uow.run(known_partners)
    loaded = EventInput()
    with progress_bar("reading files", len(files)) as done:
        for index, path in enumerate(files):
            try:
                part = read_file(
                    path, mapping=columns, event=event, naive_time_zone=timezone,
                    known_partners=known,
                )  # fmt: skip
            except InputError as exc:
                err.print(f"[red]{exc}[/red]")
                raise typer.Exit(2) from None
            loaded.extend(part)
            done(index + 1)
    loaded.drop_repeats()
    with progress_bar("detecting", 1) as done:
        result = scan(loaded.events, loaded.counts, config.anomalies)
        done(1)
    _print_scan(loaded, result, show)
    if out_path is not None:
        with out_path.open("w", encoding="utf-8") as sink:
            for f in result.findings:
                record = {
                    "kind": f.kind,
                    "partner_id": f.partner_id,
                    "campaign_id": f.campaign_id,
                    "severity": f.severity,
                    "summary": f.summary,
                    "evidence": f.evidence,
                }
                sink.write(json.dumps(record, default=str) + "\n")  # fmt: skip
        out.print(f"anomalies written to {out_path}")
    if uow is not None:
        from affroute.service.anomalies import record_findings

        recorded = uow.run(
            lambda s: record_findings(session=s, findings=result.findings, now=datetime.now(UTC))
        )
        out.print(
            f"stored: {len(recorded.new)} new, {len(recorded.updated)} already open and updated"
        )
    if loaded.malformed:
        raise typer.Exit(1)


def _print_scan(loaded: EventInput, result: ScanResult, show: int) -> None:
    kinds = loaded.events.get_column("event").value_counts().iter_rows()
    read = ", ".join(f"{count:,} {kind}s" for kind, count in sorted(kinds, key=str))
    out.print(
        f"read {loaded.rows_read:,} rows: {read or 'no events'}, "
        f"{loaded.counts.height:,} daily counts; {loaded.malformed:,} malformed"
        + (f"; {loaded.repeats:,} repeated event ids dropped" if loaded.repeats else "")
    )
    table = Table(title=f"{len(result.findings)} attribution anomalies", show_footer=True)
    table.add_column("detector", footer="total")
    table.add_column("kind")
    table.add_column("anomalies", justify="right", footer=str(len(result.findings)))
    table.add_column("partners", justify="right")
    by_kind = result.by_kind()
    for detector, kinds_of in DETECTORS.items():
        for kind in kinds_of:
            partners = {f.partner_id for f in result.findings if f.kind == kind}
            table.add_row(detector, kind, str(by_kind.get(kind, 0)), str(len(partners)))
    out.print(table)
    for note in result.notes:
        out.print(f"[yellow]not run:[/yellow] {note}", highlight=False)
    worst = sorted(result.findings, key=lambda f: -f.severity)[:show]
    for finding in worst:
        out.print(
            f"  [{finding.severity:.2f}] {DETECTOR_OF[finding.kind]}/{finding.kind}: "
            f"{finding.summary}",
            markup=False,
            highlight=False,
        )
    if loaded.unknown_partners:
        names = ", ".join(list(loaded.unknown_partners)[:10])
        out.print(
            f"[yellow]{len(loaded.unknown_partners)} unknown partner(s) kept:[/yellow] {names}"
        )
    if loaded.problems:
        err.print(f"[yellow]{loaded.malformed} malformed row(s) not scanned:[/yellow]")
        for problem in loaded.problems[:20]:
            err.print(f"  {problem}", markup=False, highlight=False)
        if loaded.malformed > 20:
            err.print(f"  ... and more ({loaded.malformed} rows in all)")


@anomalies_app.command("generate")
def generate_log(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for events, counts and truth.")],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same log.")] = 7,
    events: Annotated[int, typer.Option(min=10_000)] = 300_000,
    partners: Annotated[int, typer.Option(min=12)] = 60,
    campaigns: Annotated[int, typer.Option(min=1)] = 6,
    days: Annotated[int, typer.Option(min=14)] = 42,
    per_kind: Annotated[int, typer.Option(min=1, help="Injected anomalies per kind.")] = 3,
    parquet: Annotated[bool, typer.Option(help="Write events as Parquet, not CSV.")] = False,
) -> None:
    """Generate a click/lead/conversion log with injected anomalies and their ground truth."""
    import polars as pl

    from affroute.synth.events import EventLogSpec, generate_event_log

    try:
        spec = EventLogSpec(events, partners, campaigns, days, per_kind=per_kind)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    log = generate_event_log(spec, np.random.default_rng(seed))
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = log.events.drop("line")
    if parquet:
        frame.write_parquet(out_dir / "events.parquet")
    else:
        frame.write_csv(out_dir / "events.csv")
    log.counts.drop("line").write_csv(out_dir / "daily_counts.csv")
    pl.DataFrame(
        [(t.kind, t.partner_id, t.campaign_id, t.note) for t in log.truth],
        schema=["kind", "partner_id", "campaign_id", "note"],
        orient="row",
    ).write_csv(out_dir / "truth.csv")
    out.print(
        f"{log.events.height:,} events, {log.counts.height:,} daily counts and "
        f"{len(log.truth)} injected anomalies (seed {seed}) in {out_dir}/"
    )
