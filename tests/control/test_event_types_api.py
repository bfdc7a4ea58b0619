"""EventTypes through the admin API: the same evolution rules as 'isthmus apply'."""

from __future__ import annotations

import copy
import json

from tests.gateway.conftest import Running
from tests.helpers import assert_problem

EVENT = {
    "kind": "EventType",
    "metadata": {"name": "order-placed", "owner": "shop-team"},
    "spec": {
        "versions": [
            {
                "version": 1,
                "schema": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "string"}, "total": {"type": "number"}},
                },
            }
        ]
    },
}


async def test_versions_evolve_only_compatibly(running: Running) -> None:
    reply = await running.admin_call(
        "POST", "/admin/v1/eventtypes", body=json.dumps(EVENT).encode()
    )
    assert reply.status == 201, reply.body
    changed = copy.deepcopy(EVENT)
    changed["spec"]["versions"][0]["schema"]["required"] = ["id", "total"]
    reply = await running.admin_call(
        "PUT", "/admin/v1/eventtypes/order-placed", body=json.dumps(changed).encode()
    )
    body = assert_problem(reply, 422, "validation-failed")
    assert "v1's schema differs from the one applied" in body["errors"][0]["message"]
    breaking = copy.deepcopy(EVENT)
    v2 = copy.deepcopy(EVENT["spec"]["versions"][0])  # type: ignore[index]
    v2["version"] = 2
    v2["schema"]["properties"]["total"] = {"type": "integer"}
    breaking["spec"]["versions"].append(v2)
    reply = await running.admin_call(
        "PUT", "/admin/v1/eventtypes/order-placed", body=json.dumps(breaking).encode()
    )
    body = assert_problem(reply, 422, "validation-failed")
    assert "/total: type narrowed" in body["errors"][0]["message"]
