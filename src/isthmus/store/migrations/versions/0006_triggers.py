"""Triggers: where each poller has read up to; dead letters owned by triggers.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trigger_cursors",
        sa.Column("name", sa.String(250), primary_key=True),
        sa.Column("cursor", sa.JSON, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # a trigger's dead letters are owned by 'trigger:ENV/CONNECTION/TRIGGER'
    with op.batch_alter_table("dead_letters") as batch:
        batch.alter_column(
            "subscription", type_=sa.String(250), existing_type=sa.String(63), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.alter_column(
            "subscription", type_=sa.String(63), existing_type=sa.String(250), nullable=False
        )
    op.drop_table("trigger_cursors")
