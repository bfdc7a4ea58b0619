"""The gateway end to end in-process: auth, routing, proxying, operations, problems."""

from __future__ import annotations

import orjson
import pytest

from isthmus.model import ResourceKey
from isthmus.store import Change
from tests.gateway.conftest import Backend, Running, resource
from tests.helpers import assert_problem


async def test_proxy_forwards_to_the_backend(running: Running, backend: Backend) -> None:
    reply = await running.get("/customers/v2/customers", running.key, query="limit=2&q=a%20b")
    assert reply.status == 200, reply.body
    assert reply.json() == {"path": "/customers?limit=2&q=a%20b", "method": "GET"}
    assert reply.headers["x-backend"] == "crm"
    assert "set-cookie" not in reply.headers
    assert "connection" not in reply.headers
    assert len(backend.seen) == 1


async def test_path_parameters_are_encoded_not_interpreted(
    running: Running, backend: Backend
) -> None:
    reply = await running.get("/customers/v2/customers/a%2Fb%20c", running.key)
    assert reply.status == 200
    assert backend.seen[-1]["raw_path"] == "/people/a%2Fb%20c"
    for climbing in ("a%2F..%2Fadmin", "..", "%2e%2e", ".%2E%2F.."):
        reply = await running.get(f"/customers/v2/customers/{climbing}", running.key)
        assert_problem(reply, 400, "bad-request")
    assert len(backend.seen) == 1


async def test_credentials_and_internal_headers_stay_in_the_hub(
    running: Running, backend: Backend
) -> None:
    headers = {
        "X-Isthmus-Caller": "forged",
        "x-isthmus-environment": "production",
        "Cookie": "session=abc",
        "Proxy-Authorization": "Basic Zm9v",
        "X-Request-Id": "trace-123",
        "X-Custom": "kept",
    }
    reply = await running.get("/customers/v2/customers", running.key, headers=headers)
    assert reply.status == 200
    sent = {k.lower(): v for k, v in backend.seen[-1]["headers"].items()}
    assert running.key not in str(sent)
    for dropped in (
        "x-api-key",
        "x-isthmus-caller",
        "x-isthmus-environment",
        "cookie",
        "proxy-authorization",
    ):
        assert dropped not in sent
    assert sent["x-custom"] == "kept"
    assert sent["x-request-id"] == "trace-123"
    assert sent["x-forwarded-for"] == "127.0.0.1"
    assert reply.headers["x-request-id"] == "trace-123"


async def test_bearer_key_works_and_post_bodies_pass(running: Running, backend: Backend) -> None:
    reply = await running.call(
        "POST",
        "/customers/v2/customers",
        headers={"Authorization": f"Bearer {running.key}", "Content-Type": "application/json"},
        body=b'{"name": "Ada"}',
    )
    assert reply.status == 200
    assert backend.seen[-1]["body"] == b'{"name": "Ada"}'
    assert "authorization" not in {k.lower() for k in backend.seen[-1]["headers"]}


async def test_without_or_with_a_wrong_key(running: Running, backend: Backend) -> None:
    body = assert_problem(await running.get("/customers/v2/customers"), 401, "unauthenticated")
    assert "X-Api-Key" in body["remediation"]
    assert body["requestId"]
    assert_problem(
        await running.get("/customers/v2/customers", "isk_sandbox_x_y"), 401, "unauthenticated"
    )
    assert backend.seen == []


async def test_an_app_reaches_only_granted_apis(running: Running) -> None:
    _, other_key = await running.hub.store.keys.create("other", "sandbox")
    await running.hub.snapshots.refresh()
    body = assert_problem(
        await running.get("/customers/v2/customers", other_key), 403, "not-granted"
    )
    assert "'other'" in body["detail"]


async def test_versions_and_lifecycle(running: Running) -> None:
    reply = await running.get("/customers/v1/customers", running.key)
    assert reply.status == 200
    assert reply.headers["deprecation"] == "@1790812800"  # 2026-10-01T00:00:00Z
    assert reply.headers["sunset"] == "Wed, 31 Mar 2027 12:00:00 GMT"
    assert reply.headers["link"] == '</customers/v2>; rel="successor-version"'
    assert "deprecation" not in (await running.get("/customers/v2/customers", running.key)).headers
    assert_problem(
        await running.get("/customers/v3/customers", running.key), 404, "route-not-found"
    )
    reply = await running.get("/customers/v0/customers", running.key)
    body = assert_problem(reply, 410, "api-version-retired")
    assert body["versions"] == ["v1", "v2"]
    assert body["successor"] == "v2"
    assert "use v2" in body["detail"]
    assert reply.headers["link"] == '</customers/v2>; rel="successor-version"'


async def test_routing_problems(running: Running) -> None:
    assert_problem(await running.get("/nope/v1/x", running.key), 404, "route-not-found")
    assert_problem(await running.get("/customers/v2/nope", running.key), 404, "route-not-found")
    reply = await running.call("DELETE", "/customers/v2/customers", running.key)
    assert_problem(reply, 405, "method-not-allowed")
    assert reply.headers["allow"] == "GET, POST"


async def test_backend_errors_never_leak(running: Running) -> None:
    reply = await running.get("/customers/v2/boom", running.key)
    body = assert_problem(reply, 502, "upstream-error")
    assert "db01" not in reply.body.decode()
    assert body["upstreamStatus"] == 500
    reply = await running.get("/customers/v2/busy", running.key)
    assert_problem(reply, 503, "upstream-unavailable")
    assert reply.headers["retry-after"] == "7"
    reply = await running.get("/customers/v2/missing", running.key)
    assert reply.status == 404
    assert reply.json() == {"error": "no such thing"}


async def test_an_unreachable_backend_is_a_502(running: Running) -> None:
    await running.hub.store.resources.apply([Change("update", *_crm("http://127.0.0.1:9"))])
    await running.hub.snapshots.refresh()
    assert_problem(
        await running.get("/customers/v2/customers", running.key), 502, "upstream-unreachable"
    )


def _crm(url: str, **config: object) -> tuple[ResourceKey, object]:
    doc = {
        "kind": "Connection",
        "metadata": {"name": "crm", "environment": "sandbox"},
        "spec": {
            "system": "crm",
            "connector": "rest",
            "config": {"baseUrl": url, "allowPrivateNetwork": True, **config},
        },
    }
    r = resource(doc)
    return r.key, r


async def test_environment_comes_from_the_key(running: Running) -> None:
    _, production_key = await running.hub.store.keys.create("portal", "production")
    await running.hub.snapshots.refresh()
    body = assert_problem(
        await running.get("/customers/v2/customers", production_key), 503, "not-configured"
    )
    assert "production" in body["detail"]


async def test_revoked_keys_stop_working(running: Running) -> None:
    [info] = await running.hub.store.keys.list("portal")
    await running.hub.store.keys.revoke(info.id)
    await running.hub.snapshots.refresh()
    assert_problem(
        await running.get("/customers/v2/customers", running.key), 401, "unauthenticated"
    )


async def test_operation_targets(running: Running) -> None:
    reply = await running.get("/stock/v1/items", running.key)
    assert reply.json() == [{"sku": "a", "qty": 1}]
    reply = await running.call("POST", "/stock/v1/items", running.key, body=b'{"sku":"b"}')
    assert reply.status == 201
    assert reply.json() == {"sku": "b"}
    assert (await running.get("/stock/v1/items/b", running.key)).json() == {"sku": "b"}
    assert (await running.call("DELETE", "/stock/v1/items/b", running.key)).status == 204
    assert_problem(await running.get("/stock/v1/items/b", running.key), 404, "not-found")
    reply = await running.call("POST", "/stock/v1/items", running.key, body=b"{not json")
    assert_problem(reply, 400, "bad-request")


async def test_body_size_is_limited(running: Running, backend: Backend) -> None:
    reply = await running.call("POST", "/customers/v2/customers", running.key, body=b"x" * 5000)
    assert_problem(reply, 413, "payload-too-large")
    assert backend.seen == []


async def test_connections_stay_open_across_unrelated_changes(running: Running) -> None:
    await running.call("POST", "/stock/v1/items", running.key, body=b'{"sku":"kept"}')
    plan = resource({"kind": "Plan", "metadata": {"name": "gold"}})
    await running.hub.store.resources.apply([Change("create", plan.key, plan)])
    await running.hub.snapshots.refresh()
    # the memory connector was not reopened, so its state is still there
    assert (await running.get("/stock/v1/items/kept", running.key)).status == 200


async def test_a_changed_secret_reopens_the_connection(running: Running, backend: Backend) -> None:
    await running.hub.vault.set("crm-token", "first")
    await running.hub.store.resources.apply(
        [
            Change(
                "update", *_crm(backend.url, auth={"type": "bearer", "token": "secret://crm-token"})
            )
        ]
    )
    await running.hub.snapshots.refresh()
    await running.get("/customers/v2/customers", running.key)
    assert backend.seen[-1]["headers"]["Authorization"] == "Bearer first"
    await running.hub.vault.set("crm-token", "second")
    await running.hub.snapshots.refresh()
    await running.get("/customers/v2/customers", running.key)
    assert backend.seen[-1]["headers"]["Authorization"] == "Bearer second"


async def test_a_connection_that_cannot_open_is_a_503(running: Running) -> None:
    await running.hub.store.resources.apply(
        [
            Change(
                "update",
                *_crm("http://127.0.0.1:1", auth={"type": "bearer", "token": "secret://absent"}),
            )
        ]
    )
    await running.hub.snapshots.refresh()
    reply = await running.get("/customers/v2/customers", running.key)
    assert_problem(reply, 503, "connection-unavailable")
    assert "absent" not in reply.body.decode()  # the cause is for operators
    status = (await running.admin_call("GET", "/admin/v1/status")).json()
    crm = next(c for c in status["connections"] if c["connection"] == "crm")
    assert crm["open"] is False
    assert "absent" in crm["cause"]
    # other Connections keep serving
    assert (await running.get("/stock/v1/items", running.key)).status == 200


async def test_unexpected_failures_are_500_problems(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals at db01.internal")

    # Fault injection: the route table itself fails.
    snapshot = running.hub.snapshots.current
    assert snapshot is not None
    monkeypatch.setattr(snapshot.routes, "match", broken)
    reply = await running.get("/customers/v2/customers", running.key)
    body = assert_problem(reply, 500, "internal-error")
    assert "db01" not in reply.body.decode()
    assert (
        orjson.loads(reply.body)["requestId"] == reply.headers["x-request-id"] == body["requestId"]
    )


async def test_the_connection_headers_cannot_be_overridden(
    running: Running, backend: Backend
) -> None:
    await running.hub.vault.set("crm-token", "configured")
    await running.hub.store.resources.apply(
        [
            Change(
                "update",
                *_crm(
                    backend.url,
                    headers={"X-Tenant": "acme"},
                    auth={"type": "bearer", "token": "secret://crm-token"},
                ),
            )
        ]
    )
    await running.hub.snapshots.refresh()
    forged = {
        "X-Tenant": "evil",
        "Forwarded": "for=1.2.3.4;host=admin.internal",
        "X-Forwarded-Host": "admin.internal",
        "X-Forwarded-For": "1.2.3.4",
    }
    reply = await running.get("/customers/v2/customers", running.key, headers=forged)
    assert reply.status == 200
    sent = backend.seen[-1]["headers"]
    assert sent["X-Tenant"] == "acme"
    assert sent["Authorization"] == "Bearer configured"
    assert "Forwarded" not in sent
    assert "X-Forwarded-Host" not in sent
    assert sent["X-Forwarded-For"] == "127.0.0.1"


async def test_backend_urls_stay_inside_and_any_header_bytes_pass(running: Running) -> None:
    reply = await running.get("/customers/v2/moved", running.key)
    assert reply.status == 302
    assert "location" not in reply.headers
    assert "link" not in reply.headers
    assert reply.headers["x-name"] == "履歴書"  # the bytes passed through unchanged


async def test_a_caller_gone_mid_body_reaches_no_backend(
    running: Running, backend: Backend
) -> None:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/customers/v2/customers",
        "raw_path": b"/customers/v2/customers",
        "query_string": b"",
        "headers": [(b"x-api-key", running.key.encode())],
        "client": ("127.0.0.1", 1),
    }
    messages = iter(
        [
            {"type": "http.request", "body": b'{"half": ', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[object] = []

    async def receive() -> object:
        return next(messages)

    async def send(message: object) -> None:
        sent.append(message)

    await running.gateway(scope, receive, send)
    assert sent == []
    assert backend.seen == []


async def test_a_request_without_a_body_is_answered_without_reading_one(
    running: Running, backend: Backend
) -> None:
    def scope(headers: list[tuple[bytes, bytes]], version: str = "1.1") -> dict[str, object]:
        return {
            "type": "http",
            "http_version": version,
            "method": "GET",
            "path": "/customers/v2/customers",
            "raw_path": b"/customers/v2/customers",
            "query_string": b"",
            "headers": [(b"x-api-key", running.key.encode()), *headers],
            "client": ("127.0.0.1", 1),
        }

    reads = 0

    async def receive() -> object:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await running.gateway(scope([]), receive, send)
    await running.gateway(scope([(b"content-length", b"0")]), receive, send)
    assert reads == 0  # HTTP/1.1 without Content-Length or Transfer-Encoding: no body
    await running.gateway(scope([(b"content-length", b"2")]), receive, send)
    await running.gateway(scope([(b"transfer-encoding", b"chunked")]), receive, send)
    await running.gateway(scope([], version="2"), receive, send)  # HTTP/2 needs no header
    assert reads == 3
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [200] * 5
    assert len(backend.seen) == 5


async def test_metrics_count_by_route_template_and_app(running: Running) -> None:
    from tests.helpers import asgi_call

    await running.get("/customers/v2/customers/7", running.key)
    await running.get("/customers/v2/customers/8", running.key)
    await running.get("/customers/v2/customers")  # no key: 401, no App, no route yet
    text = (await asgi_call(running.control, "GET", "/metrics")).body.decode()
    labels = 'api="customers",app="portal",route="/customers/{id}",status_class="2xx",version="v2"'
    assert f"isthmus_http_server_requests_total{{{labels}}} 2.0" in text
    assert f"isthmus_http_server_request_duration_seconds_count{{{labels}}} 2.0" in text
    unauthenticated = 'api="",app="",route="",status_class="4xx",version=""'
    assert f"isthmus_http_server_requests_total{{{unauthenticated}}} 1.0" in text
    assert "/customers/7" not in text  # paths never become labels


async def test_each_version_serves_its_openapi_document(running: Running) -> None:
    reply = await running.get("/customers/v2/openapi.json", running.key)
    assert reply.status == 200
    document = reply.json()
    assert document["openapi"] == "3.1.0"
    assert document["info"]["version"] == "v2"
    assert [s["url"] for s in document["servers"]] == ["https://hub.example.test/customers/v2"]
    assert set(document["paths"]) == {
        "/customers",
        "/customers/{id}",
        "/boom",
        "/busy",
        "/missing",
        "/moved",
    }
    assert set(document["paths"]["/customers"]) == {"get", "post"}
    get_one = document["paths"]["/customers/{id}"]["get"]
    assert get_one["parameters"] == [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    assert "Problem" in document["components"]["schemas"]
    oauth = document["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
    assert oauth["tokenUrl"] == "https://hub.example.test/oauth/token"
    assert (await running.get("/customers/v1/openapi.json", running.key)).json()["paths"][
        "/customers"
    ]["get"]["deprecated"] is True
    assert_problem(await running.get("/customers/v2/openapi.json"), 401, "unauthenticated")
    _, other = await running.hub.store.keys.create("other", "sandbox")
    await running.hub.snapshots.refresh()
    assert_problem(await running.get("/customers/v2/openapi.json", other), 403, "not-granted")
