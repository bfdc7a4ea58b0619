"""Connection: how the hub reaches one System in one Environment."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from isthmus.model.base import Name, Ref, Resource, ScopedMetadata, Spec
from isthmus.model.registry import register_kind


class ConnectionSpec(Spec):
    system: Annotated[Name, Ref("System")] = Field(description="The System this reaches.")
    connector: Name = Field(description="Connector type, e.g. 'rest', 'memory'.")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Connector configuration; its schema comes from the connector type.",
    )


@register_kind
class Connection(Resource):
    kind: Literal["Connection"] = "Connection"
    metadata: ScopedMetadata
    spec: ConnectionSpec
