"""The bounds View answers keep and their documents declare: texts no longer than
ISTHMUS_VIRTUAL_MAX_TEXT_LENGTH, integers within 64 bits, key path parameters checked
as the document says (an integer key: digits)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from isthmus.errors import IsthmusError
from isthmus.virtual.bounds import INT64_MAX, ValueOutOfBounds, check_bounds
from isthmus.virtual.plans import Column
from tests.helpers import Reply, asgi_call, assert_problem
from tests.virtual.conftest import VIEWS, Virtual, billing_database, running_hub


async def get(virtual: Virtual, path: str, query: str = "") -> Reply:
    return await asgi_call(
        virtual.gateway, "GET", path, headers={"X-Api-Key": virtual.key}, query=query
    )


async def document(virtual: Virtual, version: str = "v1") -> dict[str, Any]:
    reply = await get(virtual, f"/analytics/{version}/openapi.json")
    assert reply.status == 200
    found: dict[str, Any] = orjson.loads(reply.body)
    return found


async def test_a_text_longer_than_the_limit_fails_the_query(tmp_path: Path) -> None:
    # 'Customer 001' has 12 characters
    async with (
        billing_database("sqlite", tmp_path) as url,
        running_hub(tmp_path, url, virtual_max_text_length=12) as virtual,
    ):
        reply = await get(virtual, "/analytics/v1/customers", "limit=5")
        assert reply.status == 200, reply.body
        await virtual.add(
            *_with_view("longer", "SELECT id, name || '!' AS name FROM crm.customers")
        )
        reply = await get(virtual, "/analytics/v1/longer", "limit=5")
        body = assert_problem(reply, 502, "virtual-value-out-of-bounds")
        assert "'name'" in body["detail"]
        assert "(12)" in body["detail"]
        assert "ISTHMUS_VIRTUAL_MAX_TEXT_LENGTH" in body["remediation"]
        # every face: the SQL one too
        problem = await virtual.refused("SELECT name FROM longer LIMIT 3", 502)
        assert problem["code"] == "virtual-value-out-of-bounds"
        # what the document declares is the limit the answers keep
        schema = (await document(virtual))["paths"]["/longer"]["get"]["responses"]["200"]
        record = schema["content"]["application/json"]["schema"]["properties"]["value"]["items"]
        assert record["properties"]["name"]["maxLength"] == 12
        assert record["properties"]["id"]["format"] == "int64"
        assert record["properties"]["id"]["maximum"] == INT64_MAX


def _with_view(name: str, sql: str) -> list[dict[str, Any]]:
    """View ``name`` and the Api 'analytics' publishing it with the others."""
    view = {
        "kind": "View",
        "metadata": {"name": name, "owner": "data-team"},
        "spec": {"sql": sql, "key": ["id"]},
    }
    versions = [{"name": "v1", "views": sorted([*VIEWS, name])}]
    return [
        view,
        {"kind": "Api", "metadata": {"name": "analytics"}, "spec": {"versions": versions}},
    ]


async def test_integer_keys_are_digits_in_paths(virtual: Virtual) -> None:
    await virtual.add(_analytics_with_key_route())
    reply = await get(virtual, "/analytics/v2/customers/7")
    assert reply.status == 200, reply.body
    assert reply.json()["id"] == 7
    for wrong in ("seven", "7.0", "-"):
        reply = await get(virtual, f"/analytics/v2/customers/{wrong}")
        body = assert_problem(reply, 422, "request-invalid")
        assert body["errors"][0]["pointer"] == "/path/id"
    reply = await get(virtual, "/analytics/v2/customers/99999")
    assert_problem(reply, 404, "row-not-found")
    parameters = (await document(virtual, "v2"))["paths"]["/customers/{id}"]["get"]["parameters"]
    assert parameters == [
        {
            "name": "id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^-?[0-9]{1,19}$", "maxLength": 20},
            "description": "The id of the row.",
        }
    ]


def _analytics_with_key_route() -> dict[str, Any]:
    route = {"path": "/customers/{id}", "target": {"type": "view", "view": "customers"}}
    return {
        "kind": "Api",
        "metadata": {"name": "analytics"},
        "spec": {
            "versions": [
                {"name": "v1", "views": sorted(VIEWS)},
                {"name": "v2", "routes": [route]},
            ]
        },
    }


@pytest.mark.parametrize(
    ("values", "kind", "fits"),
    [
        (pa.array([1, INT64_MAX + 1], type=pa.uint64()), "integer", False),
        (pa.array([1, INT64_MAX], type=pa.uint64()), "integer", True),
        (pa.array([Decimal(2**70)], type=pa.decimal128(38, 0)), "integer", False),
        (pa.array([Decimal(2**70)], type=pa.decimal128(38, 0)), "number", True),
        (pa.array([None, None], type=pa.decimal128(38, 0)), "integer", True),
        (pa.array(["abcd", None]), "string", True),
        (pa.array(["abcde"]), "string", False),
        (pa.array(["\u00e9\u00e9\u00e9\u00e9"]), "string", True),  # characters, not bytes
        (pa.array([b"abc"]), "string", True),  # 'YWJj' in the answer
        (pa.array([b"abcd"]), "string", False),  # 'YWJjZA==': 8 characters
        (pa.array(["abcde"]).dictionary_encode(), "string", False),
    ],
)
def test_bounds_are_checked_on_the_answer_as_written(
    values: pa.Array[Any], kind: str, fits: bool
) -> None:
    table = pa.table({"c": values})
    if fits:
        check_bounds(table, (Column("c", kind),), max_text=4)
    else:
        with pytest.raises(ValueOutOfBounds) as refused:
            check_bounds(table, (Column("c", kind),), max_text=4)
        assert isinstance(refused.value, IsthmusError)
        assert "'c'" in refused.value.detail
