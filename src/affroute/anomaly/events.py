"""Click, lead and conversion events and daily conversion counts as Polars frames.

Input files (CSV or Parquet) are read through a column mapping, validated column by column
(vectorised) and normalised: timestamps in any offset become UTC, naive ones are read in a
given time zone. A malformed row is reported with its line number and the field at fault,
and never dropped silently; an unknown partner's events are kept and the partner listed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

EVENT_KINDS = ("click", "lead", "conversion")
EventKind = pl.Enum(EVENT_KINDS)
UTC_TIME = pl.Datetime("us", "UTC")

# The canonical columns of an event frame, in order. ``line`` is where the row came from.
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "line": pl.Int64(),
    "event": EventKind,
    "at": UTC_TIME,
    "partner_id": pl.String(),
    "campaign_id": pl.String(),
    "click_id": pl.String(),
    "ip": pl.String(),
    "device": pl.String(),
    "contact_hash": pl.String(),
    "value": pl.Float64(),
    "click_at": UTC_TIME,
    "event_id": pl.String(),  # the sender's id of the event: a re-sent event is one event
}
COUNT_SCHEMA: dict[str, pl.DataType] = {
    "line": pl.Int64(),
    "day": pl.Date(),
    "partner_id": pl.String(),
    "campaign_id": pl.String(),
    "network_conversions": pl.Int64(),
    "advertiser_conversions": pl.Int64(),
}
# Fields an input may map besides the canonical ones: a click export that carries the time
# of the conversion it led to (one row = a click, and a conversion when the time is set).
EXTRA_FIELDS = ("converted_at",)
_REQUIRED_EVENT = ("at", "partner_id")
_REQUIRED_COUNT = ("day", "partner_id", "network_conversions", "advertiser_conversions")
_TIMESTAMPS = ("at", "click_at", "converted_at")
_FLAGS = ("1", "true", "yes")


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A malformed input row: where it is and what is wrong with which field."""

    source: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.field}: {self.message}"


@dataclass(slots=True)
class EventInput:
    """Validated events and daily counts, and everything that was wrong with the input."""

    events: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=EVENT_SCHEMA))
    counts: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=COUNT_SCHEMA))
    rows_read: int = 0
    malformed: int = 0
    problems: list[RowProblem] = field(default_factory=list)  # the first few, in line order
    unknown_partners: dict[str, int] = field(default_factory=dict)  # partner -> events kept
    repeats: int = 0  # events whose event_id an earlier row already had (dropped)

    def extend(self, other: EventInput, *, keep_problems: int = 1000) -> None:
        """Add another file's rows and problems to this input."""
        self.events = pl.concat([self.events, other.events], how="vertical")
        self.counts = pl.concat([self.counts, other.counts], how="vertical")
        self.rows_read += other.rows_read
        self.malformed += other.malformed
        self.problems.extend(other.problems[: max(0, keep_problems - len(self.problems))])
        for partner, count in other.unknown_partners.items():
            self.unknown_partners[partner] = self.unknown_partners.get(partner, 0) + count
        self.repeats += other.repeats

    def drop_repeats(self) -> None:
        """Keep the first row of each event id (rows without one are all kept): a sender that
        sends a batch again, or files that overlap, must not make one lead two."""
        events = self.events
        if events.get_column("event_id").null_count() == events.height:
            return
        first = (
            events.get_column("event_id").is_null()
            | events.get_column("event_id").is_first_distinct()
        )
        self.repeats += int((~first).sum())
        self.events = events.filter(first)


class InputError(ValueError):
    """The input cannot be read at all (no such column, unknown format)."""


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``field=column`` pairs (as given on a command line) as a mapping; names the bad one."""
    known = set(EVENT_SCHEMA) | set(COUNT_SCHEMA) | set(EXTRA_FIELDS) | {"event"}
    mapping: dict[str, str] = {}
    for pair in pairs:
        name, sep, column = pair.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not name or not column:
            raise InputError(f"mapping {pair!r}: expected FIELD=COLUMN")
        if name not in known - {"line"}:
            raise InputError(f"mapping {pair!r}: unknown field {name!r}; known: {sorted(known)}")
        mapping[name] = column
    return mapping


def read_file(
    path: Path,
    *,
    mapping: Mapping[str, str] | None = None,
    event: str | None = None,
    naive_time_zone: str = "UTC",
    known_partners: Collection[str] | None = None,
    keep_problems: int = 1000,
) -> EventInput:
    """Read one CSV or Parquet file of events, or of daily counts (told apart by columns)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw, problems = _read_csv(path)
        first_line = 2  # the header is line 1
    elif suffix in (".parquet", ".pq"):
        raw, problems = pl.read_parquet(path), []
        first_line = 1  # "line" is the row number in the file
    else:
        raise InputError(f"{path}: expected a .csv or .parquet file, got {suffix or 'no suffix'!r}")
    return read_frame(
        raw,
        source=str(path),
        first_line=first_line,
        mapping=mapping,
        event=event,
        naive_time_zone=naive_time_zone,
        known_partners=known_partners,
        problems=problems,
        keep_problems=keep_problems,
    )


def read_frame(
    raw: pl.DataFrame,
    *,
    source: str,
    first_line: int = 1,
    mapping: Mapping[str, str] | None = None,
    event: str | None = None,
    naive_time_zone: str = "UTC",
    known_partners: Collection[str] | None = None,
    problems: Sequence[RowProblem] = (),
    keep_problems: int = 1000,
) -> EventInput:
    """Validate and normalise rows given as a frame (a file, or an API request's body)."""
    mapping = dict(mapping or {})
    if event is not None and event not in EVENT_KINDS:
        raise InputError(f"event {event!r}: expected one of {', '.join(EVENT_KINDS)}")
    columns = set(raw.columns)

    def column(name: str) -> str:
        return mapping.get(name, name)

    is_counts = column("network_conversions") in columns
    required = _REQUIRED_COUNT if is_counts else _REQUIRED_EVENT
    if not is_counts and column("event") not in columns and event is None:
        required = (*required, "event")
    missing = [
        f"{name} (column {column(name)!r})" for name in required if column(name) not in columns
    ]
    if missing:
        raise InputError(f"{source}: missing {', '.join(missing)}; map columns with FIELD=COLUMN")
    frame = raw.with_row_index("line", offset=first_line).with_columns(
        pl.col("line").cast(pl.Int64)
    )
    if is_counts:
        return _counts(frame, source, column, known_partners, problems, keep_problems)
    return _events(
        frame, source, column, event, naive_time_zone, known_partners, problems, keep_problems
    )


def _read_csv(path: Path) -> tuple[pl.DataFrame, list[RowProblem]]:
    """Every cell as text, plus rows whose cell count differs from the header's."""
    try:
        frame = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True)
    except pl.exceptions.NoDataError:
        return pl.DataFrame(), []
    # Cells beyond the header would be cut off unseen: count separators on unquoted lines.
    lines = pl.read_csv(
        path, has_header=False, separator="\x1f", quote_char=None, infer_schema=False
    ).to_series()
    width = len(frame.columns) - 1
    counts = lines.str.count_matches(",", literal=True)
    bad = (
        pl.DataFrame({"text": lines, "commas": counts})
        .with_row_index("line", offset=1)
        .filter(
            (pl.col("line") > 1)
            & (pl.col("commas") != width)
            & ~pl.col("text").str.contains('"', literal=True)
        )
    )
    problems = [
        RowProblem(str(path), int(line), "row", f"{commas + 1} cells, the header has {width + 1}")
        for line, commas in bad.select("line", "commas").iter_rows()
    ]
    return frame, problems


def _text(frame: pl.DataFrame, name: str | None) -> pl.Expr:
    if name is None or name not in frame.columns:
        return pl.lit(None, pl.String())
    expr = pl.col(name)
    if frame.schema[name] != pl.String():
        expr = expr.cast(pl.String())
    expr = expr.str.strip_chars()
    return pl.when(expr == "").then(None).otherwise(expr)


def _timestamp(frame: pl.DataFrame, name: str, naive_time_zone: str) -> pl.Expr:
    """Any ISO-8601 form (``T`` or space, ``Z`` or an offset, or none) as UTC."""
    dtype = frame.schema[name]
    if isinstance(dtype, pl.Datetime):
        expr = pl.col(name)
        if dtype.time_zone is None:
            expr = expr.dt.replace_time_zone(naive_time_zone)
        return expr.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    text = _text(frame, name).str.replace(r"Z$", "+00:00").str.replace(" ", "T", literal=True)
    with_offset = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_zone="UTC")
    naive = (
        text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
        .dt.replace_time_zone(naive_time_zone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )
    return pl.coalesce(with_offset.dt.cast_time_unit("us"), naive)


def _number(frame: pl.DataFrame, name: str | None, dtype: pl.DataType) -> pl.Expr:
    if name is None or name not in frame.columns:
        return pl.lit(None, dtype)
    if frame.schema[name].is_numeric():
        return pl.col(name).cast(dtype, strict=False)
    return _text(frame, name).cast(pl.Float64, strict=False).cast(dtype, strict=False)


def _events(
    frame: pl.DataFrame,
    source: str,
    column: Callable[[str], str],
    event: str | None,
    naive_time_zone: str,
    known_partners: Collection[str] | None,
    problems: Sequence[RowProblem],
    keep_problems: int,
) -> EventInput:
    present = {name: column(name) for name in (*EVENT_SCHEMA, *EXTRA_FIELDS, "event")}
    present = {k: v for k, v in present.items() if v in frame.columns and k != "line"}
    parsed = frame.select(
        "line",
        (_text(frame, present.get("event")).str.to_lowercase() if "event" in present
         else pl.lit(event, pl.String())).alias("event_text"),
        *(
            (_timestamp(frame, present[name], naive_time_zone) if name in present
             else pl.lit(None, UTC_TIME)).alias(name)
            for name in _TIMESTAMPS
        ),
        *(_text(frame, present.get(name)).alias(name)
          for name in ("partner_id", "campaign_id", "click_id", "ip", "device", "contact_hash",
                       "event_id")),
        _number(frame, present.get("value"), pl.Float64()).alias("value"),
        *(_text(frame, present[name]).alias(f"{name}_raw") for name in (*_TIMESTAMPS, "value")
          if name in present),
    )  # fmt: skip
    checks: list[tuple[str, pl.Expr, str]] = [
        ("event", ~pl.col("event_text").is_in(EVENT_KINDS) | pl.col("event_text").is_null(),
         f"expected one of {', '.join(EVENT_KINDS)}"),
        ("partner_id", pl.col("partner_id").is_null(), "missing"),
    ]  # fmt: skip
    for name in _TIMESTAMPS:
        if name in present:
            raw = pl.col(f"{name}_raw")
            required = name == "at"
            bad = pl.col(name).is_null() & (raw.is_not_null() if not required else pl.lit(True))
            checks.append((name, bad, "not a timestamp (ISO 8601, with or without an offset)"))
    if "value" in present:
        checks.append(
            ("value", pl.col("value").is_null() & pl.col("value_raw").is_not_null(), "not a number")
        )
    mapped = {name: present.get(name, name) for name, _, _ in checks}
    found = _problems(parsed, checks, mapped, source)
    good = parsed.filter(~pl.any_horizontal(*(bad for _, bad, _ in checks)))
    events = good.select(
        "line",
        pl.col("event_text").cast(EventKind).alias("event"),
        "at",
        "partner_id",
        "campaign_id",
        "click_id",
        "ip",
        "device",
        "contact_hash",
        "value",
        "click_at",
        "event_id",
    )
    if "converted_at" in present:
        # A click row that led to a conversion also stands for that conversion.
        conversions = good.filter(pl.col("converted_at").is_not_null()).select(
            "line",
            pl.lit("conversion").cast(EventKind).alias("event"),
            pl.col("converted_at").alias("at"),
            "partner_id",
            "campaign_id",
            "click_id",
            "ip",
            "device",
            "contact_hash",
            "value",
            pl.col("at").alias("click_at"),
            (pl.col("event_id") + ":conversion").alias("event_id"),
        )
        events = pl.concat([events, conversions], how="vertical")
    return _finish(events, frame.height, found, problems, known_partners, keep_problems, "events")


def _counts(
    frame: pl.DataFrame,
    source: str,
    column: Callable[[str], str],
    known_partners: Collection[str] | None,
    problems: Sequence[RowProblem],
    keep_problems: int,
) -> EventInput:
    day_col, net_col, adv_col = (
        column("day"),
        column("network_conversions"),
        column("advertiser_conversions"),
    )
    day_text = _text(frame, day_col)
    parsed = frame.select(
        "line",
        day_text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False).alias("day"),
        day_text.alias("day_raw"),
        _text(frame, column("partner_id")).alias("partner_id"),
        _text(frame, column("campaign_id") if column("campaign_id") in frame.columns else None)
        .alias("campaign_id"),
        _number(frame, net_col, pl.Int64()).alias("network_conversions"),
        _number(frame, adv_col, pl.Int64()).alias("advertiser_conversions"),
    )  # fmt: skip
    checks: list[tuple[str, pl.Expr, str]] = [
        ("day", pl.col("day").is_null(), "not a date (YYYY-MM-DD)"),
        ("partner_id", pl.col("partner_id").is_null(), "missing"),
        ("network_conversions", ~(pl.col("network_conversions") >= 0).fill_null(False),
         "not a whole number >= 0"),
        ("advertiser_conversions", ~(pl.col("advertiser_conversions") >= 0).fill_null(False),
         "not a whole number >= 0"),
    ]  # fmt: skip
    mapped = {name: column(name) for name, _, _ in checks}
    found = _problems(parsed, checks, mapped, source)
    good = parsed.filter(~pl.any_horizontal(*(bad for _, bad, _ in checks))).select(
        list(COUNT_SCHEMA)
    )
    return _finish(good, frame.height, found, problems, known_partners, keep_problems, "counts")


def _problems(
    parsed: pl.DataFrame,
    checks: Sequence[tuple[str, pl.Expr, str]],
    mapped: Mapping[str, str],
    source: str,
) -> pl.DataFrame:
    """One row per (line, field) at fault, with a message naming the input's column."""
    parts = [
        parsed.filter(bad).select(
            "line",
            pl.lit(name if mapped[name] == name else f"{name} (column {mapped[name]!r})").alias(
                "field"
            ),
            pl.lit(message).alias("message"),
        )
        for name, bad, message in checks
    ]
    found = pl.concat(parts, how="vertical").sort("line", maintain_order=True)
    return found.with_columns(pl.lit(source).alias("source"))


def _finish(
    good: pl.DataFrame,
    rows: int,
    found: pl.DataFrame,
    earlier: Sequence[RowProblem],
    known_partners: Collection[str] | None,
    keep_problems: int,
    what: str,
) -> EventInput:
    listed = [
        RowProblem(source, int(line), name, message)
        for line, name, message, source in found.head(keep_problems).iter_rows()
    ]
    problems = sorted([*earlier, *listed], key=lambda p: p.line)[:keep_problems]
    earlier_lines = {p.line for p in earlier}
    if earlier_lines:  # rows the reader already found malformed are not used either
        good = good.filter(~pl.col("line").is_in(pl.Series(sorted(earlier_lines)).implode()))
    malformed = found.select(pl.col("line").n_unique()).item() + len(
        earlier_lines - set(found.get_column("line").to_list())
    )
    unknown: dict[str, int] = {}
    if known_partners is not None:
        known = pl.Series(list(known_partners), dtype=pl.String())
        unknown = dict(
            good.filter(~pl.col("partner_id").is_in(known.implode()))
            .group_by("partner_id")
            .len()
            .sort("partner_id")
            .iter_rows()
        )
    result = EventInput(rows_read=rows, malformed=malformed, problems=problems)
    result.unknown_partners = unknown
    if what == "events":
        result.events = good
    else:
        result.counts = good
    return result
