"""Reading tickets and context tables from CSV and JSON Lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from affroute.domain import Category, PartnerTier
from affroute.service.batch import read_context_folder
from affroute.service.records import PartnerRecord, TicketRecord, load_rows
from tests.conftest import config_with_rules

HEADER = "id,created_at,partner_id,category,urgency,subject,body,tags\n"


def test_csv_tickets_with_empty_cells_and_tags(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        HEADER + 'T1,2026-03-02T10:00:00+00:00,,payout,,"Hi, there",body,vip;reopened\n'
    )
    loaded = load_rows(path, TicketRecord)
    assert loaded.errors == []
    [ticket] = loaded.items
    assert ticket.partner_id is None and ticket.urgency is None
    assert ticket.category is Category.PAYOUT
    assert ticket.tags == ("vip", "reopened")
    assert ticket.subject == "Hi, there"


def test_bad_rows_are_named_by_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        HEADER
        + "T1,2026-03-02T10:00:00,,,,s,b,\n"  # no time zone
        + "T2,2026-03-02T10:00:00Z,,refund,,s,b,\n"  # unknown category
        + "T3,2026-03-02T10:00:00Z,,,,s,b,,extra\n"  # too many cells
        + "T4,2026-03-02T10:00:00Z,,,,s,b,\n"
        + "T4,2026-03-02T11:00:00Z,,,,s,b,\n"  # duplicate id
    )
    loaded = load_rows(path, TicketRecord)
    assert [t.id for t in loaded.items] == ["T4"]
    messages = [str(e) for e in loaded.errors]
    assert messages[0].startswith(f"{path}:2: created_at:") and "timezone" in messages[0]
    assert messages[1].startswith(f"{path}:3: category:")
    assert messages[2] == f"{path}:4: more cells than the header has columns"
    assert messages[3] == f"{path}:6: id: 'T4' appears more than once"


def test_partner_rows_validate_ranges(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(
        '{"id": "P1", "tier": "gold", "click_through_rate": 0.05}\n'
        '{"id": "P2", "click_through_rate": 3}\n'
        "[1, 2]\n"
    )
    loaded = load_rows(path, PartnerRecord)
    assert [(p.id, p.tier, p.name) for p in loaded.items] == [("P1", PartnerTier.GOLD, "P1")]
    assert "click_through_rate" in str(loaded.errors[0]) and ":2:" in str(loaded.errors[0])
    assert str(loaded.errors[1]).endswith(":3: expected a JSON object")


def test_unknown_file_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    path.write_text("x")
    with pytest.raises(ValueError, match=r"expected a \.csv or \.jsonl file"):
        load_rows(path, TicketRecord)


def test_context_folder_prefers_jsonl_and_reports_missing_tables(tmp_path: Path) -> None:
    (tmp_path / "partners.jsonl").write_text('{"id": "P1"}\n')
    (tmp_path / "partners.csv").write_text("id\nP9\n")
    (tmp_path / "deals.csv").write_text("id,partner_id,value\nD1,P1,-5\nD2,P1,10\n")
    loaded = read_context_folder(tmp_path, config_with_rules().scoring)
    assert set(loaded.context.partners) == {"P1"}
    assert set(loaded.context.deals) == {"D2"}
    assert loaded.missing == ["campaigns", "anomalies"]
    assert "value" in str(loaded.errors[0])
