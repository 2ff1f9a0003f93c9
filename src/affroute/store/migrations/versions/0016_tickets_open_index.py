"""An index of the tickets by status, team and priority: the live queue counts (queues
board, overview cards) read the few open tickets from it instead of scanning all tickets.
And a counter of the analytics facts' changes, for answers kept until the facts change.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_tickets_open", "tickets", ["status", "team", "priority", "queued", "created_at"]
    )
    op.execute("INSERT INTO meta (key, value) VALUES ('analytics_facts', 0)")


def downgrade() -> None:
    op.execute("DELETE FROM meta WHERE key = 'analytics_facts'")
    op.drop_index("ix_tickets_open", table_name="tickets")
