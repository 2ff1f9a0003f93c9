"""`affroute train` and `affroute evaluate`: fit a ticket model from a file, measure one.

scikit-learn and matplotlib are imported inside the commands, so other commands start
fast. `--from-db` trains on the database's resolved tickets, labelled with the team they
ended on (after reassignments) or their final priority.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from affroute.cli.common import err, new_bar, out, settings_for, unit_of_work

DataFile = Annotated[
    Path, typer.Option("--data", help="Tickets as .csv or .jsonl.", exists=True, dir_okay=False)
]


def _columns(value: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in value.split(",") if c.strip())


@contextmanager
def _steps(description: str, total: int) -> Iterator[Any]:
    """A transient bar over a known number of named steps."""
    bar = new_bar(elapsed=True)
    with bar:
        task = bar.add_task(description, total=total)

        def advance(name: str) -> None:
            bar.update(task, advance=1, description=f"{description}: {name}")

        yield advance


def _read(path: Path, label: str) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Rows that have a label, their labels, and a message per row that was skipped."""
    from affroute.service.records import iter_records

    rows: list[dict[str, Any]] = []
    labels: list[str] = []
    problems: list[str] = []
    with _steps(f"reading {path.name}", 1) as step:
        try:
            for line, row in iter_records(path):
                if isinstance(row, str):
                    problems.append(f"{path}:{line}: {row}")
                elif row.get(label) in (None, ""):
                    problems.append(f"{path}:{line}: no {label!r}")
                else:
                    rows.append(row)
                    labels.append(str(row[label]))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--data") from None
        step("done")
    if problems:
        err.print(f"[yellow]{len(problems)} row(s) skipped[/yellow], first: {problems[0]}")
    if not rows:
        raise typer.BadParameter(f"no row of {path} has a {label!r} column", param_hint="--label")
    return rows, labels, problems


def _read_db(database_url: str | None, label: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Resolved tickets of the service's database as records and labels."""
    from affroute.service.errors import AffrouteError
    from affroute.service.learning import training_rows

    uow = unit_of_work(settings_for(database_url))
    with _steps("reading resolved tickets", 1) as step:
        try:
            rows, labels = uow.run(lambda s: training_rows(session=s, label=label))
        except AffrouteError as exc:
            raise typer.BadParameter(exc.message, param_hint="--label") from None
        step("done")
    if not rows:
        err.print("[red]no resolved ticket in the database to learn from[/red]")
        raise typer.Exit(1)
    return rows, labels


def train(
    label: Annotated[str, typer.Option(help="The column to predict (e.g. team).")],
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the model file.")],
    data: Annotated[
        Path | None,
        typer.Option(help="Tickets as .csv or .jsonl.", exists=True, dir_okay=False),
    ] = None,
    from_db: Annotated[
        bool,
        typer.Option(
            "--from-db",
            help="Learn from the database's resolved tickets (team: the one they ended on).",
        ),
    ] = False,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="With --from-db (default: $AFFROUTE_DATABASE_URL)."),
    ] = None,
    text: Annotated[str, typer.Option(help="Text columns, comma-separated.")] = "subject,body",
    categorical: Annotated[
        str, typer.Option(help="Categorical columns, used when present.")
    ] = "category,channel,region,partner_tier,urgency,promotion_type,open_anomaly",
    numeric: Annotated[
        str, typer.Option(help="Numeric columns, bucketed, used when present.")
    ] = "deal_value,engagement_percentile",
    target_precision: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="Per-class precision the thresholds aim at.")
    ] = 0.95,
    seed: Annotated[int, typer.Option(help="Random seed of folds and SVM.")] = 0,
) -> None:
    """Train a ticket classifier on a labelled file (or the database) and write the model file."""
    from affroute.ml.classifier import TicketClassifier
    from affroute.ml.compiled import TicketModel
    from affroute.ml.modelfile import save_model

    if (data is not None) == from_db:
        raise typer.BadParameter("give either --data FILE or --from-db", param_hint="--data")
    if data is not None:
        rows, labels, skipped = _read(data, label)
    else:
        rows, labels = _read_db(database_url, label)
        skipped = []
    classifier = TicketClassifier(
        text_columns=_columns(text),
        categorical_columns=tuple(c for c in _columns(categorical) if c != label),
        numeric_columns=tuple(c for c in _columns(numeric) if c != label),
        target_precision=target_precision,
        random_state=seed,
    )
    with _steps(f"training on {len(rows)} tickets", 4) as step:
        try:
            classifier.fit(rows, labels, progress=step)
        except ValueError as exc:
            err.print(f"[red]cannot train:[/red] {exc}")
            raise typer.Exit(1) from None
    report = classifier.validation_
    model = TicketModel.from_classifier(
        classifier,
        label=label,
        data=data.name if data is not None else "database: resolved tickets",
        fingerprint=classifier.data_fingerprint_,
        rows=len(rows),
        rows_skipped=len(skipped),
        columns=list(classifier.features_.columns_),
        params={k: v for k, v in classifier.get_params().items()},
        target_precision=target_precision,
        held_out=report.to_dict(),
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    save_model(model, out_path)
    table = Table("class", "threshold", "precision", "recall", "F1", "acts on", "tickets")
    for c in report.classes:
        table.add_row(
            c.label,
            "never" if c.threshold > 1 else f"{c.threshold:.3f}",
            f"{c.precision:.3f}",
            f"{c.recall:.3f}",
            f"{c.f1:.3f}",
            f"{c.coverage:.1%}",
            str(c.support),
        )
    out.print(table)
    out.print(
        f"held out (cross-validated): macro-F1 {report.macro_f1:.3f}, accuracy"
        f" {report.accuracy:.3f}; acts on {report.coverage:.1%} of tickets at"
        f" {report.precision_acted:.1%} precision (target {target_precision:.0%})\n"
        f"columns used: {', '.join(classifier.features_.columns_)}\n"
        f"model written to {out_path} (data fingerprint {classifier.data_fingerprint_[:12]})"
    )


def evaluate(
    model_path: Annotated[Path, typer.Argument(help="A model file from `affroute train`.")],
    data: DataFile,
    label: Annotated[
        str | None, typer.Option(help="The label column (default: the one it was trained on).")
    ] = None,
    curve: Annotated[
        Path | None, typer.Option(help="Where to write the precision-coverage PNG.")
    ] = None,
) -> None:
    """Measure a model on a labelled file: per-class scores, coverage, confusion, curve.

    Prints per-class precision, recall and F1, macro-F1, the share of tickets the model
    acts on at its thresholds and their precision, the confusion matrix, and writes the
    precision-coverage curve as a PNG.
    """
    import numpy as np

    from affroute.ml.curve import plot_precision_coverage
    from affroute.ml.metrics import summarise
    from affroute.ml.modelfile import ModelError, load_model

    try:
        model = load_model(model_path)
    except ModelError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1) from None
    column = label or str(model.info.get("label", ""))
    rows, labels, _ = _read(data, column)
    proba = model.predict_proba(rows)
    truth = np.asarray(labels)
    classes = np.asarray([str(c) for c in model.classes.tolist()])
    report = summarise(proba, truth, classes, model.thresholds)

    table = Table("class", "precision", "recall", "F1", "tickets", "threshold", "acts on")
    for c in report.classes:
        table.add_row(
            c.label,
            f"{c.precision:.3f}",
            f"{c.recall:.3f}",
            f"{c.f1:.3f}",
            str(c.support),
            "never" if c.threshold > 1 else f"{c.threshold:.3f}",
            f"{c.coverage:.1%}",
        )
    out.print(table)
    # Columns are numbered so that the matrix fits a terminal whatever the label lengths.
    numbers = [str(i) for i in range(1, len(report.labels) + 1)]
    confusion = Table("true \\ predicted", *numbers, title="confusion matrix (rows: true label)")
    for number, name, row in zip(numbers, report.labels, report.confusion, strict=True):
        confusion.add_row(f"{number} {name}", *(str(v) for v in row))
    out.print(confusion)
    unknown = sorted(set(labels) - set(classes.tolist()))
    if unknown:
        err.print(f"[yellow]labels the model never learnt:[/yellow] {', '.join(unknown)}")
    target = model.info.get("target_precision")
    curve_path = curve or model_path.with_suffix(".curve.png")
    plot_precision_coverage(
        proba,
        truth,
        classes,
        report,
        float(target) if target is not None else None,
        curve_path,
        title=f"{model_path.name} on {data.name} ({report.n} tickets)",
    )
    out.print(
        f"{report.n} tickets: macro-F1 {report.macro_f1:.3f}, accuracy {report.accuracy:.3f}\n"
        f"acts on {report.coverage:.1%} of tickets at {report.precision_acted:.1%} precision"
        + (f" (target {float(target):.0%})" if target is not None else "")
        + f"\nprecision-coverage curve: {curve_path}"
    )
