"""EventType: a named, owned, versioned event schema with a compatibility mode.

Events of a type travel as CloudEvents 1.0 whose ``data`` follows one of its versions'
JSON Schemas; ``dataschema`` names that version. A new version must be compatible with
the earlier ones as the mode says (:mod:`isthmus.events.compatibility`); a version once
applied keeps its schema, and may be deprecated rather than removed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from isthmus.events.compatibility import Mode
from isthmus.model.api import check_schema
from isthmus.model.base import OwnedMetadata, Resource, Spec
from isthmus.model.registry import register_kind


class EventVersion(Spec):
    version: int = Field(ge=1, description="1, 2, … in the order they were added.")
    data_schema: dict[str, Any] = Field(
        alias="schema", description="JSON Schema (2020-12) of the events' data."
    )
    deprecated: bool = Field(
        default=False, description="Still accepted, with a Deprecation header to publishers."
    )
    description: str | None = None

    @field_validator("data_schema")
    @classmethod
    def _checkable(cls, schema: dict[str, Any]) -> dict[str, Any]:
        check_schema(schema)
        return schema


class EventSeries(Spec):
    """Keep this EventType's events as a time series Views can read (the stream
    ``events.<event type>``: id, time, subject, the data's top-level fields, data)."""

    keep_days: int = Field(default=30, ge=1, le=3650, description="How long events are kept.")


STREAM_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.[^.\s]+$"


class EventTypeSpec(Spec):
    type: str | None = Field(
        default=None,
        description="The CloudEvents 'type' (reverse-DNS, e.g. com.acme.crm.customer.created); "
        "the EventType's name when left out.",
    )
    compatibility: Mode = Field(
        default="BACKWARD", description="What a new version must keep working (see docs)."
    )
    versions: list[EventVersion] = Field(min_length=1)
    subject: str | None = Field(
        default=None,
        pattern=r"^(/[^/]*)+$",
        description="JSON Pointer into the data for the CloudEvents 'subject' (e.g. /id).",
    )
    ordering_key: str | None = Field(
        default=None,
        pattern=r"^(/[^/]*)+$",
        description="JSON Pointer into the data whose value orders deliveries per key "
        "for Subscriptions that ask for ordering (default: the subject).",
    )
    series: EventSeries | None = Field(
        default=None, description="Keep the events as a time series for Views."
    )
    changes: list[Annotated[str, StringConstraints(pattern=STREAM_PATTERN)]] = Field(
        default_factory=list,
        description="Streams ('connection.stream') an event of this type says changed: rows "
        "of them the hub keeps for Views are dropped when one is published.",
    )

    @field_validator("versions")
    @classmethod
    def _in_order(cls, versions: list[EventVersion]) -> list[EventVersion]:
        numbers = [v.version for v in versions]
        if numbers != sorted(set(numbers)):
            raise ValueError("versions must be listed once each, in increasing order")
        return versions


@register_kind
class EventType(Resource):
    kind: Literal["EventType"] = "EventType"
    metadata: OwnedMetadata
    spec: EventTypeSpec

    @property
    def cloudevents_type(self) -> str:
        return self.spec.type or self.metadata.name

    def latest(self) -> EventVersion:
        return self.spec.versions[-1]
