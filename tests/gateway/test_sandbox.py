"""The sandbox endpoint: the production contract under /sandbox, sandbox credentials
only, sandbox Systems — or a mock from the contract's examples and schemas where a
System has no sandbox."""

from __future__ import annotations

from typing import Any

import jsonschema
import orjson

from tests.gateway.conftest import Backend, Running, declare, project
from tests.helpers import assert_problem

RECORD = {
    "type": "object",
    "required": ["id", "amount", "booked"],
    "properties": {
        "id": {"type": "string", "pattern": "^LE-[0-9]{6}$"},
        "amount": {"type": "number", "minimum": 0},
        "currency": {"enum": ["EUR", "USD"]},
        "booked": {"type": "string", "format": "date-time"},
    },
}
LEDGER: list[dict[str, Any]] = [
    {"kind": "System", "metadata": {"name": "ledger", "owner": "finance"}},
    {  # production only: this System has no sandbox
        "kind": "Connection",
        "metadata": {"name": "ledger", "environment": "production"},
        "spec": {"system": "ledger", "connector": "rest", "config": {"baseUrl": "https://x.test"}},
    },
    {
        "kind": "Api",
        "metadata": {"name": "ledger", "owner": "finance"},
        "spec": {
            "versions": [
                {
                    "name": "v1",
                    "routes": [
                        {
                            "path": "/entries",
                            "target": {"type": "proxy", "connection": "ledger"},
                            "collection": {
                                "key": "id",
                                "fields": {"id": {}, "amount": {"type": "number"}},
                            },
                            "response": RECORD,
                            "examples": {
                                "response": {
                                    "id": "LE-000042",
                                    "amount": 12.5,
                                    "currency": "EUR",
                                    "booked": "2026-11-30T10:00:00Z",
                                }
                            },
                        },
                        {
                            "path": "/entries/{id}",
                            "target": {"type": "proxy", "connection": "ledger"},
                            "response": RECORD,
                        },
                        {
                            "method": "POST",
                            "path": "/entries",
                            "target": {"type": "proxy", "connection": "ledger"},
                            "request": {"body": RECORD},
                            "examples": {"response": {"accepted": True}},
                        },
                    ],
                }
            ]
        },
    },
]


async def with_ledger(running: Running, backend: Backend) -> None:
    portal = next(d for d in project(backend.url) if d["metadata"]["name"] == "portal")
    granted = {**portal, "spec": {"apis": ["customers", "stock", "ledger"]}}
    await declare(running, *LEDGER, granted)


async def test_the_sandbox_endpoint_serves_the_same_routes_to_sandbox_credentials(
    running: Running, backend: Backend
) -> None:
    reply = await running.get("/sandbox/customers/v2/customers/7", key=running.key)
    assert reply.status == 200, reply.body
    assert backend.seen[-1]["raw_path"] == "/people/7"
    _, production = await running.hub.store.keys.create("portal", "production")
    await running.hub.snapshots.refresh()
    refused = await running.get("/sandbox/customers/v2/customers/7", key=production)
    assert_problem(refused, 403, "not-sandbox-credential")
    unknown = await running.get("/sandbox/nothing/v1/x", key=running.key)
    assert_problem(unknown, 404, "route-not-found")
    token_path = await running.call("POST", "/sandbox/oauth/token", key=running.key)
    body = assert_problem(token_path, 404, "route-not-found")  # one token endpoint for all
    assert "/oauth/token" in body["remediation"]


async def test_sandbox_and_production_documents_differ_only_in_their_servers(
    running: Running, backend: Backend
) -> None:
    await with_ledger(running, backend)
    compared = 0
    for api, version in [("customers", "v1"), ("customers", "v2"), ("stock", "v1"),
                         ("ledger", "v1")]:  # fmt: skip
        production = await running.get(f"/{api}/{version}/openapi.json", key=running.key)
        sandbox = await running.get(f"/sandbox/{api}/{version}/openapi.json", key=running.key)
        assert production.status == sandbox.status == 200
        prod_doc, sand_doc = production.json(), sandbox.json()
        assert prod_doc["servers"] != sand_doc["servers"]
        assert sand_doc["servers"][0]["url"].endswith(f"/sandbox/{api}/{version}")
        assert prod_doc["servers"][0]["url"].endswith(f"/{api}/{version}")
        assert {**prod_doc, "servers": None} == {**sand_doc, "servers": None}
        compared += 1
    assert compared == 4


async def test_a_system_without_a_sandbox_is_answered_by_the_mock(
    running: Running, backend: Backend
) -> None:
    await with_ledger(running, backend)
    seen = len(backend.seen)
    listed = await running.get("/sandbox/ledger/v1/entries", key=running.key)
    assert listed.status == 200, listed.body
    assert listed.headers["x-isthmus-mock"] == "example"
    assert listed.json()["value"] == [
        LEDGER[2]["spec"]["versions"][0]["routes"][0]["examples"]["response"]
    ]
    filtered = await running.get(
        "/sandbox/ledger/v1/entries", key=running.key, query="filter=amount gt 100"
    )
    assert filtered.json()["value"] == []  # the example record is filtered like real ones

    one = await running.get("/sandbox/ledger/v1/entries/LE-000001", key=running.key)
    assert one.status == 200, one.body  # the sandbox checks answers: the sample fits
    assert one.headers["x-isthmus-mock"] == "schema"
    jsonschema.validate(one.json(), RECORD)
    assert one.json()["id"] == "LE-000000"

    created = await running.call(
        "POST", "/sandbox/ledger/v1/entries", key=running.key,
        headers={"Content-Type": "application/json"},
        body=orjson.dumps({"id": "LE-000001", "amount": 1, "booked": "2026-01-01T00:00:00Z"}),
    )  # fmt: skip
    assert (created.status, created.json()) == (201, {"accepted": True})
    bad = await running.call(
        "POST", "/sandbox/ledger/v1/entries", key=running.key,
        headers={"Content-Type": "application/json"}, body=orjson.dumps({"id": "nope"}),
    )  # fmt: skip
    assert_problem(bad, 422, "request-invalid")  # the same contract as production
    assert len(backend.seen) == seen  # nothing reached a System


async def test_the_mock_pages_with_links_under_the_sandbox(
    running: Running, backend: Backend
) -> None:
    await with_ledger(running, backend)
    example = {"id": "LE-000042", "amount": 12.5, "booked": "2026-11-30T10:00:00Z"}
    records = [{**example, "id": f"LE-00000{n}"} for n in range(3)]
    ledger = LEDGER[2]
    routes = ledger["spec"]["versions"][0]["routes"]
    paged = {**routes[0], "examples": {"response": records}}
    changed = {**ledger, "spec": {"versions": [{"name": "v1", "routes": [paged, *routes[1:]]}]}}
    await declare(running, changed)
    first = await running.get("/sandbox/ledger/v1/entries", key=running.key, query="limit=2")
    body = first.json()
    assert [r["id"] for r in body["value"]] == ["LE-000000", "LE-000001"]
    assert "/sandbox/ledger/v1/entries?" in body["nextLink"]
    path = body["nextLink"].split("hub.example.test", 1)[1]
    path, _, query = path.partition("?")
    second = await running.get(path, key=running.key, query=query)
    assert [r["id"] for r in second.json()["value"]] == ["LE-000002"]


async def test_a_mock_that_cannot_fit_its_contract_says_so(
    running: Running, backend: Backend
) -> None:
    await with_ledger(running, backend)
    ledger = LEDGER[2]
    code = {"type": "string", "pattern": "^a$", "minLength": 3}  # no string is both
    impossible = {"type": "object", "required": ["code"], "properties": {"code": code}}
    route = {"path": "/odd", "target": {"type": "proxy", "connection": "ledger"},
             "response": impossible}  # fmt: skip
    routes = [*ledger["spec"]["versions"][0]["routes"], route]
    await declare(running, {**ledger, "spec": {"versions": [{"name": "v1", "routes": routes}]}})
    reply = await running.get("/sandbox/ledger/v1/odd", key=running.key)
    body = assert_problem(reply, 501, "mock-cannot-answer")
    assert "examples.response" in body["remediation"]
    assert reply.headers["x-isthmus-mock"] == "none"
