"""Subscription: a consumer of an EventType that delivers its events to a target.

Per Environment, like a Connection: the sandbox Subscription receives sandbox events.
Delivery is at least once, with retries after a capped exponential backoff; after the
last attempt an event goes to the dead letters with the error, to be inspected and
replayed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from isthmus.mapping import Expression
from isthmus.model.base import Name, Ref, Resource, ScopedMetadata, SecretRef, Spec
from isthmus.model.registry import register_kind


class WebhookTarget(Spec):
    url: str = Field(pattern=r"^https?://", description="Where events are POSTed.")
    secret: SecretRef = Field(
        description="The signing secret (whsec_…): deliveries are signed as Standard "
        "Webhooks has it."
    )
    allow_private_network: bool = Field(
        default=False, description="Allow a receiver on a private or loopback address."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)


class OperationDelivery(Spec):
    """Call a connector operation with each event: its input's body is the mapping's
    result (the event's data by default), with an idempotency key that is the same on
    every redelivery of the event."""

    connection: Annotated[Name, Ref("Connection")]
    operation: str = Field(min_length=1)
    mapping: Expression | None = Field(
        default=None, description="JSONata over the CloudEvent giving the body (default: data)."
    )


class Retry(Spec):
    max_attempts: int = Field(default=5, ge=1, le=50)
    initial_delay_seconds: float = Field(default=1.0, gt=0, le=3600)
    max_delay_seconds: float = Field(default=60.0, gt=0, le=86400)

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt ``attempt`` (1, 2, …): doubling, capped."""
        return float(min(self.initial_delay_seconds * 2.0 ** (attempt - 1), self.max_delay_seconds))


class SubscriptionSpec(Spec):
    event_type: Annotated[Name, Ref("EventType")]
    webhook: WebhookTarget | None = None
    operation: OperationDelivery | None = Field(
        default=None, description="Instead of a webhook: a connector operation."
    )
    filter: Expression | None = Field(
        default=None,
        description="JSONata over the CloudEvent; only events for which it is true are "
        "delivered (e.g. data.tier = 'gold').",
    )
    retry: Retry = Field(default_factory=Retry)
    paused: bool = Field(default=False, description="Keep events, deliver none, until false.")
    concurrency: int = Field(
        default=8, ge=1, le=256, description="Deliveries in progress at once (per hub)."
    )
    ordered: bool = Field(
        default=False,
        description="Deliver events of one key (the EventType's orderingKey, else its "
        "subject) in the order they were published: a failing event holds back the later "
        "ones of its key, retried in place, while other keys flow.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> SubscriptionSpec:
        if (self.webhook is None) == (self.operation is None):
            raise ValueError("deliver to exactly one target: 'webhook' or 'operation'")
        return self


@register_kind
class Subscription(Resource):
    kind: Literal["Subscription"] = "Subscription"
    metadata: ScopedMetadata
    spec: SubscriptionSpec
