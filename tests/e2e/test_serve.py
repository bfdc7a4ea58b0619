"""``isthmus serve`` as a real process: apply, call the gateway, change, stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.e2e.proc import Process, isthmus, serve_args
from tests.helpers import PROBLEM_FIELDS, free_port, write_project

pytestmark = pytest.mark.e2e

TOKEN_CANARY = "canary-backend-token-60311"


def project_files(backend: str, greeting: str) -> dict[str, str]:
    return {
        "hello.yaml": f"""
            kind: System
            metadata: {{name: hello, owner: team}}
            ---
            kind: Connection
            metadata: {{name: hello, environment: sandbox}}
            spec:
              system: hello
              connector: rest
              config:
                baseUrl: {backend}
                auth: {{type: bearer, token: "secret://hello-token"}}
                allowPrivateNetwork: true
            ---
            kind: Api
            metadata: {{name: hello}}
            spec:
              versions:
                - name: v1
                  routes:
                    - path: /{greeting}/{{who}}
                      target: {{type: proxy, connection: hello, path: "/greet/{{who}}"}}
            ---
            kind: App
            metadata: {{name: low-code}}
            spec: {{apis: [hello]}}
            """
    }


@pytest.fixture
async def backend() -> AsyncIterator[str]:
    async def greet(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN_CANARY}":
            return web.json_response({"error": "bad token"}, status=401)
        return web.json_response({"hello": request.match_info["who"]})

    app = web.Application()
    app.router.add_get("/greet/{who}", greet)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_serve_applies_routes_and_stops_cleanly(tmp_path: Path, backend: str) -> None:
    home = tmp_path / "home"
    project = write_project(tmp_path / "project", project_files(backend, "hi"))
    isthmus("apply", str(project), home=home)
    isthmus("secret", "set", "hello-token", home=home, stdin=TOKEN_CANARY + "\n")
    output = isthmus("key", "create", "low-code", home=home)
    [key] = [line for line in output.splitlines() if line.startswith("isk_")]
    gateway_port, control_port = free_port(), free_port()
    server = Process(
        serve_args(home, gateway_port, control_port),
        tmp_path,
    )
    gateway = f"http://127.0.0.1:{gateway_port}"
    try:
        await server.wait_ready(f"http://127.0.0.1:{control_port}/readyz")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{gateway}/hello/v1/hi/ada", headers={"X-Api-Key": key}) as r:
                assert r.status == 200
                assert await r.json() == {"hello": "ada"}
            async with http.get(f"{gateway}/hello/v1/hi/ada") as r:
                assert r.status == 401
                assert r.headers["Content-Type"] == "application/problem+json"
                body = await r.json()
                assert set(body) >= PROBLEM_FIELDS
                assert body["code"] == "unauthenticated"

            # a change applied by another process reaches the running gateway
            write_project(project, project_files(backend, "hello"))
            isthmus("apply", str(project), home=home)
            for _ in range(100):  # the hub polls the store every second
                async with http.get(
                    f"{gateway}/hello/v1/hello/grace", headers={"X-Api-Key": key}
                ) as r:
                    if r.status == 200:
                        assert await r.json() == {"hello": "grace"}
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the new route was never served")
            async with http.get(f"{gateway}/hello/v1/hi/ada", headers={"X-Api-Key": key}) as r:
                assert r.status == 404
    finally:
        code = server.stop()
    assert code == 0, server.output
    for canary in (TOKEN_CANARY, key):
        assert canary not in server.output
        assert canary.encode() not in (home / "isthmus.db").read_bytes()


async def test_serve_reports_a_taken_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = Process(
            serve_args(tmp_path / "home", port, free_port()),
            tmp_path,
        )
        server.popen.wait(30)
        code = server.stop()
    assert code == 1
    assert "[port-unavailable]" in server.output
    assert f"127.0.0.1:{port}" in server.output
    assert "Traceback" not in server.output


def test_python_dash_m_runs_the_cli() -> None:
    from isthmus import __version__

    assert isthmus("version").strip() == __version__
