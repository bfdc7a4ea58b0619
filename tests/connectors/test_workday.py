"""The pre-built Workday connector against a fake of the REST API, RaaS and the token
endpoint, as Workday documents them for API clients for integrations."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from structlog.testing import capture_logs

from isthmus.connectors.base import ConnectorContext, StreamQuery
from isthmus.connectors.declarative.auth import _SHARED, TokenRefreshFailed
from isthmus.connectors.registry import connector_type
from isthmus.governance.keyring import new_key
from isthmus.governance.vault import Vault
from isthmus.store import Store
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


def open_with(connection: ConnectorCase, secrets: StaticSecrets) -> Any:
    config = connection.connector_type.config_model.model_validate(connection.config)
    return connection.connector_type.open(config, ConnectorContext("hr", "sandbox", secrets))


async def test_a_rotated_refresh_token_is_kept_in_the_vault(fake: workday.FakeWorkday) -> None:
    fake.rotate = True
    connection = case(fake)
    secrets = StaticSecrets(connection.secrets)
    async with open_with(connection, secrets) as first:
        await read(first, "workers")
        fake.tokens.clear()  # the access token expires mid-run
        assert len(await read(first, "workers")) == len(WORKERS)
        assert fake.token_fetches == 2
        assert secrets.values["wd-refresh"] == fake.refresh_token == "refresh-2"
        # the Connection reopens (its secret changed) while the first is still in use:
        # the new one shares the token, so nothing is rotated again
        async with open_with(connection, secrets) as second:
            assert len(await read(second, "report")) == len(REPORT)
        assert fake.token_fetches == 2
    del first, second
    gc.collect()
    # a restart starts from the vault's token, never a spent one
    async with open_with(connection, secrets) as restarted:
        assert len(await read(restarted, "report")) == len(REPORT)
    assert fake.spent == {"refresh-0", "refresh-1", "refresh-2"}  # each used once
    assert secrets.values["wd-refresh"] == "refresh-3"


async def test_a_token_rotated_by_another_process_is_picked_up(fake: workday.FakeWorkday) -> None:
    fake.rotate = True
    connection = case(fake)
    secrets = StaticSecrets(connection.secrets)
    async with open_with(connection, secrets) as here:
        _SHARED.clear()  # what a second hub process holds: state of its own
        async with open_with(connection, secrets) as there:
            await read(there, "report")  # rotates: the vault now holds refresh-1
            # this one still holds refresh-0, now spent: refused, then the vault's is used
            assert len(await read(here, "report")) == len(REPORT)
    assert secrets.values["wd-refresh"] == fake.refresh_token == "refresh-2"


async def test_a_vault_that_cannot_keep_the_token_is_an_alert_not_an_outage(
    fake: workday.FakeWorkday,
) -> None:
    class ReadOnlyVault(StaticSecrets):
        async def set(self, name: str, value: str) -> None:
            raise OSError("disk full")

    fake.rotate = True
    connection = case(fake)
    with capture_logs() as logs:
        async with open_with(connection, ReadOnlyVault(connection.secrets)) as connector:
            assert len(await read(connector, "workers")) == len(WORKERS)
            fake.tokens.clear()
            assert len(await read(connector, "workers")) == len(WORKERS)  # from memory
    assert any(e["event"] == "connector.refresh_token_not_saved" for e in logs)


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


async def test_hub_processes_take_turns_spending_a_rotating_refresh_token(
    fake: workday.FakeWorkday, store: Store
) -> None:
    """Three processes share one store: each access token lasts two calls, so they
    rotate the refresh token over and over at the same moments. The vault's lock makes
    them take turns, so the tenant never sees a spent refresh token."""
    fake.rotate = True
    fake.uses_per_token = 2
    key = new_key()
    await Vault.with_key(store.secrets, key).set("wd-secret", workday.CLIENT_SECRET)
    await Vault.with_key(store.secrets, key).set("wd-refresh", fake.refresh_token)
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.connectors.rotation_worker",
            str(store.engine.url.render_as_string(hide_password=False)),
            key,
            fake.url,
            "12",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outputs = await asyncio.gather(*(w.communicate() for w in workers))
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err.decode()[-2000:]
        assert orjson.loads(out.splitlines()[-1]) == {"read": 12 * 5}
    assert fake.refused_grants == 0
    assert fake.token_fetches >= 3 * 12 // 2  # rotated again and again, never refused
    assert len(fake.spent) == fake.token_fetches  # each refresh token spent exactly once
    assert (
        await Vault.with_key(store.secrets, key).resolve("secret://wd-refresh")
        == fake.refresh_token
    )
