"""The store's tables. Migrations in ``migrations/`` create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
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
    # 'api-key' (sent with each call) or 'client-secret' (traded at /oauth/token only)
    Column("kind", String(16), nullable=False, server_default="api-key"),
    Column("expires_at", DateTime(timezone=True), nullable=True),  # set when rotated
    Column("rotated_from", String(32), nullable=True),
    # The plain credential sealed by the vault until its App's owner collects it (once):
    # for credentials issued by an approval, which the approver must not see.
    Column("pickup", LargeBinary, nullable=True),
)

# People who sign in to the portal. Ownership follows resources' metadata.owner: a
# person owns what names them or one of their teams.
users = Table(
    "users",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(300), nullable=False),
    Column("teams", JSON, nullable=False),
    Column("admin", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # bumped by signing out and by a new password: sessions of an older epoch are over
    Column("session_epoch", Integer, nullable=False, server_default="0"),
)

# An App's owner asks for an Api in an Environment; the Api's owner decides.
access_requests = Table(
    "access_requests",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("app", String(63), nullable=False, index=True),
    Column("api", String(63), nullable=False, index=True),
    Column("version", String(16), nullable=False),
    Column("environment", String(63), nullable=False),
    Column("plan", String(63), nullable=True),
    Column("justification", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending approved rejected withdrawn
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(200), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("reason", Text, nullable=True),
)

# Access given by a decision (App.spec.apis declares access for every Environment).
grants = Table(
    "grants",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("app", String(63), nullable=False),
    Column("api", String(63), nullable=False),
    Column("environment", String(63), nullable=False),
    Column("plan", String(63), nullable=True),
    Column("request_id", BigInteger, nullable=True),
    Column("granted_by", String(200), nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoked_by", String(200), nullable=True),
    Index("ix_grants_app", "app", "environment"),
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

# The embedded durable bus: messages in publish order, each group's position in a
# topic, and the messages handed to a group's members and not yet acked.
bus_messages = Table(
    "bus_messages",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("topic", String(200), nullable=False),
    Column("key", String(200), nullable=True),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Index("ix_bus_messages_topic_seq", "topic", "seq"),
)

bus_groups = Table(
    "bus_groups",
    metadata,
    Column("topic", String(200), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("position", BigInteger, nullable=False),  # the last seq handed out
)

bus_inflight = Table(
    "bus_inflight",
    metadata,
    Column("topic", String(200), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("visible_at", DateTime(timezone=True), nullable=False),  # when to hand it out again
    Column("deliveries", Integer, nullable=False),
    Index("ix_bus_inflight_due", "topic", "name", "visible_at"),
)

# Events a Subscription could not deliver after its last attempt, with why; replayed
# at most once (replayed_at set in the same statement that claims the replay).
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("subscription", String(250), nullable=False),  # or a trigger's name
    Column("environment", String(63), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("event", LargeBinary, nullable=False),
    Column("error", String(500), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False),
    Column("replayed_at", DateTime(timezone=True), nullable=True),
    Index("ix_dead_letters_subscription", "subscription", "environment"),
)

# Where each polling trigger has read up to: the cursor value of the last record published.
trigger_cursors = Table(
    "trigger_cursors",
    metadata,
    Column("name", String(250), primary_key=True),
    Column("cursor", JSON, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Events of EventTypes kept as time series (spec.series), for Views: one row per event.
event_series = Table(
    "event_series",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("environment", String(63), nullable=False),
    Column("event_type", String(63), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("time", DateTime(timezone=False), nullable=False),  # UTC
    Column("subject", String(500), nullable=True),
    Column("data", JSON, nullable=True),
    UniqueConstraint("environment", "event_type", "event_id", name="uq_event_series_event"),
    Index("ix_event_series_time", "environment", "event_type", "time"),
)
