"""Attribution events carry the sender's event id, unique: a re-sent batch is stored once;
and an index on when they arrived, for the continuous scan's reads of what is new.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("attribution_events", sa.Column("event_id", sa.String(length=200)))
    op.create_index(
        "ux_attribution_events_event_id", "attribution_events", ["event_id"], unique=True
    )
    op.create_index("ix_attribution_events_ingested_at", "attribution_events", ["ingested_at"])


def downgrade() -> None:
    op.drop_index("ix_attribution_events_ingested_at", table_name="attribution_events")
    op.drop_index("ux_attribution_events_event_id", table_name="attribution_events")
    op.drop_column("attribution_events", "event_id")
