"""Requests checked against the route's contract before any backend is touched."""

from __future__ import annotations

import orjson
import pytest

from tests.gateway.conftest import Backend, Running, publish, resource
from tests.helpers import Reply, assert_problem

CONTRACT = {
    "path": {"id": {"schema": {"type": "integer", "minimum": 1}}},
    "query": {
        "limit": {"schema": {"type": "integer", "maximum": 100}, "required": True},
        "dry": {"schema": {"type": "boolean"}},
    },
    "headers": {"X-Tenant": {"schema": {"enum": ["acme", "globex"]}, "required": True}},
    "body": {
        "type": "object",
        "required": ["sku", "qty"],
        "properties": {
            "sku": {"type": "string", "minLength": 2},
            "qty": {"type": "integer", "minimum": 1},
        },
        "additionalProperties": False,
    },
    "additionalQuery": False,
}


async def contract_api(running: Running) -> None:
    route = {
        "method": "POST",
        "path": "/orders/{id}",
        "request": CONTRACT,
        "target": {"type": "proxy", "connection": "crm"},
    }
    await publish(running, "orders", [{"name": "v1", "routes": [route]}])


async def post(
    running: Running, path: str, body: bytes, query: str = "limit=5", tenant: str | None = "acme"
) -> Reply:
    headers = {"Content-Type": "application/json"}
    if tenant is not None:
        headers["X-Tenant"] = tenant
    return await running.call(
        "POST", f"/orders/v1/orders/{path}", running.key, headers=headers, body=body, query=query
    )


async def test_a_request_that_keeps_the_contract_passes(running: Running, backend: Backend) -> None:
    await contract_api(running)
    reply = await post(running, "7", b'{"sku": "A-1", "qty": 2}', query="limit=5&dry=true")
    assert reply.status == 200
    assert backend.seen[-1]["body"] == b'{"sku": "A-1", "qty": 2}'


async def test_every_violation_is_reported_and_nothing_is_sent(
    running: Running, backend: Backend
) -> None:
    await contract_api(running)
    body = orjson.dumps({"sku": "canary-sku-3318", "qty": 0, "extra": True})
    reply = await post(running, "0", body, query="limit=500&dry=maybe&debug=1", tenant="initech")
    problem = assert_problem(reply, 422, "request-invalid")
    found = {(e["pointer"], e["message"]) for e in problem["errors"]}
    assert found == {
        ("/path/id", "must be at least 1"),
        ("/query/limit", "must be at most 100"),
        ("/query/dry", "must be of type boolean"),
        ("/query/debug", "is not a parameter of this route"),
        ("/headers/x-tenant", "must be one of ['acme', 'globex']"),
        ("/body/qty", "must be at least 1"),
        ("/body", "has properties the schema does not allow"),
    }
    assert "canary-sku-3318" not in reply.body.decode()
    assert backend.seen == []


async def test_missing_parts(running: Running, backend: Backend) -> None:
    await contract_api(running)
    reply = await post(running, "3", b"", query="", tenant=None)
    problem = assert_problem(reply, 422, "request-invalid")
    assert {e["pointer"] for e in problem["errors"]} == {
        "/query/limit",
        "/headers/x-tenant",
        "/body",
    }
    reply = await post(running, "3", b'{"qty": 1}')
    problem = assert_problem(reply, 422, "request-invalid")
    assert problem["errors"] == [
        {"pointer": "/body", "message": "is missing the required properties ['sku']"}
    ]
    assert backend.seen == []


@pytest.mark.parametrize(
    ("body", "detail"),
    [(b"{not json", "not valid JSON"), (b"[" * 70 + b"]" * 70, "deeper than 64")],
)
async def test_unparseable_bodies_are_400(
    running: Running, backend: Backend, body: bytes, detail: str
) -> None:
    await contract_api(running)
    reply = await post(running, "3", body)
    problem = assert_problem(reply, 400, "bad-request")
    assert detail in problem["detail"]
    assert backend.seen == []


def test_contracts_are_checked_when_declared() -> None:
    def api(request: dict[str, object]) -> None:
        resource(
            {
                "kind": "Api",
                "metadata": {"name": "a"},
                "spec": {
                    "versions": [
                        {
                            "name": "v1",
                            "routes": [
                                {
                                    "path": "/x/{id}",
                                    "request": request,
                                    "target": {"type": "proxy", "connection": "c"},
                                }
                            ],
                        }
                    ]
                },
            }
        )

    with pytest.raises(ValueError, match="not a valid JSON Schema"):
        api({"body": {"type": "banana"}})
    with pytest.raises(ValueError, match=r"request\.path describes"):
        api({"path": {"key": {}}})


async def response_api(running: Running, validate: bool | None) -> None:
    route = {
        "path": "/shape",
        "target": {"type": "proxy", "connection": "crm"},
        "response": {
            "type": "object",
            "required": ["count"],
            "properties": {"path": {"type": "integer"}},
        },
    }
    version: dict[str, object] = {"name": "v1", "routes": [route]}
    if validate is not None:
        version["validateResponses"] = validate
    await publish(running, "shapes", [version])


async def test_answers_are_checked_in_the_sandbox(running: Running, backend: Backend) -> None:
    await response_api(running, None)  # default: checked in sandbox
    reply = await running.get("/shapes/v1/shape", running.key)
    problem = assert_problem(reply, 502, "upstream-contract-violation")
    assert {(e["pointer"], e["message"]) for e in problem["errors"]} == {
        ("/body", "is missing the required properties ['count']"),
        ("/body/path", "must be of type integer"),
    }
    assert "/shape" not in reply.body.decode()  # the backend's values are not repeated
    await response_api(running, False)
    assert (await running.get("/shapes/v1/shape", running.key)).status == 200


def test_response_checks_default_to_the_sandbox() -> None:
    from isthmus.model.api import ApiVersion

    version = ApiVersion(name="v1")
    assert version.checks_responses("sandbox")
    assert not version.checks_responses("production")
    assert ApiVersion(name="v1", validate_responses=True).checks_responses("production")
