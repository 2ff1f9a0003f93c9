"""The model registry: ticket model files, their metrics and their mode (registered,
shadow, active), and the counter that tells workers to reload them.

Revision ID: 0009
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_IN_USE = sa.text("mode != 'registered'")


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("classes", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=64), nullable=False),
        sa.Column("mode_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mode_changed_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    op.create_index(
        "uq_models_label_mode",
        "models",
        ["label", "mode"],
        unique=True,
        sqlite_where=_IN_USE,
        postgresql_where=_IN_USE,
    )
    meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(meta, [{"key": "models", "value": 0}])


def downgrade() -> None:
    op.execute("DELETE FROM meta WHERE key = 'models'")
    op.drop_index("uq_models_label_mode", table_name="models")
    op.drop_table("models")
