"""The pre-built Workday connector against a fake of the REST API, RaaS and the token
endpoint, as Workday documents them for API clients for integrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from isthmus.connectors.base import StreamQuery
from isthmus.connectors.declarative.auth import TokenRefreshFailed
from isthmus.connectors.registry import connector_type
from isthmus.testing import ConnectorCase, ConnectorContract, StaticSecrets
from tests.connectors.fakes import workday
from tests.connectors.fakes.common import running

WORKERS = [
    {"id": f"w{i:05}", "descriptor": f"Worker {i}", "primaryWorkEmail": f"w{i}@acme.example"}
    for i in range(1, 343)
]
REPORT = [{"Employee_ID": f"{i}", "Cost_Center": "CC-10"} for i in range(1, 1201)]


@pytest.fixture
async def fake() -> AsyncIterator[workday.FakeWorkday]:
    api = workday.FakeWorkday([dict(w) for w in WORKERS], [dict(r) for r in REPORT])
    async with running(api.app()) as url:
        api.url = url
        yield api


def case(api: workday.FakeWorkday) -> ConnectorCase:
    return ConnectorCase(
        connector_type("workday"),
        {
            "values": {
                "host": "unused.example",
                "tenant": workday.TENANT,
                "clientId": workday.CLIENT_ID,
                "clientSecret": "secret://wd-secret",
                "refreshToken": "secret://wd-refresh",
                "reportOwner": "lmcneil",
                "report": "Headcount",
            },
            "baseUrl": f"{api.url}/ccx",
            "allowPrivateNetwork": True,
        },
        {"wd-secret": workday.CLIENT_SECRET, "wd-refresh": api.refresh_token},
        sample_operation=("getWorker", {"id": "w00001"}),
    )


async def read(connector: Any, stream: str) -> list[dict[str, Any]]:
    return [r async for r in connector.read(stream, StreamQuery())]


async def test_workers_page_to_the_last_and_reports_come_whole(fake: workday.FakeWorkday) -> None:
    async with case(fake).open() as connector:
        workers = await read(connector, "workers")
        report = await read(connector, "report")
    assert [w["id"] for w in workers] == [w["id"] for w in WORKERS]
    assert len(report) == len(REPORT)
    assert len(fake.requests) == 4 + 1  # 100, 100, 100, 42; one report
    assert fake.token_fetches == 1


async def test_a_rotated_refresh_token_is_kept_in_the_vault(fake: workday.FakeWorkday) -> None:
    fake.rotate = True
    connection = case(fake)
    secrets = StaticSecrets(connection.secrets)
    config = connection.connector_type.config_model.model_validate(connection.config)
    from isthmus.connectors.base import ConnectorContext

    async with connection.connector_type.open(
        config, ConnectorContext("hr", "sandbox", secrets)
    ) as connector:
        await read(connector, "workers")
        fake.tokens.clear()  # the access token expires mid-run
        assert len(await read(connector, "workers")) == len(WORKERS)
    assert fake.token_fetches == 2
    assert secrets.values["wd-refresh"] == fake.refresh_token == "refresh-2"
    # a new connection (a restart) starts from the vault's token, not a spent one
    async with connection.connector_type.open(
        config, ConnectorContext("hr", "sandbox", secrets)
    ) as connector:
        assert len(await read(connector, "report")) == len(REPORT)
    assert fake.spent == {"refresh-0", "refresh-1", "refresh-2"}  # each used once
    assert secrets.values["wd-refresh"] == "refresh-3"


async def test_a_spent_refresh_token_is_a_clear_problem(fake: workday.FakeWorkday) -> None:
    connection = case(fake)
    fake.refresh_token = "revoked-by-an-admin"
    async with connection.open() as connector:
        with pytest.raises(TokenRefreshFailed, match="HTTP 400"):
            await read(connector, "workers")


async def test_throttling_is_waited_out(fake: workday.FakeWorkday) -> None:
    fake.throttle = 3
    async with case(fake).open() as connector:
        assert len(await read(connector, "workers")) == len(WORKERS)
    assert len(fake.requests) == 4 + 3


class TestWorkday(ConnectorContract):
    @pytest.fixture
    def case(self, fake: workday.FakeWorkday) -> ConnectorCase:  # type: ignore[override]
        return case(fake)
