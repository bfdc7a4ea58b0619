"""The rest connector against real HTTP servers on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from isthmus.connectors.registry import connector_type
from isthmus.errors import (
    BadRequest,
    OutboundBlocked,
    UpstreamResponseTooLarge,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from isthmus.governance.vault import SecretMissing
from isthmus.testing import ConnectorCase
from tests.helpers import free_port

Seen = list[web.Request]


@pytest.fixture
async def backend() -> AsyncIterator[tuple[str, Seen]]:
    seen: Seen = []

    async def echo(request: web.Request) -> web.Response:
        seen.append(request)
        body = await request.read()
        return web.json_response(
            {
                "path": request.path,
                "raw": request.raw_path,
                "query": dict(request.query),
                "body": body.decode() or None,
            }
        )

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.json_response({})

    async def huge(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 5000)

    app = web.Application()
    app.router.add_get("/base/slow", slow)
    app.router.add_get("/base/huge", huge)
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/base", seen
    await runner.cleanup()


def rest(config: dict[str, object], secrets: dict[str, str] | None = None) -> ConnectorCase:
    return ConnectorCase(connector_type("rest"), config, secrets or {})


async def test_request_operation_joins_base_path_and_sends_json(backend: tuple[str, Seen]) -> None:
    url, _ = backend
    async with rest({"baseUrl": url, "allowPrivateNetwork": True}).open() as api:
        result = await api.call(
            "request",
            {"method": "post", "path": "/people", "query": {"q": "a b"}, "body": {"x": 1}},
        )
    assert result["status"] == 200
    assert result["body"]["path"] == "/base/people"
    assert result["body"]["query"] == {"q": "a b"}
    assert result["body"]["body"] == '{"x":1}'


@pytest.mark.parametrize(
    ("auth", "header", "expected"),
    [
        ({"type": "bearer", "token": "secret://tok"}, "Authorization", "Bearer s3cret"),
        (
            {"type": "basic", "username": "u", "password": "secret://tok"},
            "Authorization",
            "Basic dTpzM2NyZXQ=",
        ),
        ({"type": "header", "header": "X-Key", "value": "secret://tok"}, "X-Key", "s3cret"),
    ],
)
async def test_auth_comes_from_the_vault(
    backend: tuple[str, Seen], auth: dict[str, str], header: str, expected: str
) -> None:
    url, seen = backend
    config = {
        "baseUrl": url,
        "allowPrivateNetwork": True,
        "auth": auth,
        "headers": {"X-Tenant": "acme", "X-Api-Token": "secret://tok"},
    }
    async with rest(config, {"tok": "s3cret"}).open() as api:
        await api.call("request", {"path": "/x"})
    assert seen[-1].headers[header] == expected
    assert seen[-1].headers["X-Tenant"] == "acme"
    assert seen[-1].headers["X-Api-Token"] == "s3cret"


async def test_missing_secret_fails_at_open(backend: tuple[str, Seen]) -> None:
    url, _ = backend
    config = {
        "baseUrl": url,
        "allowPrivateNetwork": True,
        "auth": {"type": "bearer", "token": "secret://absent"},
    }
    with pytest.raises(SecretMissing):
        async with rest(config).open():
            pass


async def test_timeouts_and_refusals_map_to_retriable_errors(backend: tuple[str, Seen]) -> None:
    url, _ = backend
    config = {
        "baseUrl": url,
        "allowPrivateNetwork": True,
        "timeoutSeconds": 0.3,
        "retries": {"attempts": 1},
    }
    async with rest(config).open() as api:
        with pytest.raises(UpstreamTimeout) as timeout:
            await api.call("request", {"path": "/slow"})
    assert timeout.value.retriable
    dead = {"baseUrl": f"http://127.0.0.1:{free_port()}", "allowPrivateNetwork": True}
    async with rest(dead).open() as api:
        with pytest.raises(UpstreamUnreachable):
            await api.call("request", {"path": "/"})
        assert not (await api.check()).ok


async def test_response_size_is_capped(backend: tuple[str, Seen]) -> None:
    url, _ = backend
    config = {"baseUrl": url, "allowPrivateNetwork": True, "maxResponseBytes": 1024}
    async with rest(config).open() as api:
        with pytest.raises(UpstreamResponseTooLarge, match="larger"):
            await api.call("request", {"path": "/huge"})


@pytest.mark.parametrize("path", ["/../admin", "/a/../../etc", "relative", "/a/./b"])
async def test_paths_cannot_climb_out_of_the_base(backend: tuple[str, Seen], path: str) -> None:
    url, seen = backend
    async with rest({"baseUrl": url, "allowPrivateNetwork": True}).open() as api:
        with pytest.raises(BadRequest):
            await api.call("request", {"path": path})
    assert seen == []


def test_config_refuses_credentials_in_the_url() -> None:
    with pytest.raises(ValueError, match="credentials"):
        connector_type("rest").config_model.model_validate({"baseUrl": "https://u:p@x.example"})


@pytest.mark.parametrize(
    "make_url",
    [
        lambda port: f"http://127.0.0.1:{port}",
        lambda port: f"http://localhost:{port}",  # a name that resolves to loopback
        lambda port: f"http://[::ffff:127.0.0.1]:{port}",
    ],
)
async def test_loopback_is_refused_unless_allowed(
    backend: tuple[str, Seen], make_url: Callable[[int], str]
) -> None:
    url, seen = backend
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(OutboundBlocked):
        async with rest({"baseUrl": make_url(port)}).open() as api:
            await api.call("request", {"path": "/x"})
    assert seen == []


@pytest.mark.parametrize("host", ["169.254.169.254", "[fd00:ec2::254]", "100.100.100.200"])
async def test_metadata_addresses_are_refused_even_when_private_is_allowed(host: str) -> None:
    with pytest.raises(OutboundBlocked):
        async with rest({"baseUrl": f"http://{host}/", "allowPrivateNetwork": True}).open() as api:
            await api.call("request", {"path": "/latest/meta-data"})


async def test_every_new_connection_of_a_pool_is_checked(backend: tuple[str, Seen]) -> None:
    from yarl import URL

    from isthmus.connectors.http import Limits, OriginPool

    url, seen = backend
    port = URL(url).port
    # a name, so the address is only known after resolution: judged then, at connect
    pool = OriginPool(URL(f"http://localhost:{port}"), allow_private=False, limits=Limits())
    with pytest.raises(OutboundBlocked):
        await pool.request("GET", "/base/x")
    await pool.close()
    assert seen == []


@pytest.mark.parametrize(
    ("address", "allow_private", "refused"),
    [
        ("93.184.216.34", False, False),
        ("10.1.2.3", False, True),
        ("10.1.2.3", True, False),
        ("169.254.170.2", True, True),  # container credential endpoint
        ("fe80::1", True, True),
        ("fd00:ec2::23", True, True),
        ("2002:7f00:1::", False, True),  # 6to4 wrapping 127.0.0.1
        ("::ffff:169.254.169.254", True, True),
        ("192.0.0.192", True, True),  # another cloud's metadata address
        ("::1", True, False),  # loopback, allowed when private networks are
        ("::1", False, True),
        ("2001:4860:4860::8888", False, False),
    ],
)
def test_address_policy(address: str, allow_private: bool, refused: bool) -> None:
    import ipaddress

    from isthmus.connectors.addresses import address_refusal

    reason = address_refusal(ipaddress.ip_address(address), allow_private=allow_private)
    assert (reason is not None) is refused
