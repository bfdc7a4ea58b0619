"""Plan counters: every policy of a Plan tested and counted in one atomic step.

Two stores with the same semantics:

* :class:`MemoryCounters` — one hub (embedded mode): a log of recent request times per
  moving window and a count per UTC day, in process memory;
* :class:`RedisCounters` — several gateways (cluster mode): the same, in Redis, done by
  one Lua script so one request costs one round trip and no other gateway can slip in
  between the test and the count.

Written here rather than taken from the ``limits`` library: ``limits`` tests and counts
one item per call, so an all-or-nothing Plan of up to three policies took up to nine
storage calls per request (test, hit and window stats for each), left a gap between
test and hit that other gateways could use, and cost about a fifth of the gateway's CPU
in memory mode (docs/benchmarks.md).

A moving window keeps at most ``quota`` request times and drops expired ones from the
old end as it goes, so each request is O(1) amortised and memory is bounded by the
quota and by the traffic within the window.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from isthmus.errors import ConfigurationError

if TYPE_CHECKING:
    from isthmus.gateway.ratelimit import Policy

DAY = 86400


class Verdict(NamedTuple):  # a tuple: built on every request, cheaply
    """What one request found: refused by ``policy``, or admitted with ``policy`` the
    one closest to its limit. ``reset``: seconds until that policy frees a request."""

    admitted: bool
    policy: int  # index into the policies given
    remaining: int
    reset: int


class Counters(Protocol):
    remote: bool  # a network store: the caller bounds each call with a timeout

    async def take(self, scope: str, policies: tuple[Policy, ...]) -> Verdict:
        """Test every policy; when all have room, count the request in each."""
        ...

    async def aclose(self) -> None: ...


def _ceil_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def _seconds_to_midnight(now: float) -> float:
    return DAY - now % DAY


class MemoryCounters:
    """Counters in this process: exact for one hub."""

    remote = False
    # Idle windows and past days are dropped this often, so memory follows live traffic.
    SWEEP_SECONDS = 60.0

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._days: dict[tuple[str, str, int], int] = {}
        self._next_sweep = clock() + self.SWEEP_SECONDS

    async def take(self, scope: str, policies: tuple[Policy, ...]) -> Verdict:
        now = self._clock()
        day = int(now // DAY)
        if now >= self._next_sweep:
            self.sweep(now, day)
        logs: list[deque[float] | None] = []
        for index, policy in enumerate(policies):  # test all before counting any
            if policy.daily:
                logs.append(None)
                if self._days.get((scope, policy.name, day), 0) >= policy.quota:
                    return Verdict(False, index, 0, _ceil_seconds(_seconds_to_midnight(now)))
                continue
            log = self._windows.get((scope, policy.name))
            if log is None:
                log = self._windows[(scope, policy.name)] = deque()
            horizon = now - policy.window
            while log and log[0] <= horizon:
                log.popleft()
            if len(log) >= policy.quota:
                return Verdict(False, index, 0, _ceil_seconds(log[0] + policy.window - now))
            logs.append(log)
        # count in each; the verdict names the policy with the fewest requests left
        best = -1
        best_remaining = 0
        for index, log in enumerate(logs):
            policy = policies[index]
            if log is None:
                key = (scope, policy.name, day)
                used = self._days[key] = self._days.get(key, 0) + 1
            else:
                log.append(now)
                used = len(log)
            if best < 0 or policy.quota - used < best_remaining:
                best, best_remaining = index, policy.quota - used
        policy, log = policies[best], logs[best]
        reset = _seconds_to_midnight(now) if log is None else log[0] + policy.window - now
        return Verdict(True, best, best_remaining, _ceil_seconds(reset))

    def sweep(self, now: float, day: int) -> None:
        """Drop the logs of idle windows and the counts of past days."""
        self._next_sweep = now + self.SWEEP_SECONDS
        # a log whose newest entry is older than any Plan window we serve (a day at most)
        self._windows = {k: v for k, v in self._windows.items() if v and v[-1] > now - DAY}
        self._days = {k: v for k, v in self._days.items() if k[2] >= day}

    def __len__(self) -> int:
        """Windows and day counts held: what memory follows."""
        return len(self._windows) + len(self._days)

    async def aclose(self) -> None:
        self._windows.clear()
        self._days.clear()


# KEYS: one per policy. ARGV: now (ms), then per policy: kind ('m' moving, 'd' day),
# quota, window (ms; for 'd' the time left in the UTC day). Returns
# {admitted, policy index (1-based), remaining, reset ms}.
_SCRIPT = """
local now = tonumber(ARGV[1])
local n = #KEYS
for i = 1, n do
  local kind, quota, window = ARGV[3*i-1], tonumber(ARGV[3*i]), tonumber(ARGV[3*i+1])
  if kind == 'm' then
    local oldest = redis.call('LINDEX', KEYS[i], -1)
    while oldest and tonumber(oldest) <= now - window do
      redis.call('RPOP', KEYS[i])
      oldest = redis.call('LINDEX', KEYS[i], -1)
    end
    if redis.call('LLEN', KEYS[i]) >= quota then
      return {0, i, 0, tonumber(oldest) + window - now}
    end
  elseif tonumber(redis.call('GET', KEYS[i]) or '0') >= quota then
    return {0, i, 0, window}
  end
end
local best, left, reset = 0, -1, 0
for i = 1, n do
  local kind, quota, window = ARGV[3*i-1], tonumber(ARGV[3*i]), tonumber(ARGV[3*i+1])
  local remaining, until_free
  if kind == 'm' then
    redis.call('LPUSH', KEYS[i], now)
    redis.call('PEXPIRE', KEYS[i], window)
    remaining = quota - redis.call('LLEN', KEYS[i])
    until_free = tonumber(redis.call('LINDEX', KEYS[i], -1)) + window - now
  else
    remaining = quota - redis.call('INCR', KEYS[i])
    redis.call('PEXPIRE', KEYS[i], window + 60000)
    until_free = window
  end
  if left < 0 or remaining < left then
    best, left, reset = i, remaining, until_free
  end
end
return {1, best, left, reset}
"""


class RedisCounters:
    """Counters in Redis, shared by every gateway that names the same server and prefix."""

    remote = True

    def __init__(
        self, url: str, prefix: str, timeout: float, clock: Callable[[], float] = time.time
    ) -> None:
        try:
            from redis.asyncio import Redis
        except ImportError as exc:
            raise ConfigurationError(
                "Redis counters need the Redis client.",
                remediation="Install it: pip install 'isthmus[redis]'.",
            ) from exc
        self._client: Any = Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        self._script = self._client.register_script(_SCRIPT)
        self._prefix = prefix
        self._clock = clock

    async def take(self, scope: str, policies: tuple[Policy, ...]) -> Verdict:
        now = self._clock()
        now_ms = int(now * 1000)
        day = int(now // DAY)
        keys: list[str] = []
        args: list[int | str] = [now_ms]
        for policy in policies:
            # One hash tag per App x Api x Environment: a Redis Cluster keeps them together.
            if policy.daily:
                keys.append(f"{self._prefix}:{{{scope}}}:{policy.name}:{day}")
                args += ["d", policy.quota, int(_seconds_to_midnight(now) * 1000)]
            else:
                keys.append(f"{self._prefix}:{{{scope}}}:{policy.name}")
                args += ["m", policy.quota, policy.window * 1000]
        admitted, index, remaining, reset_ms = await self._script(keys=keys, args=args)
        return Verdict(
            bool(admitted), int(index) - 1, int(remaining), _ceil_seconds(reset_ms / 1000)
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def counters_for(uri: str, prefix: str, timeout: float) -> Counters:
    """``memory://`` or ``redis://host:port/db`` as a counter store."""
    if uri.startswith("memory://"):
        return MemoryCounters()
    if uri.startswith(("redis://", "rediss://", "unix://")):
        return RedisCounters(uri, prefix, timeout)
    raise ConfigurationError(
        "ISTHMUS_RATE_LIMIT_STORAGE must be 'memory://' or 'redis://host:port/db'.",
        remediation="Set it to memory:// for one hub, or to your Redis for several.",
    )
