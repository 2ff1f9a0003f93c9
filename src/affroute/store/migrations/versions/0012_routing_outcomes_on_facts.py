"""Routing outcomes from the ticket facts: whether a ticket was reopened, and the columns
the outcome figures and their samples read, in the indexes they read them through.

The new column is filled here, set-based, from the event log (a status change from solved
or closed back to an open status), so no refresh has to recompute every fact row.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DONE = ("solved", "closed")
_OPEN = ("new", "open", "pending", "on_hold")
_BEFORE = {
    "ix_facts_sample": ["sample_key", "created_at", "team", "partner_tier", "deal_value",
                        "resolution_seconds", "score"],
    "ix_facts_decided": ["decided_by", "first_team", "team", "created_at", "partner_tier",
                         "misrouted", "escalated", "resolved_at"],
}  # fmt: skip
_AFTER = {
    "ix_facts_sample": [*_BEFORE["ix_facts_sample"], "decided_by", "first_team"],
    "ix_facts_decided": [*_BEFORE["ix_facts_decided"], "resolution_seconds", "reopened", "csat"],
}


def _indexes(shapes: dict[str, list[str]]) -> None:
    for name, columns in shapes.items():
        op.drop_index(name, table_name="ticket_facts")
        op.create_index(name, "ticket_facts", columns)


def upgrade() -> None:
    op.add_column(
        "ticket_facts",
        sa.Column("reopened", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    events = sa.table(
        "ticket_events", sa.column("ticket_id", sa.String), sa.column("kind", sa.String),
        sa.column("data", sa.JSON),
    )  # fmt: skip
    facts = sa.table("ticket_facts", sa.column("ticket_id", sa.String), sa.column("reopened"))
    reopened = sa.select(events.c.ticket_id).where(
        events.c.kind == "status_changed",
        events.c.data["from"].as_string().in_(_DONE),
        events.c.data["to"].as_string().in_(_OPEN),
    )
    op.execute(facts.update().where(facts.c.ticket_id.in_(reopened)).values(reopened=True))
    _indexes(_AFTER)


def downgrade() -> None:
    _indexes(_BEFORE)
    with op.batch_alter_table("ticket_facts", schema=None) as batch_op:
        batch_op.drop_column("reopened")
