"""Webhook triggers: a System POSTs to the gateway, the hub checks the signature and
publishes an event of the trigger's EventType.

``POST /triggers/ENVIRONMENT/CONNECTION/TRIGGER``. The signature is the caller's
credential (there is no API key): Standard Webhooks headers, or an HMAC-SHA256 of the
body in one header as GitHub, Shopify and many others send it. Nothing is published for
a request that does not verify, is not JSON, or whose data (after the trigger's JSONata
mapping) does not fit the EventType. The System's delivery id becomes the event's id, so
a delivery the System retries is the same event to every consumer. The hmac-sha256
scheme signs the body alone — no timestamp — so a captured request can be sent again;
prefer Standard Webhooks (five minutes' tolerance) where the System offers it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass, replace

import structlog

from isthmus.connectors.base import SecretResolver
from isthmus.errors import (
    ConfigurationError,
    IsthmusError,
    MethodNotAllowed,
    NotFound,
    ValidationFailed,
)
from isthmus.events.base import Bus
from isthmus.events.compose import CompiledEvent
from isthmus.events.naming import trigger_name
from isthmus.events.webhooks import SignatureRefused, verify
from isthmus.gateway.http import GatewayRequest, GatewayResponse, json_response
from isthmus.gateway.validation import parse_json_body
from isthmus.mapping import Mapping, MappingError
from isthmus.model import Connection, EventType
from isthmus.model.trigger import WebhookSource

PREFIX = "/triggers/"
log = structlog.get_logger(__name__)


class HmacSignatureRefused(SignatureRefused):
    remediation = (
        "Send the HMAC-SHA256 of the exact body under the shared secret in the header the "
        "trigger names, written as it says (hex or base64, after its prefix)."
    )


@dataclass(frozen=True)
class CompiledHook:
    connection: str
    environment: str
    name: str
    source: WebhookSource
    event: CompiledEvent
    mapping: Mapping | None
    secret: str | None = None  # resolved when the snapshot is built; None: unusable


def compile_hooks(
    connections: list[Connection], event_types: dict[str, EventType]
) -> dict[str, CompiledHook]:
    """Each webhook trigger by the path it is received on."""
    hooks: dict[str, CompiledHook] = {}
    for connection in connections:
        environment = connection.metadata.environment
        for trigger in connection.spec.triggers:
            event_type = event_types.get(trigger.event_type)
            if trigger.webhook is None or event_type is None:
                continue
            path = f"{PREFIX}{environment}/{connection.metadata.name}/{trigger.name}"
            mapping = Mapping(trigger.webhook.mapping) if trigger.webhook.mapping else None
            hooks[path] = CompiledHook(
                connection.metadata.name,
                environment,
                trigger.name,
                trigger.webhook,
                CompiledEvent.of(event_type),
                mapping,
            )
    return hooks


async def with_secrets(
    hooks: dict[str, CompiledHook], secrets: SecretResolver
) -> dict[str, CompiledHook]:
    """The hooks with their secrets from the vault, read once per snapshot (a changed
    secret changes the store's revision, so the next snapshot reads it again) rather
    than on every request anyone can send."""
    resolved = {}
    for path, hook in hooks.items():
        try:
            resolved[path] = replace(hook, secret=await secrets.resolve(hook.source.secret))
        except IsthmusError:
            log.warning(
                "trigger.secret_unusable",
                trigger=trigger_name(hook.environment, hook.connection, hook.name),
                secret=hook.source.secret,
            )
            resolved[path] = hook
    return resolved


async def receive(
    request: GatewayRequest, hooks: dict[str, CompiledHook], bus: Bus
) -> GatewayResponse:
    hook = hooks.get(request.path)
    if hook is None:
        raise NotFound("No webhook trigger is received at this path.")
    request.api, request.route = f"trigger:{hook.connection}", hook.name  # for the access log
    if request.method != "POST":
        raise MethodNotAllowed("Webhook triggers take POST.", headers={"Allow": "POST"})
    if hook.secret is None:
        raise _cannot_verify(hook)
    try:
        delivery_id = _verified(hook.source, hook.secret, request)
    except SignatureRefused:
        raise
    except IsthmusError:  # a malformed secret: which, and why, is for operators
        name = trigger_name(hook.environment, hook.connection, hook.name)
        log.warning("trigger.secret_malformed", trigger=name)
        raise _cannot_verify(hook) from None
    received = parse_json_body(request)
    try:
        data = hook.mapping(received) if hook.mapping else received
    except MappingError as error:
        raise ValidationFailed(f"The trigger's mapping failed on this payload: {error}") from None
    problems = hook.event.problems(data)
    if problems:
        raise ValidationFailed(
            f"The payload does not fit {hook.event.name} v{hook.event.version}; "
            "nothing was published.",
            extensions={"errors": problems},
        )
    # the System's delivery id, in the trigger's own namespace: a retried delivery is the
    # same event, and two Systems' ids never collide
    attributes = {"id": _event_id(request.path, delivery_id)} if delivery_id else None
    event, message = hook.event.compose(
        hook.environment, data, f"/connections/{hook.connection}", attributes
    )
    await bus.publish([message])
    return json_response(202, {"id": event["id"], "type": hook.event.type})


def _event_id(path: str, delivery_id: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"isthmus:{path}#{delivery_id}").hex


def _cannot_verify(hook: CompiledHook) -> ConfigurationError:
    return ConfigurationError(
        "This webhook trigger cannot verify requests right now; nothing was published.",
        remediation="Try again later; the hub's operators have been told why.",
    )


def _verified(source: WebhookSource, secret: str, request: GatewayRequest) -> str | None:
    """Refuse a request whose signature does not verify; returns its delivery id."""
    if source.signature == "standard-webhooks":
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers}
        verify(secret, headers, request.body)
        return headers.get("webhook-id")
    sent = (request.header(source.header.lower().encode()) or b"").decode("latin-1").strip()
    digest = hmac.new(secret.encode(), request.body, hashlib.sha256).digest()
    expected = source.prefix + (
        digest.hex() if source.encoding == "hex" else base64.b64encode(digest).decode()
    )
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HmacSignatureRefused(f"The {source.header} signature does not verify.")
    if source.id_header is None:
        return None
    delivery = request.header(source.id_header.lower().encode())
    return delivery.decode("latin-1")[:200] if delivery else None
