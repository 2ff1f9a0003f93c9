"""Ticket facts for the analytics: one narrow, indexed row per ticket.

The metrics read these instead of joining tickets, decisions, events, partners, deals
and surveys at query time; ``affroute analytics refresh`` (and each API worker, in the
background) keeps them in step with the event log. Existing tickets get their facts on
the first refresh.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)

_INDEXES = {
    "ix_facts_created": ["created_at", "team", "partner_tier", "deal_value",
                         "resolution_seconds", "score"],
    "ix_facts_sample": ["sample_key", "created_at", "team", "partner_tier", "deal_value",
                        "resolution_seconds", "score"],
    "ix_facts_deal": ["deal_value", "created_at", "team", "partner_tier", "resolution_seconds"],
    "ix_facts_decided": ["decided_by", "first_team", "team", "created_at", "partner_tier",
                         "misrouted", "escalated", "resolved_at"],
    "ix_facts_sla": ["team", "priority", "partner_tier", "created_at", "has_sla", "breached",
                     "escalated", "assigned_seconds", "resolved_at"],
    "ix_facts_survey": ["engagement_band", "survey_week", "created_at", "team", "partner_tier",
                        "survey_issued", "csat", "nps"],
}  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "ticket_facts",
        sa.Column("ticket_id", sa.String(length=32), primary_key=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("first_team", sa.String(length=64), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("priority", sa.String(length=4), nullable=False),
        sa.Column("partner_tier", sa.String(length=16), nullable=False),
        sa.Column("deal_value", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolved_at", _WHEN, nullable=True),
        sa.Column("resolution_seconds", sa.Float(), nullable=True),
        sa.Column("assigned_seconds", sa.Float(), nullable=True),
        sa.Column("misrouted", sa.Boolean(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("has_sla", sa.Boolean(), nullable=False),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("survey_week", sa.Date(), nullable=True),
        sa.Column("survey_issued", sa.Boolean(), nullable=False),
        sa.Column("engagement_band", sa.String(length=16), nullable=True),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("sample_key", sa.Float(), nullable=False),
    )
    for name, columns in _INDEXES.items():
        op.create_index(name, "ticket_facts", columns)
    # Where the refresh stopped reading the event log (the meta table's counters).
    op.execute("INSERT INTO meta (key, value) VALUES ('analytics_events', 0)")


def downgrade() -> None:
    op.execute("DELETE FROM meta WHERE key = 'analytics_events'")
    op.drop_table("ticket_facts")
