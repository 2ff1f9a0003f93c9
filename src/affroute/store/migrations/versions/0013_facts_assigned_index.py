"""An index on the ticket facts' ``assigned_seconds``: the ``/metrics`` scrape counts its
latency histogram's buckets as ranges of it instead of testing nine bounds on every row.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_facts_assigned", "ticket_facts", ["assigned_seconds"])


def downgrade() -> None:
    op.drop_index("ix_facts_assigned", table_name="ticket_facts")
