"""Views over OData v4: the service and $metadata documents, query options pushed to
the sources, server-driven paging — read by a real OData client (python-odata over
HTTP) as Excel and Power BI read it, with the key in the query string as Power BI's
Web API key option sends it."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.auth
from odata import ODataService

from isthmus.gateway.app import Gateway
from isthmus.servers import UvicornServer, listen, run_until_started
from tests.helpers import Reply, asgi_call
from tests.virtual.conftest import CUSTOMERS, Virtual, invoice_rows

ROOT = "/analytics/v1/odata/"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


async def get(virtual: Virtual, path: str, query: str = "", **headers: str) -> Reply:
    return await asgi_call(
        virtual.gateway, "GET", path, headers={"X-Api-Key": virtual.key, **headers}, query=query
    )


@asynccontextmanager
async def over_http(virtual: Virtual) -> AsyncIterator[str]:
    """The gateway on a real socket; its base URL."""
    sock = listen("127.0.0.1", 0)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    gateway = Gateway(virtual.hub.snapshots, virtual.hub.limiter, issuer=base)
    server = UvicornServer(gateway, sock)
    tasks = await run_until_started([server])
    try:
        yield base
    finally:
        server.stop()
        await asyncio.gather(*tasks)
        sock.close()


class KeyInQuery(requests.auth.AuthBase):
    """The key added to every request's query string, as Power BI's Web API key option
    does (ApiKeyName="api_key")."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.prepare_url(request.url, {"api_key": self.key})
        return request


async def test_the_service_and_metadata_documents(virtual: Virtual) -> None:
    reply = await get(virtual, ROOT)
    assert reply.status == 200
    assert reply.headers["odata-version"] == "4.0"
    sets = {s["name"] for s in reply.json()["value"]}
    assert sets == {"customers", "invoices", "readings", "customer_360"}

    reply = await get(virtual, ROOT + "$metadata")
    assert reply.headers["content-type"] == "application/xml"
    document = ET.fromstring(reply.body)
    schema = document.find(f".//{EDM}Schema")
    assert schema is not None
    entity = schema.find(f"{EDM}EntityType[@Name='customer_360']")
    assert entity is not None
    assert [r.get("Name") for r in entity.iter(f"{EDM}PropertyRef")] == ["id"]
    types = {p.get("Name"): p.get("Type") for p in entity.iter(f"{EDM}Property")}
    assert types == {
        "id": "Edm.Int64",
        "name": "Edm.String",
        "tier": "Edm.String",
        "invoices": "Edm.Int64",
        "billed": "Edm.Double",
        "last_reading": "Edm.DateTimeOffset",
    }
    terms = {a.get("Term") for a in schema.iter(f"{EDM}Annotation")}
    assert {"Capabilities.FilterRestrictions", "Capabilities.CountRestrictions",
            "Capabilities.TopSupported", "Capabilities.InsertRestrictions"} <= terms  # fmt: skip


async def test_query_options_are_answered_from_the_sources(virtual: Virtual) -> None:
    reply = await get(
        virtual,
        ROOT + "customers",
        "$filter=tier eq 'gold' and id le 30&$select=id,name&$orderby=name desc&$count=true",
    )
    body = reply.json()
    assert body["@odata.count"] == 10
    assert [r["id"] for r in body["value"]] == [30, 27, 24, 21, 18, 15, 12, 9, 6, 3]
    assert set(body["value"][0]) == {"id", "name"}
    assert body["@odata.context"].endswith("$metadata#customers")
    assert all("tier=gold" in seen for seen in virtual.crm.seen)

    reply = await get(virtual, ROOT + "invoices", "$top=3&$skip=10&$orderby=id")
    assert [r["id"] for r in reply.json()["value"]] == [11, 12, 13]

    reply = await get(virtual, ROOT + "invoices/$count", "$filter=status eq 'late'")
    assert reply.body == str(sum(1 for i in invoice_rows() if i["status"] == "late")).encode()

    reply = await get(virtual, ROOT + "customer_360(42)")
    assert reply.json()["name"] == "Customer 042"
    assert reply.json()["last_reading"].endswith("Z")
    reply = await get(virtual, ROOT + "customers(id=4200)")
    assert reply.status == 404


async def test_server_driven_paging_uses_keyset_tokens(virtual: Virtual) -> None:
    rows: list[dict[str, Any]] = []
    path, query = ROOT + "invoices", "$filter=customer_id le 20&$orderby=amount desc"
    while True:
        reply = await get(virtual, path, query, Prefer="odata.maxpagesize=40")
        body = reply.json()
        rows += body["value"]
        if "@odata.nextLink" not in body:
            break
        link = urlsplit(body["@odata.nextLink"])
        assert "$skiptoken=" in link.query
        path, query = link.path, link.query
    wanted = sorted(
        (i for i in invoice_rows() if i["customer_id"] <= 20), key=lambda i: (-i["amount"], i["id"])
    )
    assert [r["id"] for r in rows] == [i["id"] for i in wanted]


async def test_what_is_not_offered_is_a_problem_in_both_formats(virtual: Virtual) -> None:
    reply = await get(virtual, ROOT + "customers", "$expand=orders")
    assert reply.status == 400
    body = reply.json()
    assert body["code"] == "odata-unsupported"
    assert body["error"] == {"code": "odata-unsupported", "message": body["detail"]}
    reply = await get(virtual, ROOT + "customers", "$filter=colour eq 'red'")
    assert reply.status == 400
    assert "colour" in reply.json()["error"]["message"]
    reply = await get(virtual, ROOT + "nothing")
    assert reply.status == 404
    assert virtual.crm.requests == 0


async def test_a_key_in_the_query_string_is_taken_only_by_odata(virtual: Virtual) -> None:
    reply = await asgi_call(virtual.gateway, "GET", ROOT, query=f"api_key={virtual.key}")
    assert reply.status == 200
    reply = await asgi_call(
        virtual.gateway, "GET", "/analytics/v1/customers", query=f"api_key={virtual.key}"
    )
    assert reply.status == 401


async def test_a_real_odata_client_reads_and_pages(virtual: Virtual) -> None:
    async with over_http(virtual) as base:

        def read() -> tuple[list[Any], list[Any], int]:
            session = requests.Session()
            session.headers["Prefer"] = "odata.maxpagesize=30"
            service = ODataService(
                base + ROOT, session=session, auth=KeyInQuery(virtual.key), reflect_entities=True
            )
            customers = service.entities["customer_360"]
            everyone = service.query(customers).order_by(customers.id.asc()).all()
            gold = (
                service.query(customers)
                .filter(customers.tier == "gold")
                .filter(customers.id < 50)
                .order_by(customers.name.desc())
                .all()
            )
            counted = service.query(customers).filter(customers.tier == "silver").count()
            return everyone, gold, counted

        everyone, gold, counted = await asyncio.to_thread(read)
    assert [c.id for c in everyone] == list(range(1, CUSTOMERS + 1))  # 7 pages of 30
    assert [c.id for c in gold] == [n for n in range(48, 0, -1) if n % 3 == 0]
    assert gold[0].name == "Customer 048"
    assert counted == sum(1 for n in range(1, CUSTOMERS + 1) if n % 3 == 1)
