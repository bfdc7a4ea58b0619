"""Access requests, grants, portal users; credentials that rotate and await pickup.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="api-key"))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("rotated_from", sa.String(32), nullable=True))
        batch.add_column(sa.Column("pickup", sa.LargeBinary, nullable=True))
    op.create_table(
        "users",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("teams", sa.JSON, nullable=False),
        sa.Column("admin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "access_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("app", sa.String(63), nullable=False, index=True),
        sa.Column("api", sa.String(63), nullable=False, index=True),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("environment", sa.String(63), nullable=False),
        sa.Column("plan", sa.String(63), nullable=True),
        sa.Column("justification", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
    )
    op.create_table(
        "grants",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("app", sa.String(63), nullable=False),
        sa.Column("api", sa.String(63), nullable=False),
        sa.Column("environment", sa.String(63), nullable=False),
        sa.Column("plan", sa.String(63), nullable=True),
        sa.Column("request_id", sa.BigInteger, nullable=True),
        sa.Column("granted_by", sa.String(200), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
    )
    op.create_index("ix_grants_app", "grants", ["app", "environment"])


def downgrade() -> None:
    op.drop_index("ix_grants_app", table_name="grants")
    op.drop_table("grants")
    op.drop_table("access_requests")
    op.drop_table("users")
    with op.batch_alter_table("api_keys") as batch:
        for column in ("pickup", "rotated_from", "expires_at", "kind"):
            batch.drop_column(column)
