"""Views as REST collections: paged with cursors, sorted and filtered at the sources,
described in the version's OpenAPI document."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.helpers import Reply, asgi_call
from tests.virtual.conftest import CUSTOMERS, Virtual, invoice_rows


async def get(virtual: Virtual, path: str, query: str = "") -> Reply:
    return await asgi_call(
        virtual.gateway, "GET", path, headers={"X-Api-Key": virtual.key}, query=query
    )


async def pages(virtual: Virtual, path: str, query: str) -> list[dict[str, Any]]:
    """Every row, following nextLink to the last page."""
    rows: list[dict[str, Any]] = []
    while True:
        reply = await get(virtual, path, query)
        assert reply.status == 200, reply.json()
        body = reply.json()
        rows += body["value"]
        if "nextLink" not in body:
            return rows
        link = urlsplit(body["nextLink"])
        assert link.path == path
        path, query = link.path, link.query


async def test_a_published_view_pages_to_its_last_row(virtual: Virtual) -> None:
    rows = await pages(virtual, "/analytics/v1/customer_360", "limit=45")
    assert [r["id"] for r in rows] == list(range(1, CUSTOMERS + 1))
    billed = {r["id"]: r["billed"] for r in rows}
    for customer in (1, 99, 200):
        mine = [i["amount"] for i in invoice_rows() if i["customer_id"] == customer]
        assert billed[customer] == float(sum(mine))


async def test_sorting_and_filters_reach_the_sources(virtual: Virtual) -> None:
    rows = await pages(
        virtual,
        "/analytics/v1/customers",
        "filter=tier eq 'gold' and id lt 40&sort=-id&limit=5",
    )
    assert [r["id"] for r in rows] == [n for n in range(39, 0, -1) if n % 3 == 0]
    assert all("tier=gold" in seen for seen in virtual.crm.seen)  # filtered by the API

    reply = await get(virtual, "/analytics/v1/invoices", "customer_id=8&sort=amount,id")
    body = reply.json()
    wanted = sorted(
        (i for i in invoice_rows() if i["customer_id"] == 8), key=lambda i: (i["amount"], i["id"])
    )
    assert [r["id"] for r in body["value"]] == [i["id"] for i in wanted]

    reply = await get(virtual, "/analytics/v1/customers", "filter=startswith(name, 'Customer 01')")
    assert len(reply.json()["value"]) == 10


async def test_a_descending_time_sort_pages_exactly(virtual: Virtual) -> None:
    rows = await pages(virtual, "/analytics/v1/invoices", "sort=-issued&limit=400&status=late")
    late = sorted((i for i in invoice_rows() if i["status"] == "late"), key=lambda i: i["issued"])
    assert [r["id"] for r in rows] == [i["id"] for i in reversed(late)]


async def test_a_bad_query_is_refused_before_any_source_is_read(virtual: Virtual) -> None:
    reply = await get(virtual, "/analytics/v1/customers", "filter=colour eq 'red'&sort=shoe")
    assert reply.status == 422
    problem = reply.json()
    assert {e["pointer"] for e in problem["errors"]} == {"/query/filter", "/query/sort"}
    assert virtual.crm.requests == 0


async def test_the_openapi_document_describes_each_view(virtual: Virtual) -> None:
    reply = await get(virtual, "/analytics/v1/openapi.json")
    document = reply.json()
    operation = document["paths"]["/customer_360"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"limit", "cursor", "sort", "filter", "tier", "id"} <= names
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]
    record = page["properties"]["value"]["items"]
    assert record["properties"]["billed"] == {"type": ["number", "null"]}
    assert record["properties"]["last_reading"]["format"] == "date-time"


async def test_a_route_with_a_key_answers_one_row(virtual: Virtual) -> None:
    await virtual.add(
        {
            "kind": "Api",
            "metadata": {"name": "analytics"},
            "spec": {
                "versions": [
                    {
                        "name": "v1",
                        "views": ["customers", "customer_360"],
                        "routes": [
                            {
                                "path": "/customer/{id}",
                                "target": {"type": "view", "view": "customer_360"},
                            }
                        ],
                    }
                ]
            },
        }
    )
    reply = await get(virtual, "/analytics/v1/customer/42")
    assert reply.status == 200, reply.json()
    assert reply.json()["name"] == "Customer 042"
    assert virtual.crm.seen == ["/customers?id=42&offset=0&limit=50"]
    reply = await get(virtual, "/analytics/v1/customer/4242")
    assert reply.status == 404
    assert reply.json()["code"] == "row-not-found"
    reply = await get(virtual, "/analytics/v1/invoices")
    assert reply.status == 404  # no longer published
