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


@pytest.fixture
def files_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("files")
    (folder / "sites.csv").write_text("id,city,capacity\n1,Delft,40\n2,Gent,25\n3,Lyon,60\n")
    return str(folder)


class TestFilesConnector(ConnectorContract):
    @pytest.fixture
    def case(self, files_root: str) -> ConnectorCase:
        return ConnectorCase(
            connector_type("files"),
            {"root": files_root, "tables": {"sites": {"path": "sites.csv", "primaryKey": ["id"]}}},
        )
