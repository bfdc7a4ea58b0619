"""Names every part of the hub agrees on for events: where an EventType's events
travel, how a version is named in ``dataschema``, how they are encoded."""

from __future__ import annotations

STRUCTURED = b"application/cloudevents+json"  # events travel as structured CloudEvents


def topic_of(environment: str, event_type: str) -> str:
    """The bus topic of ``event_type``'s events in ``environment``."""
    return f"{environment}.{event_type}"


def schema_uri(name: str, version: int) -> str:
    """The ``dataschema`` of events of ``name`` at ``version``: a stable URN."""
    return f"urn:isthmus:eventtype:{name}:v{version}"


TRIGGER_PREFIX = "trigger:"  # Subscription names cannot hold ':', so no name is taken


def trigger_name(environment: str, connection: str, trigger: str) -> str:
    """How a trigger is named in leases, dead letters and logs."""
    return f"{TRIGGER_PREFIX}{environment}/{connection}/{trigger}"
