"""The bounds the generated documents declare, held by the gateway: collection queries
refused past their lengths, cursors and next links never written longer than declared,
problem fields cut, RateLimit headers no longer than their declared maximum."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from isthmus.errors import (
    MAX_DETAIL_LENGTH,
    MAX_REMEDIATION_LENGTH,
    MAX_TITLE_LENGTH,
    BadRequest,
    Problem,
)
from isthmus.gateway import collections as paging
from isthmus.gateway.collections import CannotPage, next_link, write_cursor
from isthmus.gateway.ratelimit import RATELIMIT_MAX_LENGTH, RATELIMIT_POLICY_MAX_LENGTH, Policies
from isthmus.model.plan import MAX_QUOTA
from tests.gateway.conftest import Running, publish, resource
from tests.helpers import assert_problem

FIELDS = {"id": {"type": "integer"}, "name": {}, "joined": {"type": "date-time"}}


@pytest.fixture
async def people(running: Running) -> Running:
    route = {
        "path": "/people",
        "collection": {"key": "id", "fields": FIELDS, "records": "results"},
        "target": {"type": "proxy", "connection": "crm"},
    }
    await publish(running, "directory", [{"name": "v1", "routes": [route]}])
    return running


async def refused(running: Running, query: str) -> list[dict[str, str]]:
    reply = await running.get("/directory/v1/people", running.key, query=query)
    errors: list[dict[str, str]] = assert_problem(reply, 422, "request-invalid")["errors"]
    return errors


async def test_over_long_parts_of_a_collection_query_are_refused(people: Running) -> None:
    long_cursor = "A" * (paging.MAX_CURSOR_LENGTH + 1)
    assert await refused(people, f"cursor={long_cursor}") == [
        {
            "pointer": "/query/cursor",
            "message": "is longer than any cursor this Api gives out; use the whole 'nextLink'",
        }
    ]
    sort = ",".join(["name"] * (paging.MAX_SORT_LENGTH // 5 + 1))
    assert [e["pointer"] for e in await refused(people, f"sort={sort}")] == ["/query/sort"]
    name = "x" * (paging.MAX_VALUE_LENGTH + 1)
    assert [e["pointer"] for e in await refused(people, f"name={name}")] == ["/query/name"]
    joined = "2026-01-01T00:00:00" + "0" * paging.MAX_MOMENT_LENGTH
    assert [e["pointer"] for e in await refused(people, f"joined={joined}")] == ["/query/joined"]
    whole = "&".join(f"other{n}=1" for n in range(paging.MAX_QUERY_LENGTH // 8))
    assert [e["pointer"] for e in await refused(people, whole)] == ["/query"]
    # just within the bounds: answered
    reply = await people.get("/directory/v1/people", people.key, query="name=" + "x" * 2000)
    assert reply.status == 200, reply.body


async def test_a_cursor_must_be_base64url_as_the_gateway_writes_them(people: Running) -> None:
    errors = await refused(people, "cursor=" + quote("eyJx+/Ij=="))
    assert errors[0]["pointer"] == "/query/cursor"


@pytest.mark.parametrize(
    "value", ["+5", " 5", "5_000", "1e3", "0x10", "9223372036854775808", "-9223372036854775809"]
)
async def test_integer_fields_take_digits_within_64_bits(people: Running, value: str) -> None:
    errors = await refused(people, "id=" + quote(value))
    assert errors == [{"pointer": "/query/id", "message": paging._EXPECTED["integer"]}]


async def test_integer_fields_compare_their_digits_as_numbers(people: Running) -> None:
    for value, found in (("3", [3]), ("-9223372036854775808", []), ("0003", [3])):
        reply = await people.get("/directory/v1/people", people.key, query=f"id={value}")
        assert reply.status == 200, reply.body
        assert [r["id"] for r in reply.json()["value"]] == found


def test_cursors_and_links_are_never_written_longer_than_declared() -> None:
    assert len(write_cursor(["x" * 1000], "f" * 16)) <= paging.MAX_CURSOR_LENGTH
    with pytest.raises(CannotPage):
        write_cursor(["x" * paging.MAX_CURSOR_LENGTH], "f" * 16)
    base = "https://hub.example.test/directory/v1/people"
    link = next_link(base, (("filter", "name eq 'x'"),), "abc")
    assert link == f"{base}?filter=name+eq+%27x%27&cursor=abc"
    with pytest.raises(CannotPage) as refused:
        next_link(base, (("filter", "'" * (paging.MAX_LINK_LENGTH // 3)),), "abc")
    assert refused.value.problem()["code"] == "collection-cannot-page"


def test_problem_fields_are_cut_to_their_declared_lengths() -> None:
    error = BadRequest("d" * 10_000, remediation="r" * 5000)
    body = error.problem(instance="/i" * 5000)
    assert len(body["detail"]) == MAX_DETAIL_LENGTH
    assert body["detail"].endswith("\u2026")
    assert len(body["remediation"]) == MAX_REMEDIATION_LENGTH
    short = BadRequest("fine").problem()
    assert short["detail"] == "fine"
    assert short["remediation"] == BadRequest.remediation
    schema: dict[str, Any] = Problem.model_json_schema()["properties"]
    assert schema["detail"]["maxLength"] == MAX_DETAIL_LENGTH
    assert schema["title"]["maxLength"] == MAX_TITLE_LENGTH
    Problem.model_validate(body)  # what the hub sends fits what it declares


def test_the_longest_ratelimit_headers_fit_their_declared_length() -> None:
    plan = resource(
        {
            "kind": "Plan",
            "metadata": {"name": "largest"},
            "spec": {
                "rate": {"requests": MAX_QUOTA, "periodSeconds": 86400, "burst": MAX_QUOTA},
                "dailyQuota": MAX_QUOTA,
            },
        }
    )
    policies = Policies.of(plan)  # type: ignore[arg-type]
    assert len(policies.header) <= RATELIMIT_POLICY_MAX_LENGTH  # burst is per second
    longest = f'"daily";r={MAX_QUOTA};t=86400'
    assert len(longest) == RATELIMIT_MAX_LENGTH
    with pytest.raises(ValueError, match="less than or equal"):
        resource({"kind": "Plan", "metadata": {"name": "x"}, "spec": {"dailyQuota": MAX_QUOTA + 1}})
