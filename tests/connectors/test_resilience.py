"""Retries, Retry-After and the circuit breaker, against a scripted backend on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web

from isthmus.connectors.registry import connector_type
from isthmus.connectors.resilience import BreakerPolicy, CircuitBreaker, retry_after_seconds
from isthmus.errors import (
    UpstreamFailed,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamUnreachable,
)
from isthmus.testing import ConnectorCase
from tests.helpers import free_port


class Script:
    """Answers the next scripted behaviour per request; counts requests."""

    def __init__(self) -> None:
        self.plan: list[str] = []
        self.seen = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen += 1
        step = self.plan.pop(0) if self.plan else "ok"
        if step.startswith("status:"):
            _, status, retry_after = [*step.split(":"), ""][:3]
            headers = {"Retry-After": retry_after} if retry_after else {}
            return web.json_response({"step": step}, status=int(status), headers=headers)
        if step == "big":
            return web.Response(body=b"x" * 4096)
        if step == "slow":
            await asyncio.sleep(1)
        if step == "reset":
            response = web.StreamResponse(headers={"Content-Length": "1000"})
            await response.prepare(request)
            await response.write(b"x" * 10)
            assert request.transport is not None
            request.transport.close()
            return response
        return web.json_response({"ok": True})


@pytest.fixture
async def script() -> AsyncIterator[tuple[Script, str]]:
    state = Script()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", state.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield state, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def connection(url: str, **config: object) -> ConnectorCase:
    base = {
        "baseUrl": url,
        "allowPrivateNetwork": True,
        "retries": {"attempts": 3, "backoffSeconds": 0.01, "maxBackoffSeconds": 2},
    }
    return ConnectorCase(connector_type("rest"), base | config)


async def call(case: ConnectorCase, method: str = "GET", **payload: object) -> object:
    async with case.open() as api:
        return await api.call("request", {"method": method, "path": "/x", **payload})


async def test_idempotent_calls_are_retried_until_they_succeed(
    script: tuple[Script, str],
) -> None:
    backend, url = script
    backend.plan = ["status:503:0", "status:502", "ok"]
    assert await call(connection(url)) == {"status": 200, "body": {"ok": True}}
    assert backend.seen == 3


async def test_a_post_is_never_retried(script: tuple[Script, str]) -> None:
    backend, url = script
    backend.plan = ["status:503:0", "ok"]
    with pytest.raises(UpstreamUnavailable):
        await call(connection(url), "POST", body={"order": 1})
    assert backend.seen == 1


async def test_an_idempotency_key_makes_a_post_retriable_where_honoured(
    script: tuple[Script, str],
) -> None:
    backend, url = script
    keyed = {"body": {"order": 1}, "headers": {"Idempotency-Key": "order-1"}}
    backend.plan = ["status:503:0", "ok"]
    with pytest.raises(UpstreamUnavailable):  # not every backend deduplicates by it
        await call(connection(url), "POST", **keyed)
    assert backend.seen == 1
    honouring = connection(
        url, retries={"attempts": 3, "backoffSeconds": 0.01, "honourIdempotencyKey": True}
    )
    backend.plan = ["status:503:0", "ok"]
    assert await call(honouring, "POST", **keyed) == {"status": 200, "body": {"ok": True}}
    assert backend.seen == 3


async def test_retry_after_is_honoured_or_handed_back(script: tuple[Script, str]) -> None:
    backend, url = script
    backend.plan = ["status:429:1", "ok"]
    assert await call(connection(url)) == {"status": 200, "body": {"ok": True}}
    assert backend.seen == 2
    # a pause longer than we would wait goes back to the caller at once
    backend.plan = ["status:429:60", "ok"]
    assert await call(connection(url)) == {"status": 429, "body": {"step": "status:429:60"}}
    assert backend.seen == 3


async def test_retries_stop_at_the_attempt_limit(script: tuple[Script, str]) -> None:
    backend, url = script
    backend.plan = ["status:503:0"] * 5
    with pytest.raises(UpstreamUnavailable):
        await call(connection(url))
    assert backend.seen == 3


async def test_a_reset_mid_body_and_a_timeout_are_retried(script: tuple[Script, str]) -> None:
    backend, url = script
    backend.plan = ["reset", "ok"]
    assert await call(connection(url)) == {"status": 200, "body": {"ok": True}}
    assert backend.seen == 2
    backend.plan = ["slow", "slow"]
    with pytest.raises(UpstreamTimeout):
        await call(
            connection(url, timeoutSeconds=0.2, retries={"attempts": 2, "backoffSeconds": 0.01})
        )
    assert backend.seen == 4


async def test_the_breaker_opens_and_probes(script: tuple[Script, str]) -> None:
    backend, url = script
    case = connection(
        url, retries={"attempts": 1}, circuitBreaker={"failureThreshold": 2, "resetSeconds": 0.3}
    )
    async with case.open() as api:
        backend.plan = ["status:502", "status:502"]
        for _ in range(2):
            with pytest.raises(UpstreamFailed):
                await api.call("request", {"path": "/x"})
        assert backend.seen == 2
        with pytest.raises(UpstreamUnavailable) as paused:
            await api.call("request", {"path": "/x"})
        assert paused.value.headers["Retry-After"] == "1"
        assert backend.seen == 2  # the open circuit did not call the backend
        await asyncio.sleep(0.35)
        assert await api.call("request", {"path": "/x"}) == {"status": 200, "body": {"ok": True}}
        assert backend.seen == 3
        assert api.breaker.state == "closed"  # type: ignore[attr-defined]


def test_breaker_states_on_a_clock() -> None:
    now = [0.0]
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=3, reset_seconds=10), lambda: now[0])
    for _ in range(2):
        breaker.before_call()
        breaker.failure()
    assert breaker.state == "closed"
    breaker.before_call()
    breaker.success()  # a success resets the count
    for _ in range(3):
        breaker.before_call()
        breaker.failure()
    assert breaker.state == "open"
    with pytest.raises(UpstreamUnavailable):
        breaker.before_call()
    now[0] = 10.0
    assert breaker.state == "half-open"
    breaker.before_call()  # the one probe
    with pytest.raises(UpstreamUnavailable):
        breaker.before_call()  # others wait while it runs
    breaker.failure()
    assert breaker.state == "open"  # a failed probe opens it again at once
    now[0] = 20.0
    breaker.before_call()
    breaker.success()
    assert breaker.state == "closed"


def test_retry_after_forms() -> None:
    assert retry_after_seconds("7") == 7
    later = datetime.now(UTC) + timedelta(seconds=30)
    seconds = retry_after_seconds(format_datetime(later, usegmt=True))
    assert seconds is not None
    assert 25 <= seconds <= 31
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


async def test_an_unreachable_backend_opens_the_breaker() -> None:
    case = connection(
        f"http://127.0.0.1:{free_port()}",
        retries={"attempts": 1},
        circuitBreaker={"failureThreshold": 1, "resetSeconds": 30},
    )
    async with case.open() as api:
        with pytest.raises(UpstreamUnreachable):
            await api.call("request", {"path": "/x"})
        with pytest.raises(UpstreamUnavailable):
            await api.call("request", {"path": "/x"})


async def test_one_callers_500_does_not_pause_the_backend(script: tuple[Script, str]) -> None:
    backend, url = script
    case = connection(url, retries={"attempts": 1}, circuitBreaker={"failureThreshold": 1})
    async with case.open() as api:
        backend.plan = ["status:500"]
        with pytest.raises(UpstreamFailed):
            await api.call("request", {"path": "/x"})
        assert api.breaker.state == "closed"  # type: ignore[attr-defined]


async def test_a_probe_that_ends_oddly_frees_the_way(script: tuple[Script, str]) -> None:
    from isthmus.errors import UpstreamResponseTooLarge

    backend, url = script
    case = connection(
        url,
        retries={"attempts": 1},
        maxResponseBytes=1024,
        circuitBreaker={"failureThreshold": 1, "resetSeconds": 0.2},
    )
    async with case.open() as api:
        backend.plan = ["status:503"]
        with pytest.raises(UpstreamUnavailable):
            await api.call("request", {"path": "/x"})
        await asyncio.sleep(0.25)
        backend.plan = ["big"]
        with pytest.raises(UpstreamResponseTooLarge):  # the probe: neither success nor failure
            await api.call("request", {"path": "/x"})
        assert await api.call("request", {"path": "/x"}) == {"status": 200, "body": {"ok": True}}
