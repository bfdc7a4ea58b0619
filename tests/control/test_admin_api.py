"""The admin API: token, CRUD for every kind, integrity, keys, secrets, problems."""

from __future__ import annotations

import orjson
import pytest

from tests.gateway.conftest import Running
from tests.helpers import asgi_call, assert_problem

SYSTEM = {"kind": "System", "metadata": {"name": "erp", "owner": "finance"}}


def js(value: object) -> bytes:
    return orjson.dumps(value)


async def test_the_admin_token_is_required(running: Running) -> None:
    reply = await asgi_call(running.control, "GET", "/admin/v1/systems")
    body = assert_problem(reply, 401, "unauthenticated")
    assert body["instance"] == "/admin/v1/systems"
    reply = await asgi_call(
        running.control, "GET", "/admin/v1/systems", headers={"Authorization": "Bearer wrong"}
    )
    assert_problem(reply, 401, "unauthenticated")
    assert reply.headers["www-authenticate"].startswith("Bearer")


async def test_crud_round_trip(running: Running) -> None:
    reply = await running.admin_call("POST", "/admin/v1/systems", body=js(SYSTEM))
    assert reply.status == 201, reply.body
    assert reply.json()["metadata"]["owner"] == "finance"
    assert_problem(
        await running.admin_call("POST", "/admin/v1/systems", body=js(SYSTEM)), 409, "conflict"
    )
    got = await running.admin_call("GET", "/admin/v1/systems/erp")
    assert got.json() == reply.json()
    names = [
        r["metadata"]["name"] for r in (await running.admin_call("GET", "/admin/v1/systems")).json()
    ]
    assert names == ["crm", "erp"]
    changed = {**SYSTEM, "metadata": {"name": "erp", "owner": "controlling"}}
    reply = await running.admin_call("PUT", "/admin/v1/systems/erp", body=js(changed))
    assert reply.status == 200
    assert reply.json()["metadata"]["owner"] == "controlling"
    reply = await running.admin_call("PUT", "/admin/v1/systems/other", body=js(changed))
    assert_problem(reply, 400, "bad-request")
    assert (await running.admin_call("DELETE", "/admin/v1/systems/erp")).status == 204
    assert_problem(await running.admin_call("GET", "/admin/v1/systems/erp"), 404, "not-found")


async def test_environment_scoped_addresses(running: Running) -> None:
    reply = await running.admin_call("GET", "/admin/v1/connections/crm")
    body = assert_problem(reply, 422, "validation-failed")
    assert body["errors"][0]["path"] == "query.environment"
    reply = await running.admin_call(
        "GET", "/admin/v1/connections/crm", query="environment=sandbox"
    )
    assert reply.status == 200
    assert reply.json()["metadata"]["environment"] == "sandbox"


async def test_writes_are_checked_like_apply(running: Running) -> None:
    app = {"kind": "App", "metadata": {"name": "new"}, "spec": {"apis": ["nope"]}}
    body = assert_problem(
        await running.admin_call("POST", "/admin/v1/apps", body=js(app)), 422, "validation-failed"
    )
    assert body["errors"] == [
        {
            "path": "spec.apis[0]",
            "message": "Api 'nope' does not exist",
            "hint": "create the Api first",
        }
    ]
    literal = {
        "kind": "Connection",
        "metadata": {"name": "x", "environment": "sandbox"},
        "spec": {
            "system": "crm",
            "connector": "rest",
            "config": {
                "baseUrl": "https://x.example",
                "headers": {"Authorization": "Bearer canary-literal-9931"},
            },
        },
    }
    reply = await running.admin_call("POST", "/admin/v1/connections", body=js(literal))
    body = assert_problem(reply, 422, "validation-failed")
    assert body["errors"][0]["path"] == "spec.config.headers.Authorization"
    assert "canary-literal-9931" not in reply.body.decode()


async def test_schema_errors_are_problems_without_echoed_values(running: Running) -> None:
    bad = {
        "kind": "System",
        "metadata": {"name": "Bad Name", "owner": "x"},
        "spec": {"category": "canary-value-5521"},
    }
    reply = await running.admin_call("POST", "/admin/v1/systems", body=js(bad))
    body = assert_problem(reply, 422, "validation-failed")
    assert {e["path"] for e in body["errors"]} == {"metadata.name", "spec.category"}
    assert "canary-value-5521" not in reply.body.decode()
    tagged = {
        "kind": "Connection",
        "metadata": {"name": "x", "environment": "sandbox"},
        "spec": {
            "system": "crm",
            "connector": "rest",
            "config": {"baseUrl": "https://x.example", "auth": {"type": "canary-tag-7719"}},
        },
    }
    reply = await running.admin_call("POST", "/admin/v1/connections", body=js(tagged))
    assert "canary-tag-7719" not in reply.body.decode()
    api = {
        "kind": "Api",
        "metadata": {"name": "a"},
        "spec": {
            "versions": [
                {
                    "name": "v1",
                    "routes": [
                        {
                            "path": "/x",
                            "target": {"type": "proxy", "connection": "crm", "pth": "/y"},
                        }
                    ],
                }
            ]
        },
    }
    reply = await running.admin_call("POST", "/admin/v1/apis", body=js(api))
    body = assert_problem(reply, 422, "validation-failed")
    assert [e["path"] for e in body["errors"]] == ["spec.versions[0].routes[0].target.pth"]
    reply = await running.admin_call("POST", "/admin/v1/systems", body=b"{not json")
    assert_problem(reply, 422, "validation-failed")


async def test_deleting_what_others_use_is_refused(running: Running) -> None:
    reply = await running.admin_call("DELETE", "/admin/v1/apis/customers")
    body = assert_problem(reply, 409, "conflict")
    assert body["dependents"] == ["App/portal"]


async def test_unknown_paths_and_methods_are_problems(running: Running) -> None:
    assert_problem(await running.admin_call("GET", "/admin/v1/widgets"), 404, "not-found")
    reply = await running.admin_call("PATCH", "/admin/v1/systems")
    assert_problem(reply, 405, "method-not-allowed")
    assert reply.headers["allow"] == "GET, POST"  # every route at the path, not the first


async def test_keys_are_shown_once_and_work_at_once(running: Running) -> None:
    reply = await running.admin_call(
        "POST", "/admin/v1/apps/portal/keys", body=js({"environment": "sandbox", "label": "retool"})
    )
    assert reply.status == 201
    issued = reply.json()
    assert issued["key"].startswith("isk_sandbox_")
    assert (await running.get("/customers/v2/customers", issued["key"])).status == 200
    listed = (await running.admin_call("GET", "/admin/v1/apps/portal/keys")).json()
    assert issued["key"] not in str(listed)
    assert {k["label"] for k in listed} == {"", "retool"}
    assert (await running.admin_call("DELETE", f"/admin/v1/keys/{issued['id']}")).status == 204
    assert_problem(
        await running.get("/customers/v2/customers", issued["key"]), 401, "unauthenticated"
    )
    assert_problem(
        await running.admin_call("POST", "/admin/v1/apps/ghost/keys", body=b"{}"), 404, "not-found"
    )


async def test_secret_values_never_come_back(running: Running) -> None:
    reply = await running.admin_call(
        "PUT", "/admin/v1/secrets/crm-token", body=js({"value": "canary-secret-4417"})
    )
    assert reply.status == 204
    reply = await running.admin_call("GET", "/admin/v1/secrets")
    assert reply.json() == ["crm-token"]
    assert await running.hub.vault.resolve("secret://crm-token") == "canary-secret-4417"
    bad = await running.admin_call("PUT", "/admin/v1/secrets/Bad%20Name", body=js({"value": "v"}))
    body = assert_problem(bad, 422, "validation-failed")
    assert body["errors"][0]["path"] == "path.name"
    assert (await running.admin_call("DELETE", "/admin/v1/secrets/crm-token")).status == 204


async def test_openapi_documents_every_kind(running: Running) -> None:
    reply = await asgi_call(running.control, "GET", "/admin/openapi.json")
    document = reply.json()
    create = document["paths"]["/admin/v1/systems"]["post"]["responses"]
    assert "application/problem+json" in create["422"]["content"]
    assert document["components"]["schemas"]["Problem"]["required"][:2] == ["type", "title"]
    get_connection = document["paths"]["/admin/v1/connections/{name}"]["get"]["parameters"]
    assert {p["name"]: p["required"] for p in get_connection} == {"name": True, "environment": True}
    for plural in ("systems", "connections", "apis", "apps", "plans"):
        assert f"/admin/v1/{plural}" in document["paths"]
        assert f"/admin/v1/{plural}/{{name}}" in document["paths"]
    schemas = document["components"]["schemas"]
    assert "Connection" in schemas or any(k.startswith("Connection") for k in schemas)


async def test_health_endpoints(running: Running) -> None:
    assert (await asgi_call(running.control, "GET", "/healthz")).json() == {"status": "ok"}
    ready = (await asgi_call(running.control, "GET", "/readyz")).json()
    assert ready["status"] == "ready"
    assert ready["revision"] == ready["servedRevision"]


async def test_connectors_are_listed_with_their_schema(running: Running) -> None:
    listed = {
        c["name"]: c for c in (await running.admin_call("GET", "/admin/v1/connectors")).json()
    }
    assert {"memory", "rest"} <= set(listed)
    assert "baseUrl" in listed["rest"]["configSchema"]["properties"]


async def test_unexpected_failures_are_500_problems(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("SELECT * FROM secrets -- at db01.internal")

    monkeypatch.setattr(running.hub.store.resources, "list", broken)  # fault injection
    reply = await running.admin_call("GET", "/admin/v1/systems", raise_app_exceptions=False)
    assert_problem(reply, 500, "internal-error")
    assert "db01" not in reply.body.decode()
