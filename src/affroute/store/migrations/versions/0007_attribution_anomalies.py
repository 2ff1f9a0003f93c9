"""Attribution anomalies found by scans: evidence, lifecycle times, one open row per
fingerprint; the events and daily conversion counts the service scans.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("status != 'resolved'")


def upgrade() -> None:
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("detected_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_anomalies_detected_at", ["detected_at"], unique=False)
        batch_op.create_index("ix_anomalies_resolved_at", ["resolved_at"], unique=False)
    # Anomalies uploaded before this revision count as detected when they were last written.
    op.execute("UPDATE anomalies SET detected_at = updated_at, evidence = '{}'")
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.alter_column("evidence", existing_type=sa.JSON(), nullable=False)
    op.create_index(
        "uq_anomalies_open_fingerprint",
        "anomalies",
        ["fingerprint"],
        unique=True,
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_table(
        "attribution_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=True),
        sa.Column("click_id", sa.String(length=128), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("device", sa.String(length=200), nullable=True),
        sa.Column("contact_hash", sa.String(length=128), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("click_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_attribution_events_at", "attribution_events", ["at"], unique=False)
    op.create_table(
        "conversion_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("network_conversions", sa.Integer(), nullable=False),
        sa.Column("advertiser_conversions", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", "partner_id", "campaign_id"),
    )
    meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(meta, [{"key": "events", "value": 0}, {"key": "events_scanned", "value": 0}])


def downgrade() -> None:
    op.execute("DELETE FROM meta WHERE key IN ('events', 'events_scanned')")
    op.drop_table("conversion_counts")
    op.drop_index("ix_attribution_events_at", table_name="attribution_events")
    op.drop_table("attribution_events")
    op.drop_index("uq_anomalies_open_fingerprint", table_name="anomalies")
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.drop_index("ix_anomalies_resolved_at")
        batch_op.drop_index("ix_anomalies_detected_at")
        for column in (
            "resolved_by",
            "resolved_at",
            "acknowledged_at",
            "last_seen_at",
            "detected_at",
            "fingerprint",
            "evidence",
            "summary",
        ):
            batch_op.drop_column(column)
