"""Declarative connectors against a fake paged API: every paging style, token expiry,
throttling, stuck paging, pushdown, budgets and idempotent operations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from isthmus.connectors.base import Filter, StreamQuery
from isthmus.connectors.declarative.auth import TokenRefreshFailed
from isthmus.connectors.declarative.calls import wait_hint
from isthmus.connectors.declarative.connector import DeclarativeConnector
from isthmus.connectors.declarative.paginators import PaginationFailed
from isthmus.connectors.declarative.spec import DeclarativeSpec
from isthmus.connectors.http import UpstreamResponse
from isthmus.connectors.registry import connector_type
from isthmus.errors import BadRequest, UpstreamFailed, UpstreamUnavailable
from isthmus.testing import ConnectorCase, ConnectorContract
from tests.connectors.declarative.fake_api import CLIENT_ID, CLIENT_SECRET, FakeApi, serve
from tests.helpers import write_project

RECORDS = [
    {"id": i, "name": f"item {i}", "status": "open" if i % 3 else "closed", "updated": 1000 + i}
    for i in range(1, 48)
]
STYLES: dict[str, dict[str, Any]] = {
    "offset": {"records": "data", "pagination": {"type": "offset", "pageSize": 10}},
    "pages": {"pagination": {"type": "page-number", "pageSize": 10}},
    "cursor": {"records": "items", "pagination": {"type": "cursor", "cursor": "meta.next"}},
    "next-url": {"records": "items", "pagination": {"type": "next-url", "url": "links.next"}},
    "odata": {"records": "value", "pagination": {"type": "odata"}},
    "salesforce": {"records": "records", "pagination": {"type": "salesforce"}},
    "link": {"records": "result", "pagination": {"type": "link-header"}},
}


def spec(**changes: Any) -> dict[str, Any]:
    streams = {
        name: {"path": f"/items/{name}", "primaryKey": ["id"], **s} for name, s in STYLES.items()
    }
    streams["stuck"] = {
        "path": "/items/stuck",
        "records": "items",
        "pagination": {"type": "cursor", "cursor": "meta.next"},
    }
    streams["elsewhere"] = {
        "path": "/items/elsewhere",
        "records": "items",
        "pagination": {"type": "next-url", "url": "links.next"},
    }
    streams["open"] = {
        "path": "/items/offset",
        "records": "data",
        "pagination": {"type": "offset", "pageSize": 10},
        "cursorField": "updated",
        "cursorParam": "updated_after",
        "filters": {"status": {"param": "status"}},
    }
    return {
        "baseUrl": "{config.url}",
        "config": {
            "url": {"description": "where the API is"},
            "clientId": {},
            "clientSecret": {"type": "secret"},
        },
        "auth": {
            "type": "oauth2-client-credentials",
            "tokenUrl": "/oauth/token",
            "clientId": "{config.clientId}",
            "clientSecret": "{config.clientSecret}",
            "expiredWhen": "$[0].errorCode = 'INVALID_SESSION_ID'",
        },
        "retries": {"attempts": 4, "backoffSeconds": 0.01, "maxBackoffSeconds": 1},
        "streams": streams,
        "operations": {
            "create": {"method": "POST", "path": "/items", "idempotencyHeader": "Idempotency-Key"}
        },
        **changes,
    }


def case(api: FakeApi, secret: str = CLIENT_SECRET, **changes: Any) -> ConnectorCase:
    return ConnectorCase(
        connector_type("declarative"),
        {
            "spec": spec(**changes),
            "values": {"url": api.url, "clientId": CLIENT_ID, "clientSecret": "secret://api"},
            "allowPrivateNetwork": True,
        },
        {"api": secret},
        sample_operation=("create", {"body": {"name": "x"}}),
    )


@pytest.fixture
async def api() -> AsyncIterator[FakeApi]:
    async with serve([dict(r) for r in RECORDS]) as running:
        yield running


async def read_all(
    connector: Any, stream: str, query: StreamQuery | None = None
) -> list[dict[str, Any]]:
    return [r async for r in connector.read(stream, query or StreamQuery())]


@pytest.mark.parametrize("style", sorted(STYLES))
async def test_every_paging_style_reads_to_the_last_record(api: FakeApi, style: str) -> None:
    async with case(api).open() as connector:
        rows = await read_all(connector, style)
    assert [r["id"] for r in rows] == [r["id"] for r in RECORDS]
    assert len(api.seen) == 5  # 47 records, 10 a page: not one request more
    assert api.token_fetches == 1


async def test_a_paginator_that_stops_advancing_fails_instead_of_looping(api: FakeApi) -> None:
    async with case(api).open() as connector:
        with pytest.raises(PaginationFailed, match=r"circle|same page"):
            await read_all(connector, "stuck")
    assert len(api.seen) == 2  # the first page, and the one asking for 'cursor=0'


async def test_a_next_page_on_another_host_is_not_followed(api: FakeApi) -> None:
    async with case(api).open() as connector:
        with pytest.raises(PaginationFailed, match="another host"):
            await read_all(connector, "elsewhere")
    assert len(api.seen) == 1


async def test_a_token_that_expires_mid_run_is_replaced_once_for_all_readers(api: FakeApi) -> None:
    async with case(api).open() as connector:
        first = connector.read("cursor", StreamQuery())
        assert (await anext(first))["id"] == 1
        api.revoke_all()  # every token the API gave is now refused (401)
        rows = await asyncio.gather(*(read_all(connector, "odata") for _ in range(5)))
        rest = [r async for r in first]
    assert all(len(found) == len(RECORDS) for found in rows)
    assert len(rest) == len(RECORDS) - 1
    assert api.token_fetches == 2  # one new token, however many callers saw the 401


async def test_expiry_signalled_in_the_body_is_detected(api: FakeApi) -> None:
    api.expiry_in_body = True
    async with case(api).open() as connector:
        await read_all(connector, "pages", StreamQuery(limit=3))
        api.revoke_all()
        assert len(await read_all(connector, "pages")) == len(RECORDS)
    assert api.token_fetches == 2


async def test_a_failed_token_fetch_is_a_clear_problem(api: FakeApi) -> None:
    async with case(api, secret="wrong").open() as connector:
        with pytest.raises(TokenRefreshFailed, match="HTTP 401") as info:
            await read_all(connector, "pages")
        assert info.value.status == 502
        assert "wrong" not in info.value.detail
        assert not (await connector.check()).ok


async def test_a_429_storm_is_waited_out(api: FakeApi) -> None:
    api.throttle = 3
    async with case(api).open() as connector:
        assert len(await read_all(connector, "cursor")) == len(RECORDS)
        assert isinstance(connector, DeclarativeConnector)
        assert connector.caller is not None
        assert connector.caller.requests == 5 + 3
    api.throttle = 10  # more than the retry policy's attempts
    async with case(api).open() as connector:
        with pytest.raises(UpstreamUnavailable):
            await read_all(connector, "cursor")


async def test_a_wait_longer_than_allowed_goes_back_to_the_caller(api: FakeApi) -> None:
    api.throttle = 1
    api.throttle_headers = {"Retry-After": "120"}
    async with case(api).open() as connector:
        with pytest.raises(UpstreamUnavailable) as info:
            await read_all(connector, "cursor")
    assert info.value.headers == {"Retry-After": "120"}
    assert len(api.seen) == 1


def test_wait_hints_from_every_header() -> None:
    def answer(**headers: str) -> UpstreamResponse:
        return UpstreamResponse(
            429,
            [(k.lower().replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
            b"",
        )

    assert wait_hint(answer(Retry_After="3"), 0) == 3
    assert wait_hint(answer(RateLimit='"burst";r=0;t=7'), 0) == 7
    assert wait_hint(answer(X_RateLimit_Reset="4"), 0) == 4
    assert wait_hint(answer(X_RateLimit_Reset="1700000010"), 1_700_000_000) == 10
    assert wait_hint(answer(), 0) is None


async def test_filters_and_cursors_are_pushed_down_and_limits_stop_early(api: FakeApi) -> None:
    async with case(api).open() as connector:
        query = StreamQuery(filters=(Filter("status", "eq", "closed"),), cursor=1020)
        rows = await read_all(connector, "open", query)
        assert [r["id"] for r in rows] == [
            r["id"] for r in RECORDS if r["status"] == "closed" and r["updated"] > 1020
        ]
        assert api.seen[-1].query["status"] == "closed"
        assert api.seen[-1].query["updated_after"] == "1020"
        api.seen.clear()
        assert len(await read_all(connector, "open", StreamQuery(limit=12))) == 12
        assert len(api.seen) == 2  # two pages of ten, not all five
        fields = StreamQuery(fields=("id",), sort=(("id", True),), limit=2)
        assert await read_all(connector, "open", fields) == [{"id": 47}, {"id": 46}]


async def test_an_error_rule_can_mean_no_records(api: FakeApi) -> None:
    rules = [{"status": 404, "action": "empty"}]
    streams = {"gone": {"path": "/items/nothing-here"}}
    async with case(api, errors=rules, streams=streams).open() as connector:
        assert await read_all(connector, "gone") == []


async def test_the_request_budget_spaces_calls_out(api: FakeApi) -> None:
    async with case(api, budget={"requests": 2, "perSeconds": 0.1}).open() as connector:
        assert len(await read_all(connector, "cursor")) == len(RECORDS)
        assert isinstance(connector, DeclarativeConnector)
        assert connector.caller is not None
        budget = connector.caller._budget
        assert budget is not None
        assert budget.waits >= 2  # five pages through a budget of two per 0.1 s


async def test_an_idempotent_create_is_retried_and_done_once(api: FakeApi) -> None:
    api.fail_next_create = 1  # the first answer is lost after the record was made
    async with case(api).open() as connector:
        made = await connector.call("create", {"body": {"name": "new"}, "idempotencyKey": "k-1"})
    assert made == {"id": 1, "name": "new"}
    assert len(api.created) == 1
    api.fail_next_create = 1
    async with case(api).open() as connector:  # without a key a POST is sent once
        with pytest.raises(UpstreamUnavailable):
            await connector.call("create", {"body": {"name": "other"}})


def test_specs_and_values_are_checked_before_anything_runs() -> None:
    with pytest.raises(ValueError, match="not declared"):
        DeclarativeSpec.model_validate({"baseUrl": "https://{config.host}/api"})
    model = connector_type("declarative").config_model
    good = {
        "spec": spec(),
        "values": {"url": "http://x", "clientId": "c", "clientSecret": "secret://s"},
    }
    model.model_validate(good)
    with pytest.raises(ValueError, match="secret:// reference"):
        model.model_validate({**good, "values": {**good["values"], "clientSecret": "plain"}})
    with pytest.raises(ValueError, match="'clientId' is required"):
        model.model_validate({**good, "values": {"url": "http://x", "clientSecret": "secret://s"}})


class TestDeclarativeConnector(ConnectorContract):
    @pytest.fixture
    async def case(self, api: FakeApi) -> ConnectorCase:  # type: ignore[override]
        return case(
            api,
            streams={
                "items": {
                    "path": "/items/odata",
                    "records": "value",
                    "primaryKey": ["id"],
                    "pagination": {"type": "odata"},
                }
            },
        )


def test_a_project_names_its_spec_file_once_for_every_environment(tmp_path: Path) -> None:
    from ruamel.yaml import YAML

    from isthmus.project.validate import load_project

    document = {"connectorSpec": 1, **spec()}
    (tmp_path / "connectors").mkdir()
    with (tmp_path / "connectors" / "fake.yaml").open("w") as out:
        YAML().dump(document, out)
    connection = """
        kind: Connection
        metadata: {{name: fake, environment: {env}}}
        spec:
          system: fake
          connector: declarative
          config:
            spec: connectors/fake.yaml
            values: {{url: "http://127.0.0.1:1", clientId: c, clientSecret: {secret}}}
        """
    write_project(
        tmp_path,
        {
            "system.yaml": "kind: System\nmetadata: {name: fake, owner: team}\n",
            "sandbox.yaml": connection.format(env="sandbox", secret="secret://fake-sandbox"),
            "production.yaml": connection.format(env="production", secret="plain-text"),
        },
    )
    project = load_project(tmp_path)
    messages = [(i.location.file, i.message) for i in project.issues]
    # the spec file is not a resource, its '{config.…}' templates are not secrets; the
    # literal secret in production is refused
    assert messages, "the literal secret went unnoticed"
    assert all(file == "production.yaml" and "secret" in text for file, text in messages)
    sandbox = next(r for k, r in project.resources.items() if k.kind == "Connection")
    assert sandbox.spec.config["spec"]["streams"]["odata"]["path"] == "/items/odata"


async def test_paging_that_goes_nowhere_or_elsewhere_fails(api: FakeApi) -> None:
    streams = {
        "ignores": {
            "path": "/items/ignores-offset",
            "records": "data",
            "pagination": {"type": "offset", "pageSize": 10},
        },
        "mailto": {
            "path": "/items/mailto",
            "records": "items",
            "pagination": {"type": "next-url", "url": "links.next"},
        },
        "moved": {"path": "/items/moved", "records": "data"},
        "goneLater": {
            "path": "/items/gone-later",
            "records": "items",
            "pagination": {"type": "cursor", "cursor": "meta.next"},
        },
    }
    rules = [{"status": 404, "action": "empty"}]
    async with case(api, streams=streams, errors=rules).open() as connector:
        with pytest.raises(PaginationFailed, match="same page"):
            await read_all(connector, "ignores")
        with pytest.raises(PaginationFailed, match=r"not a URL the hub can follow|another host"):
            await read_all(connector, "mailto")
        with pytest.raises(UpstreamFailed, match="HTTP 302"):  # redirects are failures
            await read_all(connector, "moved")
        # 'empty' means an empty list on the first page, not a list cut short
        with pytest.raises(UpstreamFailed, match="HTTP 404"):
            await read_all(connector, "goneLater")


async def test_operation_inputs_come_from_the_body_and_never_climb(api: FakeApi) -> None:
    operations = {
        "create": {"method": "POST", "path": "/items", "body": '{"name": name}'},
        "get": {"method": "GET", "path": "/items/{style}"},
        "filtered": {
            "method": "GET",
            "path": "/items/offset",
            "params": {"status": "{status}", "limit": "{limit}"},
            "optional": ["status"],
        },
    }
    async with case(api, operations=operations).open() as connector:
        some = await connector.call("filtered", {"query": {"limit": "3"}})
        assert len(some["data"]) == 3  # the optional status left out
        assert "status" not in api.seen[-1].query
        closed = await connector.call("filtered", {"query": {"limit": "50", "status": "closed"}})
        assert {r["status"] for r in closed["data"]} == {"closed"}
        with pytest.raises(BadRequest, match="limit"):
            await connector.call("filtered", {})
        made = await connector.call("create", {"body": {"name": "from a route"}, "query": {}})
        assert made["name"] == "from a route"
        for bad in ("..", ".", ""):
            with pytest.raises(BadRequest):
                await connector.call("get", {"style": bad})


def test_filter_values_are_quoted_for_their_syntax() -> None:
    from isthmus.connectors.declarative.connector import _filter_text
    from isthmus.connectors.declarative.spec import FilterParam

    servicenow = FilterParam(
        param="q",
        template="short_description{op}{value}",
        operators={"eq": "="},
        quote="servicenow",
    )
    assert (
        _filter_text(servicenow, Filter("d", "eq", "a^ORb{op}")) == "short_description=a^^ORb{op}"
    )
    odata = FilterParam(param="$filter", template="name eq '{value}'", quote="odata")
    assert _filter_text(odata, Filter("name", "eq", "O'Brien")) == "name eq 'O''Brien'"


@pytest.mark.parametrize("url", ["ftp://login.example/token", "oauth/token"])
def test_token_endpoints_are_https_urls_or_paths(url: str) -> None:
    document = spec()
    document["auth"] = {**document["auth"], "tokenUrl": url}
    with pytest.raises(ValueError, match=r"token_url|tokenUrl"):
        DeclarativeSpec.model_validate(document)
