"""The built-in connectors pass the connector contract."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from isthmus.connectors.registry import connector_type
from isthmus.testing import ConnectorCase, ConnectorContract


class TestMemoryConnector(ConnectorContract):
    @pytest.fixture
    def case(self) -> ConnectorCase:
        return ConnectorCase(
            connector_type("memory"),
            {
                "collections": {
                    "items": {"primaryKey": "sku", "records": [{"sku": "a"}, {"sku": "b"}]}
                }
            },
            sample_operation=("items.get", {"sku": "a"}),
        )


@pytest.fixture
async def echo_server() -> AsyncIterator[str]:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"path": request.path})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


class TestRestConnector(ConnectorContract):
    @pytest.fixture
    def case(self, echo_server: str) -> ConnectorCase:
        return ConnectorCase(
            connector_type("rest"),
            {"baseUrl": echo_server, "allowPrivateNetwork": True},
            sample_operation=("request", {"path": "/ping"}),
        )
