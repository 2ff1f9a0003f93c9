"""Satisfaction surveys and the server-side secrets that sign their links.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
    )
    op.create_table(
        "surveys",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("ticket_id", sa.String(length=32), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("team_source", sa.String(length=128), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("partner_tier", sa.String(length=16), nullable=True),
        sa.Column("engagement_band", sa.String(length=16), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("send_at", _WHEN, nullable=False),
        sa.Column("sent_at", _WHEN, nullable=True),
        sa.Column("reminded_at", _WHEN, nullable=True),
        sa.Column("expires_at", _WHEN, nullable=True),
        sa.Column("delivery_attempts", sa.Integer(), nullable=False),
        sa.Column("answered_at", _WHEN, nullable=True),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=True),
        sa.Column("response_id", sa.String(length=200), nullable=True),
        sa.UniqueConstraint("ticket_id", name="uq_surveys_ticket_id"),
        sa.UniqueConstraint("source", "response_id", name="uq_survey_response"),
    )
    op.create_index("ix_surveys_partner_id", "surveys", ["partner_id"])
    op.create_index("ix_surveys_status", "surveys", ["status"])
    op.create_index("ix_surveys_send_at", "surveys", ["send_at"])
    op.create_index("ix_surveys_answered", "surveys", ["answered_at"])


def downgrade() -> None:
    op.drop_table("surveys")
    op.drop_table("secrets")
