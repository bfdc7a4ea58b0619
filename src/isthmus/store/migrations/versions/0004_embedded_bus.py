"""The embedded durable bus.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bus_messages",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=True),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index("ix_bus_messages_topic_seq", "topic", "seq"),
    )
    op.create_table(
        "bus_groups",
        sa.Column("topic", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "bus_inflight",
        sa.Column("topic", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("visible_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deliveries", sa.Integer, nullable=False),
        sa.Index("ix_bus_inflight_due", "topic", "name", "visible_at"),
    )


def downgrade() -> None:
    op.drop_table("bus_inflight")
    op.drop_table("bus_groups")
    op.drop_table("bus_messages")
