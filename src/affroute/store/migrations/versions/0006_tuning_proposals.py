"""Tuning proposals: configurations the tuner proposes from stored outcomes.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tuning_proposals",
        sa.Column("id", sa.String(length=16), primary_key=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("base_version", sa.String(length=32), nullable=False),
        sa.Column("proposed_yaml", sa.Text(), nullable=False),
        sa.Column("proposed_hash", sa.String(length=64), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", _WHEN, nullable=True),
        sa.Column("applied_version", sa.String(length=32), nullable=True),
    )
    op.create_index("ix_tuning_proposals_proposed_hash", "tuning_proposals", ["proposed_hash"])
    op.create_index("ix_tuning_proposals_status", "tuning_proposals", ["status"])


def downgrade() -> None:
    op.drop_table("tuning_proposals")
