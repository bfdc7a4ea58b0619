"""Connection: how the hub reaches one System in one Environment."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from isthmus.model.base import Name, Ref, Resource, ScopedMetadata, Spec
from isthmus.model.registry import register_kind
from isthmus.model.trigger import Trigger


class SourceCaching(Spec):
    """Keep the rows Views read from this Connection for a while (see the data
    virtualization docs): fewer calls to the System, answers up to ttlSeconds old."""

    ttl_seconds: float = Field(gt=0, le=86400, description="Longest time rows are reused.")
    streams: list[str] = Field(
        default_factory=list, description="Only these streams (default: every stream)."
    )


class ConnectionSpec(Spec):
    system: Annotated[Name, Ref("System")] = Field(description="The System this reaches.")
    connector: Name = Field(description="Connector type, e.g. 'rest', 'memory'.")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Connector configuration; its schema comes from the connector type.",
    )
    triggers: list[Trigger] = Field(
        default_factory=list,
        description="Where this System starts events: an outbox table, a webhook, a poll.",
    )
    cache: SourceCaching | None = Field(
        default=None, description="Reuse rows Views read from this Connection."
    )

    @field_validator("triggers")
    @classmethod
    def _names_unique(cls, triggers: list[Trigger]) -> list[Trigger]:
        names = [t.name for t in triggers]
        if twice := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"trigger names must be unique: {', '.join(twice)}")
        return triggers


@register_kind
class Connection(Resource):
    kind: Literal["Connection"] = "Connection"
    metadata: ScopedMetadata
    spec: ConnectionSpec
