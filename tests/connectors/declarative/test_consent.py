"""Authorization code Connections: a person's consent (PKCE, loopback callback) once,
then the refresh token from the vault."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from isthmus.connectors.base import ConnectorContext, StreamQuery
from isthmus.connectors.declarative.config import DeclarativeConfig
from isthmus.connectors.declarative.connector import DeclarativeConnector
from isthmus.connectors.declarative.consent import ConsentFailed, authorize, pkce
from isthmus.testing import StaticSecrets
from tests.connectors.fakes.common import running
from tests.connectors.fakes.oauth_server import CLIENT_ID, FakeAuthorizationServer
from tests.helpers import free_port


@pytest.fixture
async def server() -> AsyncIterator[tuple[FakeAuthorizationServer, str]]:
    fake = FakeAuthorizationServer([{"id": 1}, {"id": 2}])
    async with running(fake.app()) as url:
        yield fake, url


def config(url: str) -> DeclarativeConfig:
    return DeclarativeConfig.model_validate(
        {
            "spec": {
                "baseUrl": url,
                "config": {"refreshToken": {"type": "secret", "required": False}},
                "auth": {
                    "type": "oauth2-authorization-code",
                    "authorizeUrl": f"{url}/authorize",
                    "tokenUrl": "/token",
                    "clientId": CLIENT_ID,
                    "scopes": ["items.read", "offline_access"],
                    "refreshToken": "{config.refreshToken}",
                },
                "streams": {"items": {"path": "/api/items", "records": "items"}},
            },
            "values": {"refreshToken": "secret://app-refresh"},
            "allowPrivateNetwork": True,
        }
    )


async def browser(address: str) -> None:
    """What a person's browser does: open the page, consent, follow the redirect."""
    async with aiohttp.ClientSession() as session, session.get(address) as answer:
        assert answer.status == 200, await answer.text()


async def test_consent_once_then_the_connector_reads(
    server: tuple[FakeAuthorizationServer, str],
) -> None:
    fake, url = server
    vault = StaticSecrets()
    opened: list[str] = []

    def show(address: str) -> None:
        opened.append(address)
        import asyncio

        asyncio.get_running_loop().create_task(browser(address))

    settings = config(url)
    assert settings.spec is not None
    reference = await authorize(
        settings.spec, settings, vault, port=free_port(), show=show, wait_seconds=10
    )
    assert reference == "secret://app-refresh"
    assert vault.values["app-refresh"] in fake.refresh_tokens
    assert "code_challenge_method=S256" in opened[0]
    connector = DeclarativeConnector(
        settings.spec, settings, ConnectorContext("app", "sandbox", vault)
    )
    async with connector:
        rows = [r async for r in connector.read("items", StreamQuery())]
    assert rows == [{"id": 1}, {"id": 2}]


async def test_a_refused_consent_is_a_clear_problem(
    server: tuple[FakeAuthorizationServer, str],
) -> None:
    fake, url = server
    fake.consent = False
    settings = config(url)
    assert settings.spec is not None

    def show(address: str) -> None:
        import asyncio

        asyncio.get_running_loop().create_task(browser(address))

    with pytest.raises(ConsentFailed, match="access_denied"):
        await authorize(
            settings.spec, settings, StaticSecrets(), port=free_port(), show=show, wait_seconds=10
        )


def test_pkce_challenge_is_the_s256_of_the_verifier() -> None:
    import base64
    import hashlib

    verifier, challenge = pkce()
    assert 43 <= len(verifier) <= 128
    expected = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    assert challenge == expected
