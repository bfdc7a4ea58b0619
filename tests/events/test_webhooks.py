"""Standard Webhooks signatures: what the hub sends verifies by the specification's
arithmetic done here by hand, rotation signs twice, and tampering, other secrets and
stale timestamps are refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from isthmus.events.webhooks import (
    BadWebhookSecret,
    SignatureRefused,
    new_secret,
    signed_headers,
    verify,
)

BODY = b'{"specversion":"1.0","id":"evt-1","data":{"id":"c-1"}}'


def by_hand(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def as_text(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in headers}


def test_a_signature_is_the_specifications_hmac() -> None:
    secret = new_secret()
    headers = as_text(signed_headers([secret], "evt-1", BODY))
    assert headers["webhook-id"] == "evt-1"
    expected = by_hand(secret, "evt-1", headers["webhook-timestamp"], BODY)
    assert headers["webhook-signature"] == expected
    verify(secret, headers, BODY)


def test_during_rotation_both_secrets_sign() -> None:
    old, new = new_secret(), new_secret()
    headers = as_text(signed_headers([old, new], "evt-2", BODY))
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(old, headers, BODY)  # receivers not yet switched
    verify(new, headers, BODY)  # and those that have


def test_tampering_other_secrets_and_stale_timestamps_are_refused() -> None:
    secret = new_secret()
    headers = as_text(signed_headers([secret], "evt-3", BODY))
    with pytest.raises(SignatureRefused):
        verify(secret, headers, BODY.replace(b"c-1", b"c-2"))
    with pytest.raises(SignatureRefused):
        verify(new_secret(), headers, BODY)
    with pytest.raises(SignatureRefused):
        verify(secret, {**headers, "webhook-id": "evt-4"}, BODY)
    stale = as_text(signed_headers([secret], "evt-3", BODY, datetime.now(UTC) - timedelta(hours=1)))
    with pytest.raises(SignatureRefused):
        verify(secret, stale, BODY)
    with pytest.raises(SignatureRefused):
        verify(secret, {**headers, "webhook-signature": "garbage"}, BODY)
    with pytest.raises(SignatureRefused):
        verify(secret, {}, BODY)


def test_weak_or_malformed_secrets_are_refused() -> None:
    with pytest.raises(BadWebhookSecret):
        signed_headers(["whsec_" + base64.b64encode(b"short").decode()], "x", BODY)
    with pytest.raises(BadWebhookSecret):
        signed_headers(["whsec_not base64!"], "x", BODY)
