"""SLA clocks on tickets and the escalation ledger (one row per fired step).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("policy", sa.String(length=128), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("predicted", sa.Boolean(), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "policy", "step", name="uq_escalation_step"),
    )
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escalations_ticket_id"), ["ticket_id"], unique=False)

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_response_by", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("next_response_by", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("resolution_by", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("sla_status", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("sla_paused_seconds", sa.Float(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("sla_check_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_tickets_sla_check_at"), ["sla_check_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_sla_check_at"))
        batch_op.drop_column("sla_check_at")
        batch_op.drop_column("sla_paused_seconds")
        batch_op.drop_column("sla_status")
        batch_op.drop_column("resolution_by")
        batch_op.drop_column("next_response_by")
        batch_op.drop_column("first_response_by")

    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalations_ticket_id"))

    op.drop_table("escalations")
