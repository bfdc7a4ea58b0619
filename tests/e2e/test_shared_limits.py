"""Two gateway processes share Plan counters in Redis and admit exactly the quota."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.proc import Process, isthmus, serve_args
from tests.helpers import free_port, write_project
from tests.services import redis_url

pytestmark = pytest.mark.e2e

QUOTA = 60
REQUESTS = 150

PROJECT = {
    "p.yaml": f"""
        kind: System
        metadata: {{name: stock, owner: team}}
        ---
        kind: Connection
        metadata: {{name: stock, environment: sandbox}}
        spec:
          system: stock
          connector: memory
          config: {{collections: {{items: {{primaryKey: sku, records: [{{sku: a}}]}}}}}}
        ---
        kind: Api
        metadata: {{name: stock}}
        spec:
          versions:
            - name: v1
              routes:
                - path: /items
                  target: {{type: operation, connection: stock, operation: items.list}}
        ---
        kind: Plan
        metadata: {{name: small}}
        spec: {{dailyQuota: {QUOTA}, rate: {{requests: 1000, periodSeconds: 60, burst: 500}}}}
        ---
        kind: App
        metadata: {{name: shop}}
        spec: {{apis: [stock], plan: small}}
        """
}


def forget(url: str, prefix: str) -> None:
    """Remove the counters a test left in Redis."""
    import redis as redis_client

    with redis_client.Redis.from_url(url) as client:
        for name in client.scan_iter(f"{prefix}*"):
            client.delete(name)


async def test_two_gateways_admit_exactly_the_quota(tmp_path: Path) -> None:
    redis = redis_url()
    home = tmp_path / "home"
    isthmus("apply", str(write_project(tmp_path / "p", PROJECT)), home=home)
    output = isthmus("key", "create", "shop", home=home)
    [key] = [line for line in output.splitlines() if line.startswith("isk_")]
    prefix = f"isthmus-test-{secrets.token_hex(4)}"
    # counted exactly even on a loaded machine: Redis is not taken for down at 0.25 s
    env = {"ISTHMUS_RATE_LIMIT_STORAGE": redis, "ISTHMUS_RATE_LIMIT_PREFIX": prefix,
           "ISTHMUS_RATE_LIMIT_TIMEOUT_SECONDS": "5"}  # fmt: skip
    gateways, servers = [], []
    for index in range(2):
        gateway_port, control_port = free_port(), free_port()
        workdir = tmp_path / f"g{index}"
        workdir.mkdir()
        servers.append(
            Process(
                serve_args(home, gateway_port, control_port),
                workdir,
                env={**os.environ, **env},
            )
        )
        gateways.append(f"http://127.0.0.1:{gateway_port}")
        await servers[-1].wait_ready(f"http://127.0.0.1:{control_port}/readyz")
    try:
        async with aiohttp.ClientSession() as http:

            async def call(index: int) -> int:
                url = f"{gateways[index % 2]}/stock/v1/items"
                async with http.get(url, headers={"X-Api-Key": key}) as reply:
                    await reply.read()
                    return reply.status

            statuses = await asyncio.gather(*(call(i) for i in range(REQUESTS)))
    finally:
        for server in servers:
            assert server.stop() == 0, server.output
        forget(redis, prefix)
    assert statuses.count(200) == QUOTA  # exact: well inside quota + 1 %
    assert statuses.count(429) == REQUESTS - QUOTA


async def test_processes_can_share_the_gateway_port(tmp_path: Path) -> None:
    """ISTHMUS_GATEWAY_REUSE_PORT: one port, one process per core, connections spread."""
    redis = redis_url()
    home = tmp_path / "home"
    isthmus("apply", str(write_project(tmp_path / "p", PROJECT)), home=home)
    output = isthmus("key", "create", "shop", home=home)
    [key] = [line for line in output.splitlines() if line.startswith("isk_")]
    gateway_port = free_port()
    prefix = f"isthmus-test-{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "ISTHMUS_GATEWAY_REUSE_PORT": "true",
        "ISTHMUS_RATE_LIMIT_STORAGE": redis,
        "ISTHMUS_RATE_LIMIT_PREFIX": prefix,
    }
    controls, servers = [], []
    for index in range(2):
        workdir = tmp_path / f"g{index}"
        workdir.mkdir()
        controls.append(free_port())
        servers.append(
            Process(
                serve_args(home, gateway_port, controls[-1]),
                workdir,
                env=env,
            )
        )
        await servers[-1].wait_ready(f"http://127.0.0.1:{controls[-1]}/readyz")
    try:
        # a new connection per request, so the kernel can hand each to either process
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as http:
            for _ in range(40):
                async with http.get(
                    f"http://127.0.0.1:{gateway_port}/stock/v1/items", headers={"X-Api-Key": key}
                ) as reply:
                    assert reply.status == 200
            served = []
            for control in controls:
                async with http.get(f"http://127.0.0.1:{control}/metrics") as reply:
                    text = await reply.text()
                line = next(
                    line
                    for line in text.splitlines()
                    if line.startswith("isthmus_http_server_requests_total{")
                    and 'status_class="2xx"' in line
                )
                served.append(float(line.rsplit(" ", 1)[1]))
    finally:
        for server in servers:
            assert server.stop() == 0, server.output
        forget(redis, prefix)
    assert sum(served) == 40
    assert min(served) > 0  # both processes took connections
