"""Signed webhooks, as the Standard Webhooks specification has them.

Each delivery carries ``webhook-id`` (the event's id: a receiver that remembers it
ignores a redelivery), ``webhook-timestamp`` (seconds) and ``webhook-signature``:
``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body`` under the shared secret
(``whsec_`` and base64). While a secret is being rotated the hub signs with the old and
the new one, space-separated, so receivers can switch at their own pace. Signing and
checking use the specification's own package (``standardwebhooks``).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from isthmus.errors import FatalError, Unauthenticated

PREFIX = "whsec_"


class BadWebhookSecret(FatalError):
    status = 422
    code = "bad-webhook-secret"
    title = "Not a webhook signing secret"
    remediation = "Use 'whsec_' followed by base64 of at least 24 random bytes (new_secret())."


class SignatureRefused(Unauthenticated):
    code = "webhook-signature-refused"
    title = "The webhook's signature does not verify"
    remediation = (
        "Sign 'id.timestamp.body' with HMAC-SHA256 under the shared secret, as Standard "
        "Webhooks does, and send webhook-id, webhook-timestamp and webhook-signature."
    )


def new_secret() -> str:
    """A fresh signing secret: 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _webhook(secret: str) -> Webhook:
    try:
        raw = base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except binascii.Error:
        raise BadWebhookSecret("The webhook secret is not base64 after 'whsec_'.") from None
    if len(raw) < 24:
        raise BadWebhookSecret("The webhook secret is shorter than 24 bytes.")
    return Webhook(raw)


def signed_headers(
    secrets_: Sequence[str], message_id: str, body: bytes, now: datetime | None = None
) -> list[tuple[bytes, bytes]]:
    """The three headers for ``body``, signed with every secret in ``secrets_``."""
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    text = body.decode()
    signatures = " ".join(_webhook(s).sign(message_id, at, text) for s in secrets_)
    return [
        (b"webhook-id", message_id.encode()),
        (b"webhook-timestamp", str(int(at.timestamp())).encode()),
        (b"webhook-signature", signatures.encode()),
    ]


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """Refuse ``body`` unless one of its signatures is ``secret``'s and its timestamp is
    within five minutes (the specification's tolerance against replays)."""
    try:
        _webhook(secret).verify(body, dict(headers), json_parse=False)
    except (WebhookVerificationError, ValueError, binascii.Error, UnicodeDecodeError):
        raise SignatureRefused("The webhook's signature or timestamp does not verify.") from None
