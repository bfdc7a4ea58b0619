"""Triggers: where a Connection's System starts events, declared on the Connection.

Each trigger publishes one EventType's events in the Connection's Environment, from one
source: a **transactional outbox** table in a SQL database (rows written in the same
transaction as the business change, relayed to the bus), a **webhook** the System calls
(its signature checked), or a **poll** of one of the Connection's streams with a stored
cursor.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from isthmus.mapping import Expression
from isthmus.model.base import Name, Ref, SecretRef, Spec

TABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$"


class OutboxSource(Spec):
    """Rows of the outbox table whose ``event_type`` is the trigger's EventType are
    published, then deleted — at least once: a relay stopped between the two publishes
    them again, with the same event ids."""

    table: str = Field(
        default="isthmus_outbox",
        pattern=TABLE_PATTERN,
        description="The outbox table, optionally schema-qualified; "
        "'isthmus connection outbox NAME' prints its CREATE TABLE.",
    )
    batch: int = Field(default=200, ge=1, le=5000, description="Rows relayed per round.")
    poll_seconds: float = Field(
        default=0.5, gt=0, le=3600, description="The wait after a round that found no rows."
    )


class WebhookSource(Spec):
    """The System POSTs JSON to the hub's gateway at
    ``/triggers/ENVIRONMENT/CONNECTION/TRIGGER``; a request without a valid signature is
    refused and nothing is published."""

    signature: Literal["standard-webhooks", "hmac-sha256"] = Field(
        default="standard-webhooks",
        description="'standard-webhooks' (webhook-id, webhook-timestamp, webhook-signature "
        "headers) or 'hmac-sha256' of the body in one header (as GitHub, Shopify and "
        "many others sign).",
    )
    secret: SecretRef = Field(description="The secret the System signs with.")
    header: str = Field(
        default="X-Signature-256",
        min_length=1,
        max_length=100,
        description="hmac-sha256: the header carrying the signature.",
    )
    encoding: Literal["hex", "base64"] = Field(
        default="hex", description="hmac-sha256: how the signature is written."
    )
    prefix: str = Field(
        default="", max_length=20, description="hmac-sha256: text before it, e.g. 'sha256='."
    )
    id_header: str | None = Field(
        default=None,
        max_length=100,
        description="hmac-sha256: a header with the System's delivery id, used as the "
        "event's id so a retried delivery keeps its id (standard-webhooks uses webhook-id).",
    )
    mapping: Expression | None = Field(
        default=None, description="JSONata over the received JSON giving the event's data."
    )


class PollSource(Spec):
    """Every ``intervalSeconds`` the stream is read from the stored cursor on; each new
    record becomes an event, and the cursor moves on once the bus has them."""

    stream: str = Field(min_length=1, description="A stream of the Connection with a cursor field.")
    interval_seconds: float = Field(default=60.0, gt=0, le=86400)
    mapping: Expression | None = Field(
        default=None, description="JSONata over a record giving the event's data."
    )


class Trigger(Spec):
    name: Name
    event_type: Annotated[Name, Ref("EventType")] = Field(
        description="The EventType its events are (checked against its newest version)."
    )
    outbox: OutboxSource | None = None
    webhook: WebhookSource | None = None
    poll: PollSource | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Trigger:
        if sum(s is not None for s in (self.outbox, self.webhook, self.poll)) != 1:
            raise ValueError("give exactly one source: 'outbox', 'webhook' or 'poll'")
        return self

    @property
    def source(self) -> Literal["outbox", "webhook", "poll"]:
        if self.outbox is not None:
            return "outbox"
        return "webhook" if self.webhook is not None else "poll"
