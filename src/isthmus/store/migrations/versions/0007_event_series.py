"""Events kept as time series, for Views.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_series",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("environment", sa.String(63), nullable=False),
        sa.Column("event_type", sa.String(63), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("time", sa.DateTime(timezone=False), nullable=False),
        sa.Column("subject", sa.String(500), nullable=True),
        sa.Column("data", sa.JSON, nullable=True),
        sa.UniqueConstraint("environment", "event_type", "event_id", name="uq_event_series_event"),
    )
    op.create_index("ix_event_series_time", "event_series", ["environment", "event_type", "time"])


def downgrade() -> None:
    op.drop_index("ix_event_series_time", table_name="event_series")
    op.drop_table("event_series")
