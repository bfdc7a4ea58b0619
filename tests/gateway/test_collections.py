"""Collection routes: limit + cursor paging with absolute nextLinks, sort, field filters
and the OData filter expression, against a real backend that returns the whole list."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from isthmus.gateway.filtering import FilterInvalid, compile_filter
from isthmus.model.collection import Collection
from tests.gateway.conftest import ISSUER, PEOPLE, Backend, Running, publish, resource
from tests.helpers import assert_problem

FIELDS = {
    "id": {"type": "integer"},
    "name": {},
    "age": {"type": "integer"},
    "tier": {},
    "country": {},
    "active": {"type": "boolean"},
    "joined": {"type": "date-time"},
    "email": {"sortable": False},
    "secretScore": {"type": "integer", "filterable": False, "sortable": False},
}


async def people(running: Running, **collection: Any) -> None:
    spec = {"key": "id", "fields": FIELDS, "records": "results", **collection}
    route = {
        "path": "/people",
        "collection": spec,
        "response": {"type": "object", "required": ["id", "name"]},
        "target": {"type": "proxy", "connection": "crm"},
    }
    await publish(running, "directory", [{"name": "v1", "routes": [route]}])


async def get(running: Running, query: str) -> Any:
    return await running.get("/directory/v1/people", running.key, query=quote(query, safe="=&"))


def ids(reply: Any) -> list[int]:
    return [record["id"] for record in reply.json()["value"]]


async def follow(running: Running, query: str) -> tuple[list[int], int]:
    """All ids over every page, and the number of pages."""
    reply = await get(running, query)
    seen, pages = ids(reply), 1
    while "nextLink" in reply.json():
        link = urlsplit(reply.json()["nextLink"])
        assert f"{link.scheme}://{link.netloc}" == ISSUER  # absolute, on the gateway
        assert link.path == "/directory/v1/people"
        reply = await running.get(link.path, running.key, query=link.query)
        assert reply.status == 200, reply.json()
        seen += ids(reply)
        pages += 1
    return seen, pages


async def test_pages_follow_next_links_to_every_record_once(
    running: Running, backend: Backend
) -> None:
    await people(running)
    seen, pages = await follow(running, "limit=3")
    assert seen == [1, 2, 3, 4, 5, 6, 7]  # by the key when no sort is asked for
    assert pages == 3
    # the gateway's own parameters never reach the backend
    assert all(hit["raw_path"] == "/people" for hit in backend.seen)


async def test_sort_on_several_fields_with_ties_pages_exactly(running: Running) -> None:
    await people(running)
    expected = sorted(PEOPLE, key=lambda p: (-p["age"], p["name"]))
    seen, _ = await follow(running, "sort=-age,name&limit=2")
    assert seen == [p["id"] for p in expected]
    # the key breaks ties: the same age twice, in id order
    reply = await get(running, "sort=age&limit=10")
    assert ids(reply) == [6, 1, 4, 3, 5, 2, 7]
    assert "nextLink" not in reply.json()


async def test_default_sort_and_limit(running: Running) -> None:
    await people(running, defaultSort=["-joined"], defaultLimit=2)
    reply = await get(running, "")
    assert ids(reply) == [6, 4]
    assert "nextLink" in reply.json()


async def test_field_filters_are_typed(running: Running) -> None:
    await people(running)
    assert ids(await get(running, "tier=gold")) == [1, 3, 5]
    assert ids(await get(running, "tier=gold&country=US")) == [5]
    assert ids(await get(running, "age=36")) == [1, 4]
    assert ids(await get(running, "active=false")) == [2, 5]
    assert ids(await get(running, "joined=2024-03-01T09:00:00Z")) == [1]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("age gt 40", [2, 3, 5, 7]),
        ("age ge 36 and age le 41", [1, 3, 4, 5]),
        ("tier eq 'gold' or country eq 'NL'", [1, 3, 4, 5]),
        ("not (tier eq 'gold')", [2, 4, 6, 7]),
        ("country in ('FR', 'NL')", [4, 7]),
        ("contains(tolower(name), 'an')", [3, 7]),
        ("startswith(name, 'A') and active", [1, 3]),
        ("endswith(email, '.test') and not active", [2, 5]),
        ("email eq null", [3]),
        ("email ne null and age lt 36", [6]),
        ("joined ge 2024-01-01T00:00:00Z", [1, 4, 6]),
        ("tier ne 'gold' and (age gt 50 or country eq 'GB')", [6, 7]),
    ],
)
async def test_the_filter_expression(
    running: Running, expression: str, expected: list[int]
) -> None:
    await people(running)
    reply = await get(running, f"filter={expression}&limit=100")
    assert reply.status == 200, reply.json()
    assert ids(reply) == expected


async def test_a_cursor_stays_with_its_query(running: Running, backend: Backend) -> None:
    await people(running)
    reply = await get(running, "tier=gold&limit=1")
    cursor = dict(parse_qsl(urlsplit(reply.json()["nextLink"]).query))["cursor"]
    assert "gold" not in cursor
    assert "tier" not in cursor
    reply = await running.get(
        "/directory/v1/people", running.key, query=urlsplit(reply.json()["nextLink"]).query
    )
    assert ids(reply) == [3]
    called = len(backend.seen)
    for query in (f"tier=silver&cursor={cursor}", f"sort=name&tier=gold&cursor={cursor}"):
        body = assert_problem(await get(running, query), 422, "request-invalid")
        assert body["errors"] == [
            {
                "pointer": "/query/cursor",
                "message": "belongs to another sort or filter; keep them as in the 'nextLink'",
            }
        ]
    for forged in ("not-a-cursor!", "e30", cursor[:-3]):
        body = assert_problem(
            await get(running, f"tier=gold&cursor={forged}"), 422, "request-invalid"
        )
        assert body["errors"][0]["pointer"] == "/query/cursor"
    assert len(backend.seen) == called  # refused before any backend call


async def test_every_query_problem_is_reported_at_once(running: Running, backend: Backend) -> None:
    await people(running)
    reply = await get(
        running,
        "limit=0&sort=email,-nope&age=old&secretScore=3&filter=price gt 3",
    )
    body = assert_problem(reply, 422, "request-invalid")
    pointers = [error["pointer"] for error in body["errors"]]
    assert pointers == [
        "/query/limit",
        "/query/sort",
        "/query/sort",
        "/query/age",
        "/query/secretScore",
        "/query/filter",
    ]
    assert "sortable fields" in body["errors"][1]["message"]
    assert "'price'" in body["errors"][-1]["message"]
    assert backend.seen == []
    assert_problem(await get(running, "limit=1001"), 422, "request-invalid")
    for odd in ("\u00b2", "\uff11\uff12", "9" * 20):  # digits, but not ASCII, or huge
        assert_problem(await get(running, f"limit={odd}"), 422, "request-invalid")


async def test_records_are_found_by_default_in_value(running: Running) -> None:
    route = {
        "path": "/people",
        "collection": {"key": "id", "fields": {"id": {"type": "integer"}}},
        # the backend answers {"results": [...]}; a mapping renames it to 'value'
        "target": {
            "type": "proxy",
            "connection": "crm",
            "mapping": {"response": '{"value": results}'},
        },
    }
    await publish(running, "directory", [{"name": "v1", "routes": [route]}])
    assert ids(await get(running, "limit=2&sort=-id")) == [7, 6]


async def test_an_answer_without_records_is_a_contract_violation(running: Running) -> None:
    await people(running, records="nothing.here")
    reply = await get(running, "")
    assert reply.status == 200
    assert reply.json() == {"value": []}
    route = {
        "path": "/other",
        "collection": {"key": "id", "fields": {"id": {}}},
        "target": {"type": "proxy", "connection": "crm"},  # answers {"path", "method"}
    }
    await publish(running, "odd", [{"name": "v1", "routes": [route]}])
    reply = await running.get("/odd/v1/other", running.key)
    assert_problem(reply, 502, "upstream-contract-violation")


async def test_the_openapi_document_describes_the_conventions(running: Running) -> None:
    await people(running)
    reply = await running.get("/directory/v1/openapi.json", running.key)
    operation = reply.json()["paths"]["/people"]["get"]
    names = [p["name"] for p in operation["parameters"]]
    assert names[:4] == ["limit", "cursor", "sort", "filter"]
    assert "secretScore" not in names
    assert "tier" in names
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["properties"]["value"]["items"] == {"type": "object", "required": ["id", "name"]}
    assert schema["properties"]["nextLink"]["format"] == "uri"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"limit": {}}, "collection parameter"),
        ({"a-b": {}}, "not an identifier"),
        ({"name": {}}, "key 'id' is not one of the fields"),
    ],
)
def test_collection_declarations_are_checked(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Collection.model_validate({"key": "id", "fields": fields})


def test_collections_are_read_only() -> None:
    route = {
        "method": "POST",
        "path": "/people",
        "collection": {"key": "id", "fields": {"id": {}}},
        "target": {"type": "proxy", "connection": "crm"},
    }
    with pytest.raises(ValueError, match="only GET routes can be collections"):
        resource(
            {
                "kind": "Api",
                "metadata": {"name": "a"},
                "spec": {"versions": [{"name": "v1", "routes": [route]}]},
            }
        )


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("secretScore gt 3", "fields that can be filtered"),
        ("age eq 'old'", "value of another type"),
        ("tier gt 3", "value of another type"),
        ("length(name) gt 3", "compares something other than a field"),
        ("matchesPattern(name, 'A.*')", "functions: contains"),
        ("age add 1 eq 3", "compares something other than a field"),
        ("tier eq", "is not a filter expression"),
        ("age lt null", "against null"),
        ("x" * 2001, "longer than"),
        (" or ".join(["age eq 1"] * 80), "more than 200 parts"),
    ],
)
def test_filter_expressions_that_cannot_be_used(expression: str, message: str) -> None:
    spec = Collection.model_validate({"key": "id", "fields": FIELDS})
    with pytest.raises(FilterInvalid, match=message):
        compile_filter(expression, spec)
