"""Plan counters: the same cases against process memory and against the real Redis."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from isthmus.gateway.counters import Counters, MemoryCounters, RedisCounters
from isthmus.gateway.ratelimit import Policy
from tests.services import redis_url

NOON = datetime(2026, 11, 24, 12, tzinfo=UTC).timestamp()
BURST = Policy("burst", 2, 1)
RATE = Policy("rate", 3, 60)
DAILY = Policy("daily", 4, 86400)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


Make = Callable[[Clock], Counters]


@pytest.fixture(params=["memory", "redis"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Make]:
    made: list[Counters] = []
    prefix = f"isthmus-test-{secrets.token_hex(4)}"
    url = redis_url() if request.param == "redis" else ""

    def build(clock: Clock) -> Counters:
        counters: Counters
        if request.param == "memory":
            counters = MemoryCounters(clock)
        else:
            counters = RedisCounters(url, prefix, timeout=2, clock=clock)
        made.append(counters)
        return counters

    yield build
    if request.param == "redis":
        import redis.asyncio as redis

        async with redis.Redis.from_url(url) as client:
            async for name in client.scan_iter(f"{prefix}*"):
                await client.delete(name)
    for counters in made:
        await counters.aclose()


async def test_a_moving_window_admits_its_quota_then_frees_slots_as_they_age(make: Make) -> None:
    clock = Clock(NOON)
    counters = make(clock)
    remaining = []
    for step in range(3):
        clock.now = NOON + step * 10  # requests at 0 s, 10 s, 20 s
        verdict = await counters.take("s:app:api", (RATE,))
        assert verdict.admitted
        remaining.append(verdict.remaining)
        assert verdict.reset == 60 - step * 10  # the oldest request leaves the window then
    assert remaining == [2, 1, 0]
    clock.now = NOON + 30
    refused = await counters.take("s:app:api", (RATE,))
    assert (refused.admitted, refused.remaining, refused.reset) == (False, 0, 30)
    clock.now = NOON + 60  # the first request has left the window: exactly one slot
    assert (await counters.take("s:app:api", (RATE,))).admitted
    assert not (await counters.take("s:app:api", (RATE,))).admitted
    # another scope has its own window
    assert (await counters.take("s:app:other", (RATE,))).remaining == 2


async def test_a_refusal_counts_against_no_policy(make: Make) -> None:
    clock = Clock(NOON)
    counters = make(clock)
    assert (await counters.take("s:a:b", (BURST, RATE))).admitted
    assert (await counters.take("s:a:b", (BURST, RATE))).admitted
    refused = await counters.take("s:a:b", (BURST, RATE))
    assert (refused.admitted, refused.policy) == (False, 0)  # burst
    clock.now += 1  # a second later the burst has room; the rate had counted only two
    admitted = await counters.take("s:a:b", (BURST, RATE))
    assert admitted.admitted
    assert (admitted.policy, admitted.remaining) == (1, 0)  # the closest to its limit
    refused = await counters.take("s:a:b", (BURST, RATE))
    assert (refused.admitted, refused.policy) == (False, 1)


async def test_a_daily_quota_resets_at_utc_midnight(make: Make) -> None:
    clock = Clock(NOON + 12 * 3600 - 60)  # 23:59 UTC
    counters = make(clock)
    verdicts = [await counters.take("s:a:b", (DAILY,)) for _ in range(5)]
    assert [v.admitted for v in verdicts] == [True, True, True, True, False]
    assert [v.remaining for v in verdicts[:4]] == [3, 2, 1, 0]
    assert verdicts[-1].reset == 60
    clock.now += 60  # 00:00 UTC
    assert (await counters.take("s:a:b", (DAILY,))).remaining == 3


async def test_two_gateways_sharing_a_store_admit_exactly_the_quota(make: Make) -> None:
    clock = Clock(NOON)
    first = make(clock)
    # memory counters are per process, so this only means something on Redis; on memory
    # it checks that concurrent takes in one process are exact too
    second = make(clock) if isinstance(first, RedisCounters) else first
    policies = (Policy("rate", 50, 60), Policy("daily", 1000, 86400))
    verdicts = await asyncio.gather(
        *(c.take("s:shared:api", policies) for c in [first, second] * 100)
    )
    assert sum(v.admitted for v in verdicts) == 50


async def test_idle_windows_and_past_days_are_swept() -> None:
    clock = Clock(NOON)
    counters = MemoryCounters(clock)
    for scope in ("s:a:x", "s:b:x"):
        await counters.take(scope, (RATE, DAILY))
    assert len(counters) == 4
    clock.now += 86400 + 1
    await counters.take("s:c:x", (RATE, DAILY))
    counters.sweep(clock.now, int(clock.now // 86400))
    assert len(counters) == 2  # only the live scope's window and today's count
