"""Resource kinds. Importing this package registers every built-in kind."""

from __future__ import annotations

from isthmus.model.api import Api, ApiVersion, OperationTarget, ProxyTarget, Route, ViewTarget
from isthmus.model.app import App
from isthmus.model.base import (
    Metadata,
    OwnedMetadata,
    Reference,
    Resource,
    ResourceKey,
    ScopedMetadata,
    SecretRef,
    references,
)
from isthmus.model.connection import Connection
from isthmus.model.event_type import EventType, EventVersion
from isthmus.model.plan import Plan
from isthmus.model.registry import (
    json_schema_document,
    json_schemas,
    kind_by_plural,
    kind_of,
    kinds,
    register_kind,
)
from isthmus.model.subscription import Subscription
from isthmus.model.system import System
from isthmus.model.view import View

__all__ = [
    "Api",
    "ApiVersion",
    "App",
    "Connection",
    "EventType",
    "EventVersion",
    "Metadata",
    "OperationTarget",
    "OwnedMetadata",
    "Plan",
    "ProxyTarget",
    "Reference",
    "Resource",
    "ResourceKey",
    "Route",
    "ScopedMetadata",
    "SecretRef",
    "Subscription",
    "System",
    "View",
    "ViewTarget",
    "json_schema_document",
    "json_schemas",
    "kind_by_plural",
    "kind_of",
    "kinds",
    "references",
    "register_kind",
]
