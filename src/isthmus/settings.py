"""Process settings, read once from ``ISTHMUS_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a running hub needs that is not a resource."""

    model_config = SettingsConfigDict(env_prefix="ISTHMUS_", extra="ignore")

    home: Path = Field(
        default=Path(".isthmus"),
        description="Folder for embedded state: the SQLite store, the vault key, the admin token.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL of the store; default: SQLite file in 'home'.",
    )
    admin_token: str | None = Field(
        default=None,
        description="Bearer token for the admin API; default: generated once into 'home'.",
    )
    master_key: str | None = Field(
        default=None,
        description="The vault's master key (base64 of 32 bytes; AES-256-GCM); default: the "
        "key file.",
    )
    master_keys_previous: str | None = Field(
        default=None,
        description="Older master keys, comma-separated, that still decrypt while "
        "'isthmus secret rekey' re-encrypts under the new one.",
    )
    master_key_file: Path | None = Field(
        default=None,
        description="File holding the master key when ISTHMUS_MASTER_KEY is not set (first "
        "line encrypts, later lines still decrypt); default: 'home'/master.key, made once.",
    )
    vault_key: str | None = Field(
        default=None,
        description="The Fernet key of vaults made before AES-GCM (default: 'home'/vault.key "
        "if present): still opens their values until they are rekeyed.",
    )
    portal_secret: str | None = Field(
        default=None,
        description="Key that signs the portal's session cookies; default: generated once "
        "into 'home' (set the same value on every control-plane process).",
    )
    host: str = Field(default="127.0.0.1", description="Address the gateway listens on.")
    control_host: str = Field(
        default="127.0.0.1",
        description="Address the control plane (admin API) listens on; keep it private.",
    )
    gateway_port: int = Field(default=8400, description="Port of the data plane (gateway).")
    control_port: int = Field(default=8401, description="Port of the control plane.")
    gateway_reuse_port: bool = Field(
        default=False,
        description="Let several hub processes share the gateway port (SO_REUSEPORT), one "
        "per core; give each its own control port.",
    )
    gateway_server: Literal["granian", "uvicorn"] = Field(
        default="granian",
        description="The gateway's HTTP server: granian (Rust, faster) or uvicorn.",
    )
    gateway_max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body the gateway accepts."
    )
    token_issuer: str | None = Field(
        default=None,
        description="'iss' of access tokens; default: the gateway's own http://host:port.",
    )
    token_ttl_seconds: int = Field(
        default=600, ge=60, le=900, description="Lifetime of access tokens (at most 15 min)."
    )
    token_algorithm: Literal["ES256", "Ed25519"] = Field(
        default="ES256", description="Signature algorithm of new signing keys."
    )
    cache_max_entries: int = Field(
        default=10_000, ge=0, description="Answers the gateway's response cache keeps at most."
    )
    cache_max_entry_bytes: int = Field(
        default=256 * 1024, ge=0, description="Largest answer the response cache keeps."
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where Plan counters live: 'memory://' (one hub) or "
        "'redis://host:port/db' (shared by every gateway).",
    )
    rate_limit_timeout_seconds: float = Field(
        default=0.25,
        gt=0,
        le=10,
        description="A counter store slower than this is treated as down: the request is "
        "served uncounted (fail open) and the store left alone for 5 seconds.",
    )
    rate_limit_prefix: str = Field(
        default="isthmus", description="Prefix of the counter keys in Redis."
    )
    bus: str = Field(
        default="embedded",
        description="Where events travel: 'embedded' (the store itself), 'rabbitmq', "
        "'nats', 'redis' or 'mqtt' (each installed with the extra of its name).",
    )
    bus_url: str | None = Field(
        default=None,
        description="The broker's URL (amqp://…, nats://…, redis://…, mqtt://…); the embedded bus "
        "uses the store's database.",
    )
    bus_redeliver_after_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a message handed to a member that stopped answering (a "
        "killed process, a lost connection) waits before it goes to another member "
        "(embedded, NATS, Redis; RabbitMQ redelivers when the connection closes).",
    )
    trigger_lease_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a hub holds a trigger (an outbox relay, a poller) without "
        "renewing it: when that hub dies, another takes the trigger over after this.",
    )
    virtual_timeout_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="Longest time one virtual query may run."
    )
    virtual_max_rows: int = Field(
        default=100_000, ge=1, description="Most rows one virtual query may answer."
    )
    virtual_max_scan_rows: int = Field(
        default=1_000_000,
        ge=1,
        description="Most rows one source may send for one virtual query (bounds memory).",
    )
    virtual_memory_mb: int = Field(
        default=512, ge=64, description="Memory DuckDB may use for virtual queries."
    )
    virtual_max_text_length: int = Field(
        default=65_536,
        ge=1,
        le=100_000_000,
        description="Longest text one value of a virtual query's answer may hold: a longer "
        "one fails the query (declared as maxLength of View columns in Api documents).",
    )
    virtual_max_api_calls: int = Field(
        default=200,
        ge=1,
        description="Most API requests one virtual query may make to a source, as estimated "
        "before it runs: a query estimated above it is refused.",
    )
    snapshot_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often the gateway checks the store for changes made elsewhere.",
    )
    otel_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces endpoint (e.g. http://collector:4318/v1/traces); "
        "tracing is off without it.",
    )
    access_log: bool = Field(default=True, description="Log one line per gateway request.")
    log_level: str = Field(default="info")
    log_format: str = Field(default="console", pattern="^(console|json)$")

    def issuer(self) -> str:
        return self.token_issuer or f"http://{self.host}:{self.gateway_port}"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.home / 'isthmus.db').resolve()}"
