"""A reading of each ticket's resolution clock; ticket events indexed by kind and time.

With the business time run and the instant it was read, the sweeper carries a running
clock forward to any later instant without replaying the ticket's events. The breach
forecast reads a team's solves of the last day through the (kind, at) index.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows keep NULL: the sweeper replays their events once, which fills both.
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sla_elapsed_seconds", sa.Float(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("sla_computed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_events_kind_at", ["kind", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_events_kind_at")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("sla_computed_at")
        batch_op.drop_column("sla_elapsed_seconds")
