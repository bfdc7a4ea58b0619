"""The store's tables. Migrations in ``migrations/`` create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

# Non-scoped kinds store environment as '' so the unique key works the same on every
# database (NULLs are never equal in a UNIQUE constraint).
resources = Table(
    "resources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("name", String(63), nullable=False),
    Column("environment", String(63), nullable=False, server_default=""),
    Column("document", JSON, nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("kind", "name", "environment", name="uq_resources_identity"),
)

# One row: a counter bumped by every change, so any process can see cheaply that the
# resources changed and rebuild what it derived from them.
store_state = Table(
    "store_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("revision", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app", String(63), nullable=False, index=True),
    Column("environment", String(63), nullable=False),
    Column("label", String(200), nullable=False, server_default=""),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

secrets = Table(
    "secrets",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Keys that sign the gateway's OAuth2 access tokens. The private half is encrypted by
# the vault; the public half is what the JWKS endpoint publishes.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("alg", String(16), nullable=False),
    Column("private_jwk", LargeBinary, nullable=False),
    Column("public_jwk", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("retired_at", DateTime(timezone=True), nullable=True),
)

# What was done, by whom, with what outcome: statements run through governed
# Connections, admin changes. ``detail`` never holds secret values or bound parameters.
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor", String(200), nullable=False, index=True),
    Column("action", String(64), nullable=False, index=True),
    Column("target", String(300), nullable=False, index=True),
    Column("outcome", String(16), nullable=False),
    Column("detail", JSON, nullable=False),
)

# Short leases that serialise one piece of work across hub processes (spending a
# rotating refresh token). A holder that dies lets its lease expire.
leases = Table(
    "leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
