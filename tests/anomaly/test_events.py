"""Reading event files: time zones, malformed rows with line numbers, unknown partners."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from affroute.anomaly.events import InputError, parse_mapping, read_file

CSV = """event,at,partner_id,campaign_id,contact_hash,value
click,2026-03-02T10:00:00+05:30,P1,C1,,
lead,2026-03-02 04:30:00Z,P1,C1,h1,
conversion,2026-03-02 04:30:00,P1,C1,,12.5
klick,2026-03-02 04:30:00,P1,C1,,
click,yesterday,P2,C1,,
click,2026-03-02T04:30:00Z,,C1,,
click,2026-03-02T04:30:00Z,P9,C1,,,extra cell
conversion,2026-03-02T04:30:00Z,P9,C1,,lots
lead,2026-03-02T04:30:00-08:00,P-NEW,C1,h2,
"""


def test_every_offset_becomes_utc_and_bad_rows_are_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(CSV)
    read = read_file(path, known_partners={"P1", "P2", "P9"})
    assert read.rows_read == 9
    assert read.events.height == 4
    assert read.malformed == 5
    assert [(p.line, p.field) for p in read.problems] == [
        (5, "event"),
        (6, "at"),
        (7, "partner_id"),
        (8, "row"),
        (9, "value"),
    ]
    moment = datetime(2026, 3, 2, 4, 30, tzinfo=UTC)
    assert read.events.get_column("at").to_list()[:3] == [moment] * 3
    assert read.events.get_column("at").to_list()[3] == datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
    assert read.unknown_partners == {"P-NEW": 1}  # kept, and listed


def test_a_column_mapping_reads_a_click_export_with_conversion_times(tmp_path: Path) -> None:
    path = tmp_path / "clicks.csv"
    path.write_text(
        "ip,channel,click_time,attributed_time\n"
        "1,7,2017-11-07 09:30:38,\n"
        "2,7,2017-11-07 09:31:00,2017-11-07 09:34:20\n"
    )
    mapping = parse_mapping(["partner_id=channel", "at=click_time", "converted_at=attributed_time"])
    read = read_file(path, mapping=mapping, event="click", naive_time_zone="Asia/Shanghai")
    kinds = read.events.get_column("event").cast(pl.String).to_list()
    assert kinds == ["click", "click", "conversion"]
    conversion = read.events.row(2, named=True)
    assert conversion["at"] == datetime(2017, 11, 7, 1, 34, 20, tzinfo=UTC)
    assert (conversion["at"] - conversion["click_at"]).total_seconds() == 200


def test_repeated_event_ids_across_files_are_dropped_once(tmp_path: Path) -> None:
    first, second = tmp_path / "monday.csv", tmp_path / "overlap.csv"
    first.write_text(
        "event,at,partner_id,event_id\n"
        "lead,2026-03-02T10:00:00Z,P1,a\n"
        "lead,2026-03-02T10:01:00Z,P1,\n"
        "lead,2026-03-02T10:02:00Z,P1,b\n"
    )
    second.write_text(
        "event,at,partner_id,event_id\n"
        "lead,2026-03-02T10:02:00Z,P1,b\n"  # sent again in the next export
        "lead,2026-03-02T10:03:00Z,P1,\n"
        "lead,2026-03-02T10:04:00Z,P1,c\n"
    )
    read = read_file(first)
    read.extend(read_file(second))
    read.drop_repeats()
    assert read.repeats == 1
    assert read.events.get_column("event_id").to_list() == ["a", None, "b", None, "c"]


def test_parquet_and_missing_columns(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "event": ["click", "lead"],
            "at": [datetime(2026, 3, 2, 10, tzinfo=UTC), datetime(2026, 3, 2, 11, tzinfo=UTC)],
            "partner_id": ["P1", "P1"],
        }
    )
    frame.write_parquet(tmp_path / "events.parquet")
    read = read_file(tmp_path / "events.parquet")
    assert read.events.height == 2 and read.malformed == 0
    frame.drop("partner_id").write_parquet(tmp_path / "bad.parquet")
    with pytest.raises(InputError, match="partner_id"):
        read_file(tmp_path / "bad.parquet")
    with pytest.raises(InputError, match="unknown field 'partner'"):
        parse_mapping(["partner=channel"])
