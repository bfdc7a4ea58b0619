"""System: something outside the hub that Isthmus connects to. Always has an owner."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from isthmus.model.base import OwnedMetadata, Resource, Spec
from isthmus.model.registry import register_kind


class SystemSpec(Spec):
    category: Literal["saas", "database", "legacy", "iot", "internal", "other"] = "other"
    vendor: str | None = Field(default=None, description="Product behind it, e.g. 'Salesforce'.")
    documentation_url: str | None = None


@register_kind
class System(Resource):
    kind: Literal["System"] = "System"
    metadata: OwnedMetadata
    spec: SystemSpec = Field(default_factory=SystemSpec)
