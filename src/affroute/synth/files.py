"""Write a generated program to CSV and JSON Lines files, one pair per table."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from affroute.domain import Anomaly, Campaign, Deal, Partner
from affroute.synth.generator import AffiliateProgram, LabelledTicket

PARTNER_COLUMNS = tuple(f.name for f in fields(Partner))
DEAL_COLUMNS = tuple(f.name for f in fields(Deal))
CAMPAIGN_COLUMNS = tuple(f.name for f in fields(Campaign))
ANOMALY_COLUMNS = tuple(f.name for f in fields(Anomaly))
TICKET_COLUMNS = (
    "id",
    "external_id",
    "created_at",
    "partner_id",
    "deal_id",
    "campaign_id",
    "category",
    "urgency",
    "channel",
    "region",
    "subject",
    "body",
    "tags",
    "true_team",
    "true_priority",
)

Row = dict[str, Any]


def write_program(program: AffiliateProgram, out_dir: Path) -> dict[str, Path]:
    """Write each table of `program` as CSV and JSONL into `out_dir`; return paths by file name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tables: dict[str, tuple[Sequence[str], list[Row]]] = {
        "partners": (PARTNER_COLUMNS, [asdict(p) for p in program.partners]),
        "deals": (DEAL_COLUMNS, [asdict(d) for d in program.deals]),
        "campaigns": (CAMPAIGN_COLUMNS, [asdict(c) for c in program.campaigns]),
        "anomalies": (ANOMALY_COLUMNS, [asdict(a) for a in program.anomalies]),
        "tickets": (TICKET_COLUMNS, [_ticket_row(t) for t in program.tickets]),
    }
    written: dict[str, Path] = {}
    for table, (columns, rows) in tables.items():
        plain = [{column: _plain(row[column]) for column in columns} for row in rows]
        csv_path = out_dir / f"{table}.csv"
        _write_csv(csv_path, columns, plain)
        jsonl_path = out_dir / f"{table}.jsonl"
        _write_jsonl(jsonl_path, plain)
        written[csv_path.name] = csv_path
        written[jsonl_path.name] = jsonl_path
    return written


def _ticket_row(labelled: LabelledTicket) -> Row:
    t = labelled.ticket
    return {
        "id": t.id,
        "external_id": t.external_id,
        "created_at": t.created_at,
        "partner_id": t.partner_id,
        "deal_id": t.deal_id,
        "campaign_id": t.campaign_id,
        "category": t.category,
        "urgency": t.urgency,
        "channel": t.channel,
        "region": t.region,
        "subject": t.subject,
        "body": t.body,
        "tags": list(t.tags),
        "true_team": labelled.true_team,
        "true_priority": labelled.true_priority,
    }


def _plain(value: Any) -> Any:
    """A JSON-ready value: enums as their value, datetimes in ISO 8601 with offset."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[Row]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(v) for k, v in row.items()})


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(value)
    return value


def _write_jsonl(path: Path, rows: Iterable[Row]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
