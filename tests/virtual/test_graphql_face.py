"""Views over GraphQL: a schema generated from the Views, filters and paging asked of
the sources, relations loaded in one query per relation, depth and cost limits."""

from __future__ import annotations

from typing import Any

import orjson
from graphql import get_introspection_query

from isthmus.store.audit import AuditFilter
from tests.helpers import Reply, asgi_call
from tests.virtual.conftest import Virtual, invoice_rows

PATH = "/analytics/v1/graphql"


async def ask(virtual: Virtual, query: str, **variables: Any) -> Reply:
    return await asgi_call(
        virtual.gateway,
        "POST",
        PATH,
        headers={"X-Api-Key": virtual.key, "Content-Type": "application/json"},
        body=orjson.dumps({"query": query, "variables": variables}),
    )


async def data(virtual: Virtual, query: str, **variables: Any) -> dict[str, Any]:
    reply = await ask(virtual, query, **variables)
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert "errors" not in body, body["errors"]
    found: dict[str, Any] = body["data"]
    return found


async def test_filters_order_and_pages_reach_the_sources(virtual: Virtual) -> None:
    query = """query($after: String) {
      customers(where: {tier: {eq: "gold"}, id: {lt: 40}}, orderBy: [{field: name,
                direction: DESC}], limit: 4, after: $after) {
        items { id name } nextCursor totalCount } }"""
    ids: list[int] = []
    cursor = None
    while True:
        page = (await data(virtual, query, after=cursor))["customers"]
        assert page["totalCount"] == 13
        ids += [c["id"] for c in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert ids == [n for n in range(39, 0, -1) if n % 3 == 0]
    assert all("tier=gold" in seen for seen in virtual.crm.seen)

    found = await data(
        virtual,
        '{ customers(where: {or: [{id: {in: [5, 7]}}, {name: {endsWith: "199"}}]}) '
        "{ items { id } } }",
    )
    assert sorted(c["id"] for c in found["customers"]["items"]) == [5, 7, 199]


async def test_one_row_by_key_with_its_values_typed(virtual: Virtual) -> None:
    found = await data(virtual, "{ customer_360_by_key(id: 42) { name billed last_reading } }")
    row = found["customer_360_by_key"]
    assert row["name"] == "Customer 042"
    assert isinstance(row["billed"], float)
    assert row["last_reading"].endswith("Z")
    found = await data(virtual, "{ customer_360_by_key(id: 4242) { name } }")
    assert found["customer_360_by_key"] is None


async def test_relations_load_in_one_query_per_relation(virtual: Virtual) -> None:
    found = await data(
        virtual,
        """{ customers(where: {id: {le: 12}}, limit: 12) {
              items { id invoices { id amount customer { name } } } } }""",
    )
    items = found["customers"]["items"]
    assert [c["id"] for c in items] == list(range(1, 13))
    for customer in items:
        wanted = sorted(i["id"] for i in invoice_rows() if i["customer_id"] == customer["id"])
        assert sorted(i["id"] for i in customer["invoices"]) == wanted
        assert {i["customer"]["name"] for i in customer["invoices"]} == {
            f"Customer {customer['id']:03d}"
        }
    await virtual.hub.audit.drain()
    queries = await virtual.hub.store.audit.list(AuditFilter(action="virtual.query"))
    assert len(queries) == 3  # customers, their invoices, the invoices' customers
    keyed = [seen for seen in virtual.crm.seen if "id=" in seen]
    assert keyed == ["/customers?id=1,2,3,4,5,6,7,8,9,10,11,12&offset=0&limit=50"]


async def test_depth_and_cost_are_limited_before_anything_runs(virtual: Virtual) -> None:
    deep = "{ customers { items { invoices { customer { invoices { customer { name } } } } } } }"
    reply = await ask(virtual, deep)
    assert reply.status == 422
    assert reply.json()["code"] == "graphql-too-costly"
    assert "nests 7 levels" in reply.json()["detail"]
    costly = "{ customers(limit: 1000) { items { id invoices { id amount } } } }"
    reply = await ask(virtual, costly)
    assert reply.status == 422
    assert "could cost" in reply.json()["detail"]
    assert virtual.crm.requests == 0


async def test_the_operation_that_runs_is_the_one_measured(virtual: Virtual) -> None:
    big = " ".join(f"a{n}: invoices(limit: 1000) {{ items {{ id amount }} }}" for n in range(8))
    cheap = "invoices(limit: -1000000) { items { id } }"
    document = f"query Big {{ {big} }} query Cheap {{ {cheap} }}"
    reply = await asgi_call(
        virtual.gateway,
        "POST",
        PATH,
        headers={"X-Api-Key": virtual.key, "Content-Type": "application/json"},
        body=orjson.dumps({"query": document, "operationName": "Big"}),
    )
    assert reply.status == 422
    assert reply.json()["code"] == "graphql-too-costly"


async def test_invalid_queries_say_why_and_introspection_works(virtual: Virtual) -> None:
    reply = await ask(virtual, "{ customers { items { colour } } }")
    assert reply.status == 400
    problem = reply.json()
    assert problem["code"] == "graphql-invalid"
    assert "colour" in problem["errors"][0]["message"]
    reply = await ask(virtual, "{ customers { ")
    assert reply.status == 400

    schema = await data(virtual, get_introspection_query())
    types = {t["name"] for t in schema["__schema"]["types"]}
    assert {"customers", "customer_360", "customers_filter", "invoices_page"} <= types


async def test_a_source_refusal_is_a_field_error_with_its_code(virtual: Virtual) -> None:
    reply = await ask(
        virtual, '{ customers(where: {created: {gt: "not a time"}}) { items { id } } }'
    )
    assert reply.status == 200
    body = reply.json()
    assert body["data"] is None
    error = body["errors"][0]
    assert error["path"] == ["customers"]
    assert error["extensions"]["code"].startswith("virtual-")
    assert error["extensions"]["remediation"]
