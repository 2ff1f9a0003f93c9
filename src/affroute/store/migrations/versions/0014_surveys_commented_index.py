"""A partial index of the surveys that carry a comment, by answer time: the satisfaction
page lists the latest comments without walking every answered survey.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COMMENTED = sa.text("comment IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_surveys_commented", "surveys", ["answered_at"],
        sqlite_where=_COMMENTED, postgresql_where=_COMMENTED,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_surveys_commented", table_name="surveys")
