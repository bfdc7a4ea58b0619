"""The AsyncAPI 3.0 document of the hub's events: what a consumer needs to find and read them.

One channel per EventType, its address ``{environment}.NAME`` (the Environment a
parameter); one message per version — the CloudEvents envelope as it travels, its
``type`` and ``dataschema`` fixed and its ``data`` the version's schema; and one ``send``
operation per EventType saying the hub puts those events on the channel, naming the Api
routes Apps publish them through; and a ``receive`` operation per Subscription, so the
document says who consumes what.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from isthmus import __version__
from isthmus.events.naming import schema_uri
from isthmus.model import Api, Connection, EventType, EventVersion, Subscription
from isthmus.model.api import EventTarget
from isthmus.store import Store

CONTENT_TYPE = "application/cloudevents+json"


async def events_document(store: Store) -> dict[str, Any]:
    """The document for what the store holds now."""
    resources = await store.resources.list()
    return asyncapi_document(
        [r for r in resources if isinstance(r, EventType)],
        [r for r in resources if isinstance(r, Api)],
        [r.metadata.environment for r in resources if isinstance(r, Connection)],
        [r for r in resources if isinstance(r, Subscription)],
    )


def asyncapi_document(
    event_types: Iterable[EventType],
    apis: Iterable[Api],
    environments: Iterable[str],
    subscriptions: Iterable[Subscription] = (),
) -> dict[str, Any]:
    routes = _publishing_routes(apis)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    envs = sorted(set(environments)) or ["sandbox", "production"]
    event_types_seen = sorted(event_types, key=lambda e: e.metadata.name)
    for event_type in event_types_seen:
        name = event_type.metadata.name
        channels[name] = {
            "address": "{environment}." + name,
            "title": event_type.metadata.description or name,
            "description": f"Owner: {event_type.metadata.owner}. "
            f"Compatibility: {event_type.spec.compatibility}.",
            "parameters": {
                "environment": {"enum": envs, "description": "The Environment of the events."}
            },
            "messages": {
                f"v{v.version}": _message(event_type, v) for v in event_type.spec.versions
            },
        }
        published = routes.get(name, [])
        operations[f"publish-{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"The hub publishes {event_type.cloudevents_type} events.",
            "description": "Apps publish them through "
            + (", ".join(f"POST {r}" for r in published) if published else "no Api route yet")
            + ".",
            "messages": [
                {"$ref": f"#/channels/{name}/messages/v{v.version}"}
                for v in event_type.spec.versions
            ],
        }
    known = {e.metadata.name for e in event_types_seen}
    for subscription in sorted(
        subscriptions, key=lambda s: (s.metadata.name, s.metadata.environment)
    ):
        meta, spec = subscription.metadata, subscription.spec
        if spec.event_type not in known:
            continue
        operations[f"deliver-{meta.name}-{meta.environment}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{spec.event_type}"},
            "summary": f"Subscription {meta.name} ({meta.environment}) delivers them to "
            "its webhook" + (f", for {meta.owner}" if meta.owner else "") + ".",
            "description": "Signed as Standard Webhooks has it; at least once"
            + (f"; only events where {spec.filter}" if spec.filter else "")
            + (". Paused." if spec.paused else "."),
        }
    schemas: dict[str, Any] = {}
    for event_type in event_types_seen:
        for version in event_type.spec.versions:
            schemas.update(_components(_schema_name(event_type, version), version.data_schema))
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Isthmus events",
            "version": __version__,
            "description": "Every EventType of this hub, as CloudEvents 1.0 on its bus.",
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas},
    }


def _message(event_type: EventType, version: EventVersion) -> dict[str, Any]:
    ce_type = event_type.cloudevents_type
    message: dict[str, Any] = {
        "name": f"{event_type.metadata.name}.v{version.version}",
        "title": f"{ce_type} v{version.version}",
        "contentType": CONTENT_TYPE,
        "payload": {
            "type": "object",
            "required": ["specversion", "id", "source", "type", "dataschema", "data"],
            "properties": {
                "specversion": {"const": "1.0"},
                "id": {"type": "string"},
                "source": {"type": "string"},
                "type": {"const": ce_type},
                "time": {"type": "string", "format": "date-time"},
                "subject": {"type": "string"},
                "dataschema": {"const": schema_uri(event_type.metadata.name, version.version)},
                "isthmusapp": {"type": "string", "description": "The App that published it."},
                "data": {"$ref": f"#/components/schemas/{_schema_name(event_type, version)}"},
            },
        },
    }
    if version.description:
        message["description"] = version.description
    if version.deprecated:
        message["tags"] = [{"name": "deprecated", "description": "Still accepted; move on."}]
    return message


def _schema_name(event_type: EventType, version: EventVersion) -> str:
    return f"{event_type.metadata.name}.v{version.version}"


def _components(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A version's data schema as components: its own ``$defs`` beside it, and every
    local ``$ref`` (``#``, ``#/$defs/X``) rewritten to point where they now are."""
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    body = {k: v for k, v in schema.items() if k not in ("$defs", "definitions")}

    def moved(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: moved(v) for k, v in node.items()}
            ref = node.get("$ref")
            if isinstance(ref, str) and (ref == "#" or ref.startswith("#/")):
                parts = ref[2:].split("/", 1) if ref != "#" else []
                if not parts:
                    out["$ref"] = f"#/components/schemas/{name}"
                elif parts[0] in ("$defs", "definitions") and len(parts) == 2:
                    out["$ref"] = f"#/components/schemas/{name}.{parts[1]}"
            return out
        if isinstance(node, list):
            return [moved(item) for item in node]
        return node

    found = {name: moved(body)}
    for key, definition in defs.items():
        found[f"{name}.{key}"] = moved(definition)
    return found


def _publishing_routes(apis: Iterable[Api]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for api in apis:
        for version in api.spec.versions:
            if version.status in ("draft", "retired"):
                continue
            for route in version.routes:
                if isinstance(route.target, EventTarget):
                    path = f"/{api.metadata.name}/{version.name}{route.path}"
                    found.setdefault(route.target.event_type, []).append(path)
    return found
