"""Event routes: what an App POSTs becomes a CloudEvent of an EventType on the hub's bus.

Three ways in, as the CloudEvents HTTP binding has them: *structured* (the whole event
as ``application/cloudevents+json``), *binary* (``ce-*`` headers, the data as the body)
and, for tools that only send JSON, the *data alone*. The data is checked against the
EventType version's schema — every violation with its JSON pointer, nothing published —
then the hub completes the event (``id``, ``source``, ``type``, ``time``, ``subject``,
``dataschema`` naming the version) and publishes it to the topic of the caller's
Environment. The answer is ``202`` with the event's id once the bus has it.

Attributes a caller sets are text of bounded length (``MAX_ATTRIBUTE_LENGTH``, a time
``MAX_TIME_LENGTH``), checked as sent, before anything reads them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from cloudevents.core.exceptions import BaseCloudEventException

from isthmus.errors import BadRequest, ValidationFailed
from isthmus.events.base import Bus
from isthmus.events.compose import CompiledEvent
from isthmus.events.naming import STRUCTURED
from isthmus.gateway.http import GatewayRequest, GatewayResponse, json_response
from isthmus.gateway.validation import parse_json_body

MAX_ATTRIBUTE_LENGTH = 1024  # characters of an attribute a publisher sets (id, source, …)
MAX_TIME_LENGTH = 64  # characters of its 'time' (RFC 3339 needs at most about 35)


def _too_long(attributes: dict[str, Any]) -> list[dict[str, str]]:
    problems = []
    for name, value in attributes.items():
        if name in ("data", "data_base64") or not isinstance(value, str):
            continue  # the data is bounded by the body's size and checked by its schema
        longest = MAX_TIME_LENGTH if name == "time" else MAX_ATTRIBUTE_LENGTH
        if len(value) > longest:
            problems.append(
                {"pointer": f"/{name}", "message": f"is longer than {longest} characters"}
            )
    return problems


def _check_lengths(request: GatewayRequest, binary: bool) -> None:
    """Refuse attributes longer than the gateway takes, as the caller sent them."""
    if binary:
        sent: dict[str, Any] = {
            k.decode("latin-1")[3:]: v.decode("latin-1")
            for k, v in request.headers
            if k.startswith(b"ce-")
        }
    else:
        try:
            parsed = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return  # not JSON: the SDK says so
        sent = parsed if isinstance(parsed, dict) else {}
    problems = _too_long(sent)
    if problems:
        raise ValidationFailed(
            "The event has attributes longer than the gateway takes; nothing was published.",
            extensions={"errors": problems},
        )


def _received(request: GatewayRequest) -> tuple[dict[str, Any], Any]:
    """The attributes the caller set and the data, whichever way it was sent."""
    content_type = (request.header(b"content-type") or b"").split(b";")[0].strip().lower()
    binary = request.header(b"ce-specversion") is not None
    if content_type == STRUCTURED or binary:
        _check_lengths(request, binary)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers}
        if not binary:  # the SDK reads any ce-* header as binary mode
            headers = {k: v for k, v in headers.items() if not k.startswith("ce-")}
        try:
            event = from_http_event(HTTPMessage(headers, request.body))
        except (BaseCloudEventException, ValueError, TypeError, KeyError) as exc:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            raise BadRequest(
                f"Not a CloudEvent: {reason}",
                remediation="Send a CloudEvents 1.0 event (structured or binary), or the "
                "data alone as application/json.",
            ) from None
        attributes = {
            k: v.isoformat() if isinstance(v, datetime) else v
            for k, v in event.get_attributes().items()
        }
        data = event.get_data()
        if isinstance(data, bytes):  # data the SDK left undecoded (no JSON content type)
            try:
                data = orjson.loads(data)
            except orjson.JSONDecodeError:
                raise BadRequest("The event's data is not JSON.") from None
        return attributes, data
    return {}, parse_json_body(request)


async def publish(
    request: GatewayRequest, event: CompiledEvent, bus: Bus, environment: str
) -> GatewayResponse:
    attributes, data = _received(request)
    problems = event.problems(data)
    if problems:
        raise ValidationFailed(
            f"The event's data does not fit {event.name} v{event.version}; nothing was published.",
            extensions={"errors": problems},
        )
    if attributes.get("type", event.type) != event.type:
        raise ValidationFailed(
            f"This route publishes '{event.type}' events, not '{attributes['type']}'.",
            extensions={"errors": [{"pointer": "/type", "message": f"must be {event.type}"}]},
        )
    completed, message = event.compose(
        environment, data, f"/apps/{request.app}", attributes, {"isthmusapp": request.app}
    )
    await bus.publish([message])
    return json_response(
        202,
        {"id": completed["id"], "type": event.type, "dataschema": event.dataschema},
        [(b"deprecation", b"true")] if event.deprecated else None,
    )
