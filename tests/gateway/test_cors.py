"""CORS: an Api's allowed origins get preflights answered before authentication and
their origin named on every answer, problems included; other origins get neither."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from isthmus.model import App, ResourceKey
from isthmus.model.cors import Cors
from isthmus.store import Change
from tests.gateway.conftest import ISSUER, Backend, Running, resource
from tests.helpers import assert_problem

PAGE = "https://apps.example.com"
LOCAL = "http://localhost:3000"
PREFLIGHT = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-api-key"}


async def browser_api(running: Running, cors: dict[str, Any] | None) -> None:
    """Api 'browser' (with ``cors``) over the backend, granted to the App 'portal'."""
    spec: dict[str, Any] = {
        "versions": [
            {
                "name": "v1",
                "routes": [
                    {"path": "/customers", "target": {"type": "proxy", "connection": "crm"}}
                ],
            }
        ]
    }
    if cors is not None:
        spec["cors"] = cors
    api = resource({"kind": "Api", "metadata": {"name": "browser"}, "spec": spec})
    store = running.hub.store.resources
    app = await store.get(ResourceKey("App", "portal"))
    assert isinstance(app, App)
    granted = resource(
        app.canonical() | {"spec": {**app.canonical()["spec"], "apis": [*app.spec.apis, "browser"]}}
    )
    exists = await store.get(api.key) is not None
    await store.apply(
        [
            Change("update" if exists else "create", api.key, api),
            Change("update", granted.key, granted),
        ]
    )
    await running.hub.snapshots.refresh()


@pytest.fixture
async def allowed(running: Running) -> Running:
    await browser_api(running, {"allowOrigins": [PAGE, LOCAL], "maxAgeSeconds": 120})
    return running


async def test_a_preflight_from_an_allowed_origin_is_answered_without_a_key(
    allowed: Running, backend: Backend
) -> None:
    reply = await allowed.call(
        "OPTIONS", "/browser/v1/customers", headers={"Origin": LOCAL, **PREFLIGHT}
    )
    assert reply.status == 204
    assert reply.headers["access-control-allow-origin"] == LOCAL  # the origin, never '*'
    assert "GET" in reply.headers["access-control-allow-methods"]
    assert "X-Api-Key" in reply.headers["access-control-allow-headers"]
    assert reply.headers["access-control-max-age"] == "120"
    assert "Origin" in reply.headers["vary"]
    assert "access-control-allow-credentials" not in reply.headers
    assert backend.seen == []  # answered by the gateway


async def test_a_preflight_from_another_origin_is_refused(allowed: Running) -> None:
    headers = {"Origin": "https://evil.example.net", **PREFLIGHT}
    reply = await allowed.call("OPTIONS", "/browser/v1/customers", headers=headers)
    assert_problem(reply, 403, "cors-origin-not-allowed")
    assert "access-control-allow-origin" not in reply.headers
    # an origin differing only in scheme or port is another origin
    for near in ("http://apps.example.com", "https://apps.example.com:8443"):
        reply = await allowed.call(
            "OPTIONS", "/browser/v1/customers", headers={"Origin": near, **PREFLIGHT}
        )
        assert reply.status == 403


async def test_answers_name_an_allowed_origin_and_expose_the_gateway_headers(
    allowed: Running,
) -> None:
    reply = await allowed.get("/browser/v1/customers", allowed.key, headers={"Origin": PAGE})
    assert reply.status == 200
    assert reply.headers["access-control-allow-origin"] == PAGE
    assert reply.headers["vary"] == "Origin"
    exposed = reply.headers["access-control-expose-headers"]
    for name in ("RateLimit", "RateLimit-Policy", "Retry-After", "X-Request-Id"):
        assert name in exposed
    # another origin: nothing that lets its page read the answer, but caches still told
    reply = await allowed.get(
        "/browser/v1/customers", allowed.key, headers={"Origin": "https://evil.example.net"}
    )
    assert reply.status == 200
    assert "access-control-allow-origin" not in reply.headers
    assert reply.headers["vary"] == "Origin"


async def test_problems_carry_the_origin_so_the_page_can_read_them(allowed: Running) -> None:
    reply = await allowed.get("/browser/v1/customers", headers={"Origin": PAGE})  # no key
    assert_problem(reply, 401, "unauthenticated")
    assert reply.headers["access-control-allow-origin"] == PAGE
    reply = await allowed.get("/browser/v1/nowhere", allowed.key, headers={"Origin": PAGE})
    assert reply.status == 404
    assert reply.headers["access-control-allow-origin"] == PAGE


async def test_apis_without_cors_send_no_cors_headers(running: Running) -> None:
    await browser_api(running, None)
    reply = await running.call(
        "OPTIONS", "/browser/v1/customers", headers={"Origin": PAGE, **PREFLIGHT}
    )
    assert_problem(reply, 401, "unauthenticated")  # not a preflight it answers
    reply = await running.get("/browser/v1/customers", running.key, headers={"Origin": PAGE})
    assert reply.status == 200
    assert "access-control-allow-origin" not in reply.headers
    assert "vary" not in reply.headers


async def test_the_document_declares_the_header_as_the_gateway_sends_it(allowed: Running) -> None:
    reply = await allowed.get("/browser/v1/openapi.json", allowed.key)
    document = orjson.loads(reply.body)
    declared = document["components"]["headers"]["Access-Control-Allow-Origin"]
    assert declared["schema"]["enum"] == [PAGE, LOCAL]
    assert not declared.get("required")
    answers = document["paths"]["/customers"]["get"]["responses"]
    with_headers = [a for a in answers.values() if "headers" in a]
    assert {"200", "4XX", "401", "429"} <= {s for s, a in answers.items() if "headers" in a}
    for answer in with_headers:
        assert answer["headers"]["Access-Control-Allow-Origin"] == {
            "$ref": "#/components/headers/Access-Control-Allow-Origin"
        }
    await browser_api(allowed, None)
    reply = await allowed.get("/browser/v1/openapi.json", allowed.key)
    declared = orjson.loads(reply.body)["components"]["headers"]["Access-Control-Allow-Origin"]
    assert "Not sent" in declared["description"]
    assert ISSUER in orjson.loads(reply.body)["servers"][0]["url"]


@pytest.mark.parametrize(
    "origin",
    [
        "https://apps.example.com/",  # a path
        "*",
        "https://*.example.com",
        "https://apps.example.com:443",  # a browser never sends the default port
        "HTTPS://APPS.EXAMPLE.COM",
        "ftp://apps.example.com",
    ],
)
def test_origins_are_written_as_browsers_send_them(origin: str) -> None:
    with pytest.raises(ValidationError):
        Cors.model_validate({"allowOrigins": [origin]})
    assert Cors.model_validate({"allowOrigins": [PAGE, "http://localhost:8080"]})


async def test_a_body_too_large_is_refused_readably_for_an_allowed_page(allowed: Running) -> None:
    reply = await allowed.call(
        "POST", "/browser/v1/customers", allowed.key,
        headers={"Origin": PAGE, "Content-Type": "application/json"},
        body=b'{"x":"' + b"a" * 5000 + b'"}',
    )  # fmt: skip
    assert reply.status == 413
    assert reply.headers["access-control-allow-origin"] == PAGE
    assert "Origin" in reply.headers["vary"]
