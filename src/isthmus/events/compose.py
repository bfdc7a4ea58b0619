"""Making an event of an EventType: the data checked against a version's schema, the
CloudEvent completed with what the hub vouches for, encoded as the bus carries it.

The gateway's event routes and the triggers (outbox relay, webhook receiver, poller)
publish through here, so an event looks the same whichever way it came in.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from isthmus.events.base import Message
from isthmus.events.naming import STRUCTURED, schema_uri, topic_of
from isthmus.gateway.schemas import SchemaCheck
from isthmus.model import EventType

# attributes a publisher may not set: the hub vouches for them
HUB_OWNED = ("dataschema",)


@dataclass(frozen=True)
class CompiledEvent:
    """What is published: one version of one EventType."""

    name: str
    type: str
    version: int
    check: SchemaCheck
    dataschema: str
    subject: str | None  # JSON pointer into the data
    key: str | None
    deprecated: bool

    @classmethod
    def of(cls, event_type: EventType, version: int | None = None) -> CompiledEvent:
        chosen = (
            event_type.latest()
            if version is None
            else next(v for v in event_type.spec.versions if v.version == version)
        )
        spec = event_type.spec
        return cls(
            event_type.metadata.name,
            event_type.cloudevents_type,
            chosen.version,
            SchemaCheck(chosen.data_schema),
            schema_uri(event_type.metadata.name, chosen.version),
            spec.subject,
            spec.ordering_key or spec.subject,
            chosen.deprecated,
        )

    def problems(self, data: Any) -> list[dict[str, str]]:
        """Where ``data`` breaks this version's schema, each with its JSON pointer."""
        return self.check.problems(data, "data")

    def misfit(self, data: Any) -> str | None:
        """Why ``data`` does not fit, in one line for a dead letter (None: it fits)."""
        problems = self.problems(data)
        if not problems:
            return None
        return "; ".join(f"{p['pointer']}: {p['message']}" for p in problems[:5])

    def compose(
        self,
        environment: str,
        data: Any,
        source: str,
        attributes: Mapping[str, Any] | None = None,
        extensions: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, Any], Message]:
        """The completed CloudEvent of checked ``data`` and the message that carries it.
        ``attributes`` are what a publisher set (its ``id``, ``time``, ``subject`` and
        extensions are kept); ``extensions`` are the hub's own, set last."""
        given = {k: v for k, v in (attributes or {}).items() if k not in HUB_OWNED}
        event: dict[str, Any] = {
            "specversion": "1.0",
            "id": given.pop("id", None) or uuid.uuid4().hex,
            "source": given.pop("source", None) or source,
            "type": self.type,
            "time": given.pop("time", None) or datetime.now(UTC).isoformat(),
            "datacontenttype": "application/json",
            "dataschema": self.dataschema,
        }
        subject = given.pop("subject", None) or pointer(data, self.subject)
        if subject is not None:
            event["subject"] = subject
        for fixed in ("specversion", "type", "datacontenttype"):
            given.pop(fixed, None)
        event |= {k: v if isinstance(v, str) else str(v) for k, v in given.items()}
        event |= dict(extensions or {})
        event["data"] = data
        message = Message(
            topic_of(environment, self.name),
            orjson.dumps(event),
            {"ce-id": event["id"], "ce-type": self.type, "content-type": STRUCTURED.decode()},
            pointer(data, self.key),
        )
        return event, message


def pointer(data: Any, path: str | None) -> str | None:
    """The value at JSON pointer ``path`` in ``data`` as text (None where there is none)."""
    if path is None:
        return None
    value = data
    for part in path.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value if isinstance(value, str) else orjson.dumps(value).decode()
