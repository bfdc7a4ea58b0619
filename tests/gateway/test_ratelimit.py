"""Plans enforced by the gateway: burst, rate, daily quota; headers; 429 problems."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from isthmus.gateway.app import Gateway
from isthmus.hub import Hub
from isthmus.settings import Settings
from isthmus.store import Change
from tests.gateway.conftest import Backend, Running, project, resource
from tests.helpers import asgi_call, assert_problem, free_port


async def use_plan(running: Running, spec: dict[str, Any], app: str = "portal") -> None:
    plan = resource({"kind": "Plan", "metadata": {"name": "tier"}, "spec": spec})
    current = await running.hub.store.resources.get(plan.key)
    changes = [Change("update" if current else "create", plan.key, plan)]
    doc = {
        "kind": "App",
        "metadata": {"name": app},
        "spec": {"apis": ["customers", "stock"], "plan": "tier"},
    }
    target = resource(doc)
    changes.append(Change("update", target.key, target))
    await running.hub.store.resources.apply(changes)
    await running.hub.snapshots.refresh()


def parse_state(header: str) -> tuple[str, int, int]:
    found = re.fullmatch(r'"(\w+)";r=(\d+);t=(\d+)', header)
    assert found, header
    return found.group(1), int(found.group(2)), int(found.group(3))


async def test_the_rate_is_enforced_per_app_and_api(running: Running, backend: Backend) -> None:
    await use_plan(running, {"rate": {"requests": 3, "periodSeconds": 60}})
    remaining = []
    for _ in range(3):
        reply = await running.get("/customers/v2/customers", running.key)
        assert reply.status == 200
        assert reply.headers["ratelimit-policy"] == '"rate";q=3;w=60'
        name, left, reset = parse_state(reply.headers["ratelimit"])
        assert name == "rate"
        assert 0 < reset <= 60
        remaining.append(left)
    assert remaining == [2, 1, 0]
    reply = await running.get("/customers/v2/customers", running.key)
    body = assert_problem(reply, 429, "rate-limited")
    assert body["policy"] == "rate"
    assert 1 <= int(reply.headers["retry-after"]) <= 60
    assert parse_state(reply.headers["ratelimit"])[1] == 0
    assert len(backend.seen) == 3  # the refused request never reached the backend
    # another Api of the same App has its own counter
    assert (await running.get("/stock/v1/items", running.key)).status == 200


async def test_burst_caps_one_second(running: Running) -> None:
    await use_plan(running, {"rate": {"requests": 100, "periodSeconds": 60, "burst": 2}})
    statuses = [(await running.get("/stock/v1/items", running.key)).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    reply = await running.get("/stock/v1/items", running.key)
    assert reply.json()["policy"] == "burst"
    assert reply.headers["retry-after"] == "1"
    assert reply.headers["ratelimit-policy"] == '"burst";q=2;w=1, "rate";q=100;w=60'


async def test_daily_quota_resets_at_utc_midnight(running: Running) -> None:
    await use_plan(running, {"dailyQuota": 2})
    assert (await running.get("/stock/v1/items", running.key)).status == 200
    reply = await running.get("/stock/v1/items", running.key)
    assert parse_state(reply.headers["ratelimit"])[:2] == ("daily", 0)
    reply = await running.get("/stock/v1/items", running.key)
    assert_problem(reply, 429, "rate-limited")
    assert reply.json()["policy"] == "daily"
    assert 1 <= int(reply.headers["retry-after"]) <= 86400


async def test_apps_without_a_plan_are_not_limited(running: Running) -> None:
    for _ in range(20):
        reply = await running.get("/stock/v1/items", running.key)
        assert reply.status == 200
        assert "ratelimit" not in reply.headers


async def test_an_unreachable_counter_store_fails_open(tmp_path: Path, backend: Backend) -> None:
    settings = Settings(
        home=tmp_path / "home",
        rate_limit_storage=f"redis://127.0.0.1:{free_port()}/0",
    )
    async with Hub(settings) as hub:
        changes = [Change("create", r.key, r) for r in map(resource, project(backend.url))]
        plan = resource({"kind": "Plan", "metadata": {"name": "tier"}, "spec": {"dailyQuota": 1}})
        app = resource(
            {
                "kind": "App",
                "metadata": {"name": "limited"},
                "spec": {"apis": ["stock"], "plan": "tier"},
            }
        )
        changes += [Change("create", plan.key, plan), Change("create", app.key, app)]
        await hub.store.resources.apply(changes)
        _, key = await hub.store.keys.create("limited", "sandbox")
        await hub.snapshots.refresh()
        gateway = Gateway(hub.snapshots, hub.limiter, issuer="https://hub.example.test")
        for _ in range(3):
            reply = await asgi_call(gateway, "GET", "/stock/v1/items", headers={"X-Api-Key": key})
            assert reply.status == 200
            assert reply.headers["ratelimit-policy"] == '"daily";q=1;w=86400'


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        ({"requests": 5, "burst": 2}, "periodSeconds 1"),
        ({"requests": 5, "periodSeconds": 60, "burst": 6}, "cannot exceed"),
    ],
)
def test_plan_burst_must_make_sense(rate: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resource({"kind": "Plan", "metadata": {"name": "p"}, "spec": {"rate": rate}})


async def test_a_refusal_uses_up_no_other_policy(running: Running) -> None:
    await use_plan(running, {"rate": {"requests": 3, "periodSeconds": 60}, "dailyQuota": 1})
    statuses = [(await running.get("/stock/v1/items", running.key)).status for _ in range(4)]
    assert statuses == [200, 429, 429, 429]
    reply = await running.get("/stock/v1/items", running.key)
    assert reply.json()["policy"] == "daily"  # not 'rate': refusals did not fill the window
    # without the daily quota, the rate window still has the two requests it had left
    await use_plan(running, {"rate": {"requests": 3, "periodSeconds": 60}})
    statuses = [(await running.get("/stock/v1/items", running.key)).status for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_environments_have_their_own_counters(running: Running) -> None:
    await use_plan(running, {"dailyQuota": 1})
    _, production = await running.hub.store.keys.create("portal", "production")
    await running.hub.snapshots.refresh()
    assert (await running.get("/stock/v1/items", running.key)).status == 200
    assert (await running.get("/stock/v1/items", running.key)).status == 429
    # the production key is refused for lack of a production Connection, not for quota
    reply = await running.get("/stock/v1/items", production)
    assert reply.status == 503


async def test_a_hanging_counter_store_is_skipped(tmp_path: Path, backend: Backend) -> None:
    import asyncio
    import time as clock

    from isthmus.gateway.counters import counters_for
    from isthmus.gateway.ratelimit import STORAGE_TIMEOUT_SECONDS, Policies, RateLimiter

    done = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await done.wait()  # accepts, never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        limiter = RateLimiter(
            counters_for(f"redis://127.0.0.1:{port}/0", "t", STORAGE_TIMEOUT_SECONDS)
        )
        daily = Policies.of(
            resource({"kind": "Plan", "metadata": {"name": "p"}, "spec": {"dailyQuota": 5}})
        )
        started = clock.monotonic()
        headers = await limiter.admit(daily, "app", "api", "sandbox")
        assert clock.monotonic() - started < 2  # bounded by the storage timeout
        assert headers == [(b"ratelimit-policy", b'"daily";q=5;w=86400')]
        assert limiter._skip_until > clock.monotonic()  # later requests skip the store
        await limiter.__aexit__(None, None, None)
    finally:
        done.set()
        for writer in writers:
            writer.close()
            await writer.wait_closed()
        server.close()
        await server.wait_closed()
