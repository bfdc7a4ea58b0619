"""The gateway on the wire, on both servers it can run on (granian, the default, and
uvicorn): what each server front hands to the gateway must be the same."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.e2e.proc import Process, isthmus, serve_args
from tests.helpers import PROBLEM_FIELDS, free_port, write_project

pytestmark = pytest.mark.e2e

LIMIT = 4096


def project(backend: str) -> dict[str, str]:
    return {
        "echo.yaml": f"""
            kind: System
            metadata: {{name: echo, owner: team}}
            ---
            kind: Connection
            metadata: {{name: echo, environment: sandbox}}
            spec:
              system: echo
              connector: rest
              config: {{baseUrl: "{backend}", allowPrivateNetwork: true}}
            ---
            kind: Api
            metadata: {{name: echo}}
            spec:
              versions:
                - name: v1
                  routes:
                    - {{path: "/items/{{id}}", target: {{type: proxy, connection: echo}}}}
                    - method: POST
                      path: /items
                      target: {{type: proxy, connection: echo}}
            ---
            kind: App
            metadata: {{name: app}}
            spec: {{apis: [echo]}}
            """
    }


@pytest.fixture
async def backend() -> AsyncIterator[str]:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "method": request.method,
                "path": request.raw_path,
                "forwardedFor": request.headers.get("X-Forwarded-For"),
                "requestId": request.headers.get("X-Request-Id"),
                "internal": request.headers.get("X-Isthmus-Internal"),
                "body": (await request.read()).decode(),
            }
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def raw_request(port: int, data: bytes) -> bytes:
    """Send bytes as they are (a chunked body, say) and read the whole answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = await reader.read()  # the request says Connection: close
    writer.close()
    return answer


@pytest.mark.parametrize("server", ["granian", "uvicorn"])
async def test_both_servers_hand_the_gateway_the_same_request(
    tmp_path: Path, backend: str, server: str
) -> None:
    home = tmp_path / "home"
    isthmus("apply", str(write_project(tmp_path / "project", project(backend))), home=home)
    [key] = [
        line for line in isthmus("key", "create", "app", home=home).splitlines() if "isk_" in line
    ]
    gateway_port, control_port = free_port(), free_port()
    env = {
        **os.environ,
        "ISTHMUS_GATEWAY_SERVER": server,
        "ISTHMUS_GATEWAY_MAX_BODY_BYTES": str(LIMIT),
    }
    process = Process(serve_args(home, gateway_port, control_port), tmp_path, env=env)
    gateway = f"http://127.0.0.1:{gateway_port}/echo/v1"
    headers = {"X-Api-Key": key, "X-Isthmus-Internal": "forged", "X-Request-Id": "req-42"}
    try:
        await process.wait_ready(f"http://127.0.0.1:{control_port}/readyz")
        async with aiohttp.ClientSession() as http:
            # an encoded '/' stays inside the parameter; the path is decoded once
            async with http.get(f"{gateway}/items/a%2Fb%20c", headers=headers) as reply:
                assert reply.status == 200
                seen = await reply.json()
                assert reply.headers["X-Request-Id"] == "req-42"
                assert "granian" not in reply.headers.get("Server", "")
            assert seen["path"] == "/items/a%2Fb%20c"
            assert seen["forwardedFor"] == "127.0.0.1"
            assert seen["requestId"] == "req-42"
            assert seen["internal"] is None  # X-Isthmus-* never passes

            async with http.post(f"{gateway}/items", headers=headers, data=b"x" * 3000) as reply:
                assert (await reply.json())["body"] == "x" * 3000

            async with http.post(
                f"{gateway}/items", headers=headers, data=b"x" * (LIMIT + 1)
            ) as reply:
                assert reply.status == 413
                body = await reply.json()
                assert set(body) >= PROBLEM_FIELDS
                assert body["code"] == "payload-too-large"

        # a chunked body without a length is counted as it arrives
        chunk = b"y" * 1000
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(6))
        answer = await raw_request(
            gateway_port,
            b"POST /echo/v1/items HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"X-Api-Key: "
            + key.encode()
            + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunks
            + b"0\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        small = b"3\r\nabc\r\n0\r\n\r\n"
        answer = await raw_request(
            gateway_port,
            b"POST /echo/v1/items HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"X-Api-Key: " + key.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + small,
        )
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert b'"body": "abc"' in answer

        # a caller that leaves mid-body costs the backend nothing and the hub goes on
        with socket.create_connection(("127.0.0.1", gateway_port)) as sock:
            sock.sendall(
                b"POST /echo/v1/items HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                b"X-Api-Key: " + key.encode() + b"\r\n\r\nhalf"
            )
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{gateway}/items/1", headers=headers) as reply,
        ):
            assert reply.status == 200
    finally:
        code = process.stop()
    assert code == 0, process.output
