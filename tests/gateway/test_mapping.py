"""JSONata mappings of a proxy target: query, headers and body out; the answer back."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.gateway.conftest import Backend, Running, publish, resource
from tests.helpers import assert_problem


async def mapped_api(running: Running, mapping: dict[str, Any], method: str = "GET") -> None:
    route = {
        "method": method,
        "path": "/people/{id}",
        "target": {"type": "proxy", "connection": "crm", "path": "/crm/{id}", "mapping": mapping},
    }
    await publish(running, "people", [{"name": "v1", "routes": [route]}])


async def test_requests_and_answers_are_reshaped(running: Running, backend: Backend) -> None:
    await mapped_api(
        running,
        {
            "query": {
                "sysparm_limit": "query.top",
                "sysparm_query": "'sys_id=' & path.id",
                "absent": "query.nothing",
            },
            "headers": {"X-Tenant": "'acme'", "X-Caller-Agent": "headers.`user-agent`"},
            "body": '{"fullName": body.first & " " & body.last, "active": true}',
            "response": '{"value": {"where": path, "how": method}, "count": 1}',
        },
        method="POST",
    )
    reply = await running.call(
        "POST",
        "/people/v1/people/42",
        running.key,
        headers={"Content-Type": "application/json", "User-Agent": "retool"},
        body=b'{"first": "Ada", "last": "Lovelace"}',
        query="top=5&skip=1",
    )
    assert reply.status == 200, reply.body
    seen = backend.seen[-1]
    assert seen["raw_path"] == "/crm/42?sysparm_limit=5&sysparm_query=sys_id%3D42"
    assert seen["headers"]["X-Tenant"] == "acme"
    assert seen["headers"]["X-Caller-Agent"] == "retool"
    assert orjson.loads(seen["body"]) == {"fullName": "Ada Lovelace", "active": True}
    assert reply.json() == {"value": {"where": seen["raw_path"], "how": "POST"}, "count": 1}
    assert int(reply.headers["content-length"]) == len(reply.body)


async def test_a_failing_mapping_is_a_problem(running: Running, backend: Backend) -> None:
    await mapped_api(running, {"response": "$error('no such shape')"})
    reply = await running.get("/people/v1/people/1", running.key)
    body = assert_problem(reply, 502, "mapping-failed")
    assert "response mapping" in body["detail"]


async def test_runaway_expressions_are_stopped(running: Running, backend: Backend) -> None:
    await mapped_api(running, {"response": "$count([1..5000000].($ * 2))"})
    reply = await running.get("/people/v1/people/1", running.key)
    assert_problem(reply, 502, "mapping-failed")


def test_invalid_expressions_are_refused_when_declared() -> None:
    with pytest.raises(ValueError, match="not a valid JSONata expression"):
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
                                    "path": "/x",
                                    "target": {
                                        "type": "proxy",
                                        "connection": "c",
                                        "mapping": {"body": "items."},
                                    },
                                }
                            ],
                        }
                    ]
                },
            }
        )
