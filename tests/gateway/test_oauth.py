"""OAuth 2.0 client credentials and the RFC 8725 attack matrix against access tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import update

from isthmus.store import Change
from isthmus.store.tables import signing_keys
from tests.gateway.conftest import ISSUER, Running, resource
from tests.helpers import Reply, assert_problem


async def token_reply(
    running: Running,
    form: dict[str, str],
    *,
    basic: tuple[str, str] | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> Reply:
    headers = {"Content-Type": content_type}
    if basic is not None:
        pair = f"{basic[0]}:{basic[1]}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    return await running.call(
        "POST", "/oauth/token", headers=headers, body=urlencode(form).encode()
    )


async def get_token(running: Running, audience: str = "customers") -> str:
    reply = await token_reply(
        running,
        {"grant_type": "client_credentials", "audience": audience},
        basic=("portal", running.key),
    )
    assert reply.status == 200, reply.body
    return str(reply.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def active_key(running: Running) -> str:
    snapshot = running.hub.snapshots.current
    assert snapshot is not None
    return next(iter(snapshot.credentials))


def signer(running: Running) -> Any:
    snapshot = running.hub.snapshots.current
    assert snapshot is not None
    assert snapshot.token_keys.signer is not None
    return snapshot.token_keys.signer


def valid_claims(running: Running, **changes: Any) -> dict[str, Any]:
    """The claims of a good token for 'portal' on 'customers', with ``changes`` (None drops)."""
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "sub": "portal",
        "aud": "customers",
        "isthmus_env": "sandbox",
        "isthmus_key": active_key(running),
        "scope": "customers stock",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": "x",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def forge(running: Running, header: dict[str, Any] | None = None, **claims: Any) -> str:
    """A token signed with the hub's real key, with the header and claims given."""
    key = signer(running)
    body = valid_claims(running, **claims)
    head = {"alg": key.alg, "kid": key.kid, "typ": "at+jwt", **(header or {})}
    return jwt.encode(head, body, key.key, algorithms=[key.alg])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_client_credentials_give_a_token_that_calls_the_api(running: Running) -> None:
    reply = await token_reply(
        running,
        {"grant_type": "client_credentials", "audience": "customers"},
        basic=("portal", running.key),
    )
    assert reply.status == 200
    assert reply.headers["cache-control"] == "no-store"
    body = reply.json()
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 900
    assert body["scope"] == "customers stock"
    header = orjson.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[0] + "=="))
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    jwks = (await running.get("/.well-known/jwks.json")).json()
    assert [k["kid"] for k in jwks["keys"]] == [header["kid"]]
    assert all("d" not in k for k in jwks["keys"])  # public halves only
    call = await running.get("/customers/v2/customers", headers=bearer(body["access_token"]))
    assert call.status == 200


async def test_form_credentials_and_the_metadata_document(running: Running) -> None:
    reply = await token_reply(
        running,
        {
            "grant_type": "client_credentials",
            "client_id": "portal",
            "client_secret": running.key,
            "resource": "stock",
        },
    )
    assert reply.status == 200
    token = reply.json()["access_token"]
    assert (await running.get("/stock/v1/items", headers=bearer(token))).status == 200
    meta = (await running.get("/.well-known/oauth-authorization-server")).json()
    assert meta["issuer"] == ISSUER
    assert meta["token_endpoint"] == ISSUER + "/oauth/token"
    assert meta["grant_types_supported"] == ["client_credentials"]


@pytest.mark.parametrize(
    ("form", "basic", "content_type", "status", "error"),
    [
        (
            {"grant_type": "client_credentials", "audience": "customers"},
            ("portal", "wrong"),
            None,
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "client_credentials", "audience": "customers"},
            ("other", "KEY"),
            None,
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "password", "audience": "customers"},
            ("portal", "KEY"),
            None,
            400,
            "unsupported_grant_type",
        ),
        (
            {"grant_type": "client_credentials", "audience": "customers"},
            ("portal", "KEY"),
            "application/json",
            400,
            "invalid_request",
        ),
        (
            {"grant_type": "client_credentials", "audience": "billing"},
            ("portal", "KEY"),
            None,
            400,
            "invalid_target",
        ),
        ({"grant_type": "client_credentials"}, ("portal", "KEY"), None, 400, "invalid_request"),
    ],
)
async def test_token_requests_refused_with_oauth_errors(
    running: Running,
    form: dict[str, str],
    basic: tuple[str, str],
    content_type: str | None,
    status: int,
    error: str,
) -> None:
    credentials = (basic[0], running.key if basic[1] == "KEY" else basic[1])
    reply = await token_reply(
        running,
        form,
        basic=credentials,
        content_type=content_type or "application/x-www-form-urlencoded",
    )
    body = assert_problem(reply, status, "oauth-error")
    assert body["error"] == error
    assert running.key not in reply.body.decode()


def hs256_with_public_key(running: Running) -> str:
    key = signer(running)
    public = key.key.as_pem(private=False)
    head = b64(orjson.dumps({"alg": "HS256", "kid": key.kid, "typ": "at+jwt"}))
    payload = b64(orjson.dumps(valid_claims(running)))
    signature = hmac.new(public, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return f"{head}.{payload}.{b64(signature)}"


def alg_none(running: Running) -> str:
    key = signer(running)
    head = b64(orjson.dumps({"alg": "none", "kid": key.kid, "typ": "at+jwt"}))
    payload = b64(orjson.dumps(valid_claims(running)))
    return f"{head}.{payload}."


def foreign_key(running: Running, kid: str | None = None) -> str:
    attacker = ECKey.generate_key("P-256")
    claims = valid_claims(running)
    head = {"alg": "ES256", "kid": kid or signer(running).kid, "typ": "at+jwt"}
    return jwt.encode(head, claims, attacker, algorithms=["ES256"])


def tampered(running: Running) -> str:
    head, _, signature = forge(running).split(".")
    payload = b64(orjson.dumps(valid_claims(running, isthmus_env="production")))
    return f"{head}.{payload}.{signature}"


ATTACKS = {
    "expired": lambda r: forge(r, exp=int(time.time()) - 120),
    "not yet valid": lambda r: forge(r, nbf=int(time.time()) + 600),
    "no exp": lambda r: forge(r, exp=None),
    "other issuer": lambda r: forge(r, iss="https://evil.example"),
    "other audience": lambda r: forge(r, aud="stock"),
    "alg none": alg_none,
    "HMAC with the public key": hs256_with_public_key,
    "unknown kid": lambda r: foreign_key(r, kid="not-ours"),
    "our kid, foreign key": foreign_key,
    "jku header": lambda r: forge(r, {"jku": "https://evil.example/jwks.json"}),
    "x5u header": lambda r: forge(r, {"x5u": "https://evil.example/cert.pem"}),
    "embedded jwk": lambda r: forge(r, {"jwk": {"kty": "EC"}}),
    "typ JWT": lambda r: forge(r, {"typ": "JWT"}),
    "tampered payload": tampered,
    "garbage": lambda r: "a.b.c",
    "oversized": lambda r: forge(r, pad="x" * 9000),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_the_attack_matrix_is_refused(running: Running, attack: str) -> None:
    assert (
        await running.get("/customers/v2/customers", headers=bearer(forge(running)))
    ).status == 200
    reply = await running.get("/customers/v2/customers", headers=bearer(ATTACKS[attack](running)))
    body = assert_problem(reply, 401, "invalid-token")
    assert body["error"] == "invalid_token"
    assert 'error="invalid_token"' in reply.headers["www-authenticate"]


async def test_a_token_stops_working_with_its_app_or_grant(running: Running) -> None:
    token = await get_token(running, "stock")
    app = resource({"kind": "App", "metadata": {"name": "portal"}, "spec": {"apis": ["customers"]}})
    await running.hub.store.resources.apply([Change("update", app.key, app)])
    await running.hub.snapshots.refresh()
    assert_problem(await running.get("/stock/v1/items", headers=bearer(token)), 403, "not-granted")
    await running.hub.store.resources.apply([Change("delete", app.key, None)])
    await running.hub.snapshots.refresh()
    assert_problem(
        await running.get("/stock/v1/items", headers=bearer(token)), 401, "invalid-token"
    )


async def test_rotation_keeps_old_tokens_until_they_expire(running: Running) -> None:
    old = await get_token(running)
    await running.hub.tokens.rotate()
    await running.hub.snapshots.refresh()
    assert len((await running.get("/.well-known/jwks.json")).json()["keys"]) == 2
    assert (await running.get("/customers/v2/customers", headers=bearer(old))).status == 200
    new = await get_token(running)
    assert new.split(".")[0] != old.split(".")[0]  # another kid
    # once the retired key is older than any token it signed, it is gone
    async with running.hub.store.engine.begin() as conn:
        await conn.execute(
            update(signing_keys)
            .where(signing_keys.c.retired_at.is_not(None))
            .values(retired_at=datetime.now(UTC) - timedelta(hours=1))
        )
    await running.hub.snapshots.refresh(force=True)
    assert len((await running.get("/.well-known/jwks.json")).json()["keys"]) == 1
    assert_problem(
        await running.get("/customers/v2/customers", headers=bearer(old)), 401, "invalid-token"
    )
    assert (await running.get("/customers/v2/customers", headers=bearer(new))).status == 200


async def test_signing_keys_through_the_admin_api(running: Running) -> None:
    listed = (await running.admin_call("GET", "/admin/v1/signing-keys")).json()
    assert [k["alg"] for k in listed] == ["ES256"]
    assert "private" not in str(listed)
    reply = await running.admin_call("POST", "/admin/v1/signing-keys/rotate")
    assert reply.status == 201
    jwks = (await running.get("/.well-known/jwks.json")).json()
    assert reply.json()["kid"] in [k["kid"] for k in jwks["keys"]]
    token = await get_token(running)
    header = orjson.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["kid"] == reply.json()["kid"]


async def test_ed25519_keys(tmp_path: Any, backend: Any) -> None:
    from isthmus.gateway.app import Gateway
    from isthmus.hub import Hub
    from isthmus.settings import Settings
    from tests.gateway.conftest import project
    from tests.helpers import asgi_call

    settings = Settings(home=tmp_path / "h", token_algorithm="Ed25519", token_issuer=ISSUER)
    async with Hub(settings) as hub:
        changes = [Change("create", r.key, r) for r in map(resource, project(backend.url))]
        await hub.store.resources.apply(changes)
        _, key = await hub.store.keys.create("portal", "sandbox")
        await hub.snapshots.refresh()
        gateway = Gateway(hub.snapshots, hub.limiter, issuer=ISSUER)
        form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": "portal",
                "client_secret": key,
                "audience": "stock",
            }
        ).encode()
        reply = await asgi_call(
            gateway,
            "POST",
            "/oauth/token",
            body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        token = reply.json()["access_token"]
        header = orjson.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        assert header["alg"] == "Ed25519"
        reply = await asgi_call(gateway, "GET", "/stock/v1/items", headers=bearer(token))
        assert reply.status == 200


async def test_token_endpoint_protocol_details(running: Running) -> None:
    reply = await token_reply(
        running, {"grant_type": "client_credentials"}, basic=("portal", "wrong")
    )
    assert reply.headers["www-authenticate"].startswith("Basic")
    reply = await running.get("/oauth/token")
    assert_problem(reply, 405, "oauth-error")
    assert reply.headers["allow"] == "POST"
    reply = await token_reply(
        running,
        {"grant_type": "client_credentials", "audience": "stock", "client_id": "portal"},
        basic=("portal", running.key),
    )
    assert assert_problem(reply, 400, "oauth-error")["error"] == "invalid_request"
