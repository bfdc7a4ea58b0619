"""The pre-built Salesforce connector against a fake that follows Salesforce's
documented JWT bearer and client credentials flows, SOQL batches and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from joserfc.jwk import RSAKey

from isthmus.connectors.base import StreamQuery
from isthmus.connectors.declarative.auth import TokenRefreshFailed
from isthmus.connectors.registry import connector_type
from isthmus.errors import UpstreamFailed
from isthmus.testing import ConnectorCase, ConnectorContract
from tests.connectors.fakes import salesforce
from tests.connectors.fakes.common import running

KEY = RSAKey.generate_key(2048)  # the Connection's; the connected app holds its public half
ACCOUNTS = [
    {
        "Id": f"001{i:012}",
        "Name": f"Account {i}",
        "Industry": "Retail",
        "LastModifiedDate": "2026-11-01T00:00:00.000+0000",
    }
    for i in range(1, 4501)
]


@pytest.fixture
async def fake() -> AsyncIterator[salesforce.FakeSalesforce]:
    public = RSAKey.import_key(KEY.as_pem(private=False))
    api = salesforce.FakeSalesforce(
        {"Account": [dict(a) for a in ACCOUNTS], "Contact": [], "Opportunity": []}, public
    )
    async with running(api.app()) as url:
        api.url = url
        yield api


def case(
    api: salesforce.FakeSalesforce, method: str = "jwt-bearer", key: RSAKey = KEY
) -> ConnectorCase:
    return ConnectorCase(
        connector_type("salesforce"),
        {
            "values": {
                "instanceUrl": api.url,
                "loginUrl": api.url,
                "authMethod": method,
                "clientId": salesforce.CLIENT_ID,
                "username": salesforce.USERNAME,
                "privateKey": "secret://sf-key",
                "clientSecret": "secret://sf-secret",
            },
            "allowPrivateNetwork": True,
        },
        {"sf-key": key.as_pem(private=True).decode(), "sf-secret": salesforce.CLIENT_SECRET},
        sample_operation=("query", {"soql": "SELECT Id FROM Account"}),
    )


async def read(connection: ConnectorCase, stream: str) -> list[dict[str, Any]]:
    async with connection.open() as connector:
        return [r async for r in connector.read(stream, StreamQuery())]


async def test_soql_batches_are_followed_to_the_last_record(
    fake: salesforce.FakeSalesforce,
) -> None:
    rows = await read(case(fake), "accounts")
    assert [r["Id"] for r in rows] == [a["Id"] for a in ACCOUNTS]
    assert "attributes" not in rows[0]  # the spec's mapping drops Salesforce's metadata
    assert len(fake.requests) == 3  # 2000 + 2000 + 500
    assert fake.grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]


async def test_an_expired_session_is_renewed_mid_run(fake: salesforce.FakeSalesforce) -> None:
    async with case(fake).open() as connector:
        rows = []
        async for row in connector.read("accounts", StreamQuery()):
            rows.append(row)
            if len(rows) == 2500:
                fake.sessions.clear()  # the org's session timeout
        assert len(rows) == len(ACCOUNTS)
    assert fake.token_fetches == 2  # a fresh assertion, once


async def test_client_credentials_is_the_other_way_in(fake: salesforce.FakeSalesforce) -> None:
    assert len(await read(case(fake, method="client-credentials"), "accounts")) == len(ACCOUNTS)
    assert fake.grants == ["client_credentials"]


async def test_an_assertion_signed_by_another_key_is_a_clear_problem(
    fake: salesforce.FakeSalesforce,
) -> None:
    with pytest.raises(TokenRefreshFailed, match="HTTP 400"):
        await read(case(fake, key=RSAKey.generate_key(2048)), "accounts")


async def test_api_limits_fail_fast_rather_than_retry(fake: salesforce.FakeSalesforce) -> None:
    fake.limit_exceeded = True
    with pytest.raises(UpstreamFailed, match="403"):
        await read(case(fake), "accounts")
    assert len(fake.requests) == 1


async def test_sobjects_are_created_read_changed_and_deleted(
    fake: salesforce.FakeSalesforce,
) -> None:
    async with case(fake).open() as connector:
        made = await connector.call(
            "create", {"sobject": "Contact", "body": {"LastName": "Lovelace"}}
        )
        assert made["success"] is True
        await connector.call(
            "update", {"sobject": "Contact", "id": made["id"], "body": {"Email": "ada@x.example"}}
        )
        got = await connector.call("get", {"sobject": "Contact", "id": made["id"]})
        assert got["Email"] == "ada@x.example"
        await connector.call("delete", {"sobject": "Contact", "id": made["id"]})
        found = await connector.call("query", {"soql": "SELECT Id, LastName FROM Contact"})
    assert found["totalSize"] == 0


class TestSalesforce(ConnectorContract):
    @pytest.fixture
    def case(self, fake: salesforce.FakeSalesforce) -> ConnectorCase:  # type: ignore[override]
        return case(fake)
