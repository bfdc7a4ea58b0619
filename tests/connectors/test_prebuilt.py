"""Pre-built connectors against fakes that follow each vendor's documented behaviour:
listed and paged to the last record, a token expiry mid-run, a 429 storm, a stuck
cursor, pushdown, operations; and each passes the connector contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from isthmus.connectors.base import Filter, StreamQuery
from isthmus.connectors.declarative.paginators import PaginationFailed
from isthmus.connectors.registry import connector_type
from isthmus.errors import UpstreamUnavailable
from isthmus.testing import ConnectorCase, ConnectorContract
from tests.connectors.fakes import graph, servicenow
from tests.connectors.fakes.common import running

USERS = [
    {
        "id": f"u{i:04}",
        "displayName": "O'Brien" if i == 7 else f"User {i}",
        "mail": f"user{i}@contoso.example",
        "userPrincipalName": f"user{i}@contoso.example",
        "accountEnabled": i % 4 != 0,
    }
    for i in range(1, 251)
]
MESSAGES = [
    {
        "id": f"m{i}",
        "subject": f"Report {i}",
        "receivedDateTime": f"2026-11-{i:02}T08:00:00Z",
        "isRead": i % 2 == 0,
    }
    for i in range(1, 21)
]
INCIDENTS = [
    {
        "sys_id": f"{i:032x}",
        "number": f"INC{i:07}",
        "short_description": f"Printer {i} jammed",
        "priority": str(1 + i % 5),
        "active": "true" if i % 3 else "false",
        "state": "1",
        "sys_updated_on": f"2026-11-{1 + i % 28:02} 10:{i % 60:02}:00",
    }
    for i in range(1, 131)
]


@pytest.fixture
async def fake_graph() -> AsyncIterator[graph.FakeGraph]:
    fake = graph.FakeGraph(
        [dict(u) for u in USERS], messages={"user1@contoso.example": list(MESSAGES)}
    )
    async with running(fake.app()) as url:
        fake.url = url
        yield fake


@pytest.fixture
async def fake_servicenow() -> AsyncIterator[servicenow.FakeServiceNow]:
    fake = servicenow.FakeServiceNow({"incident": [dict(i) for i in INCIDENTS]})
    async with running(fake.app()) as url:
        fake.url = url
        yield fake


def graph_case(fake: graph.FakeGraph, secret: str = graph.CLIENT_SECRET) -> ConnectorCase:
    return ConnectorCase(
        connector_type("microsoft-graph"),
        {
            "values": {
                "tenantId": graph.TENANT,
                "clientId": graph.CLIENT_ID,
                "clientSecret": "secret://graph",
                "authority": fake.url,
                "mailbox": "user1@contoso.example",
            },
            "baseUrl": f"{fake.url}/v1.0",
            "allowPrivateNetwork": True,
        },
        {"graph": secret},
        sample_operation=("getUser", {"id": "u0001"}),
    )


def servicenow_case(fake: servicenow.FakeServiceNow) -> ConnectorCase:
    return ConnectorCase(
        connector_type("servicenow"),
        {
            "values": {"instance": "acme", "username": servicenow.USER, "password": "secret://sn"},
            "baseUrl": f"{fake.url}/api/now",
            "allowPrivateNetwork": True,
        },
        {"sn": servicenow.PASSWORD},
        sample_operation=(
            "createIncident",
            {"body": {"short_description": "made by the contract"}},
        ),
    )


async def read(
    case: ConnectorCase, stream: str, query: StreamQuery | None = None
) -> list[dict[str, Any]]:
    async with case.open() as connector:
        return [r async for r in connector.read(stream, query or StreamQuery())]


# -- Microsoft Graph ------------------------------------------------------------------


async def test_graph_pages_users_to_the_last_one(fake_graph: graph.FakeGraph) -> None:
    rows = await read(graph_case(fake_graph), "users")
    assert [r["id"] for r in rows] == [u["id"] for u in USERS]
    assert len(fake_graph.requests) == 3  # $top=100: 100 + 100 + 50
    assert fake_graph.token_fetches == 1


async def test_graph_survives_a_token_expiry_mid_run(fake_graph: graph.FakeGraph) -> None:
    async with graph_case(fake_graph).open() as connector:
        rows = []
        async for row in connector.read("users", StreamQuery()):
            rows.append(row)
            if len(rows) == 150:  # halfway through the second page
                fake_graph.tokens.clear()  # every token expires
        assert len(rows) == len(USERS)
    assert fake_graph.token_fetches == 2


async def test_graph_waits_out_a_429_storm(fake_graph: graph.FakeGraph) -> None:
    fake_graph.throttle = 4
    assert len(await read(graph_case(fake_graph), "users")) == len(USERS)
    assert len(fake_graph.requests) == 3 + 4
    fake_graph.throttle = 50  # beyond the spec's five tries
    with pytest.raises(UpstreamUnavailable):
        await read(graph_case(fake_graph), "users")


async def test_graph_never_loops_on_a_stuck_next_link(fake_graph: graph.FakeGraph) -> None:
    fake_graph.repeat_next_link = True
    with pytest.raises(PaginationFailed):
        await read(graph_case(fake_graph), "users")
    assert len(fake_graph.requests) <= 3


async def test_graph_filters_and_select_are_pushed_down(fake_graph: graph.FakeGraph) -> None:
    query = StreamQuery(
        filters=(Filter("displayName", "eq", "O'Brien"), Filter("accountEnabled", "eq", True)),
        fields=("displayName", "mail"),
    )
    rows = await read(graph_case(fake_graph), "users", query)
    assert rows == [{"displayName": "O'Brien", "mail": "user7@contoso.example"}]
    sent = fake_graph.requests[-1].query
    assert sent["$filter"] == "displayName eq 'O''Brien' and accountEnabled eq true"
    assert sent["$select"] == "displayName,mail,accountEnabled"  # what the hub re-checks


async def test_graph_reads_new_mail_incrementally_and_sends(fake_graph: graph.FakeGraph) -> None:
    rows = await read(
        graph_case(fake_graph), "messages", StreamQuery(cursor="2026-11-15T08:00:00Z")
    )
    assert [r["id"] for r in rows] == [f"m{i}" for i in range(16, 21)]
    assert fake_graph.requests[-1].query["$filter"] == "receivedDateTime gt 2026-11-15T08:00:00Z"
    async with graph_case(fake_graph).open() as connector:
        await connector.call(
            "sendMail", {"to": "boss@contoso.example", "subject": "Hi", "text": "Done."}
        )
    assert fake_graph.sent[0]["message"]["toRecipients"] == [
        {"emailAddress": {"address": "boss@contoso.example"}}
    ]


async def test_graph_with_a_wrong_secret_says_so(fake_graph: graph.FakeGraph) -> None:
    async with graph_case(fake_graph, secret="nope").open() as connector:
        health = await connector.check()
    assert not health.ok
    assert "token" in health.detail


# -- ServiceNow -------------------------------------------------------------------------


async def test_servicenow_pages_incidents_by_link_headers(
    fake_servicenow: servicenow.FakeServiceNow,
) -> None:
    rows = await read(servicenow_case(fake_servicenow), "incidents")
    assert [r["number"] for r in rows] == [i["number"] for i in INCIDENTS]
    assert len(fake_servicenow.requests) == 2  # sysparm_limit=100: 100 + 30


async def test_servicenow_filters_become_one_encoded_query(
    fake_servicenow: servicenow.FakeServiceNow,
) -> None:
    query = StreamQuery(
        filters=(Filter("active", "eq", "true"), Filter("priority", "le", "2")),
        cursor="2026-11-20 00:00:00",
        fields=("number", "priority", "active", "sys_updated_on"),
    )
    rows = await read(servicenow_case(fake_servicenow), "incidents", query)
    expected = [
        i["number"]
        for i in INCIDENTS
        if i["active"] == "true"
        and i["priority"] <= "2"
        and i["sys_updated_on"] > "2026-11-20 00:00:00"
    ]
    assert [r["number"] for r in rows] == expected
    sent = fake_servicenow.requests[-1].query
    assert sent["sysparm_query"] == "active=true^priority<=2^sys_updated_on>2026-11-20 00:00:00"
    assert sent["sysparm_fields"] == "number,priority,active,sys_updated_on"  # all needed


async def test_servicenow_waits_for_the_rate_limit_reset(
    fake_servicenow: servicenow.FakeServiceNow,
) -> None:
    fake_servicenow.throttle, fake_servicenow.reset_in = 2, 1  # X-RateLimit-Reset only
    assert len(await read(servicenow_case(fake_servicenow), "incidents")) == len(INCIDENTS)
    assert len(fake_servicenow.requests) == 2 + 2


async def test_servicenow_operations_change_records(
    fake_servicenow: servicenow.FakeServiceNow,
) -> None:
    async with servicenow_case(fake_servicenow).open() as connector:
        made = await connector.call("createIncident", {"body": {"short_description": "Disk full"}})
        changed = await connector.call(
            "updateIncident", {"sys_id": made["sys_id"], "body": {"priority": "1"}}
        )
        assert changed["priority"] == "1"
        await connector.call("deleteIncident", {"sys_id": made["sys_id"]})
    assert len(fake_servicenow.tables["incident"]) == len(INCIDENTS)


class TestMicrosoftGraph(ConnectorContract):
    @pytest.fixture
    def case(self, fake_graph: graph.FakeGraph) -> ConnectorCase:  # type: ignore[override]
        return graph_case(fake_graph)


class TestServiceNow(ConnectorContract):
    @pytest.fixture
    def case(self, fake_servicenow: servicenow.FakeServiceNow) -> ConnectorCase:  # type: ignore[override]
        return servicenow_case(fake_servicenow)
