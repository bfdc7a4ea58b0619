"""Plans enforced: request rates and daily quotas per App and Api, with the `limits` library.

Each Plan compiles to up to three policies, checked in order:

* ``burst`` — at most ``rate.burst`` requests in any one second;
* ``rate`` — at most ``rate.requests`` in any ``rate.periodSeconds`` (moving window);
* ``daily`` — at most ``dailyQuota`` per UTC day (a counter per day, exact).

Counters live in process memory (embedded mode) or in Redis (cluster mode), where the
moving window is a Lua script and the day counter an INCR: both atomic, so several
gateways sharing Redis admit exactly the quota together. A request refused by one
policy is not counted against the daily quota.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

import structlog
from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.errors import ConfigurationError as LimitsConfigurationError
from limits.storage import storage_from_string

from isthmus.errors import ConfigurationError, FatalError
from isthmus.model import Plan

log = structlog.get_logger(__name__)
# A counter store slower than this is treated as down: the request goes on uncounted.
STORAGE_TIMEOUT_SECONDS = 0.25
STORAGE_BACKOFF_SECONDS = 5.0


class RateLimited(FatalError):
    status = 429
    code = "rate-limited"
    title = "Too many requests"
    remediation = (
        "Wait for the number of seconds in 'Retry-After', then retry; spread requests "
        "out, or ask for a larger Plan."
    )


@dataclass(frozen=True)
class Policy:
    name: str  # burst | rate | daily
    quota: int
    window: int  # seconds
    item: RateLimitItem

    @property
    def daily(self) -> bool:
        return self.name == "daily"


def policies_of(plan: Plan) -> tuple[Policy, ...]:
    spec = plan.spec
    found: list[Policy] = []
    if spec.rate is not None and spec.rate.burst is not None:
        found.append(Policy("burst", spec.rate.burst, 1, RateLimitItemPerSecond(spec.rate.burst)))
    if spec.rate is not None:
        rate = spec.rate
        item = RateLimitItemPerSecond(rate.requests, rate.period_seconds)
        found.append(Policy("rate", rate.requests, rate.period_seconds, item))
    if spec.daily_quota is not None:
        found.append(
            Policy("daily", spec.daily_quota, 86400, RateLimitItemPerDay(spec.daily_quota))
        )
    return tuple(found)


@dataclass(frozen=True)
class Decision:
    headers: list[tuple[bytes, bytes]]


def _policy_header(policies: tuple[Policy, ...]) -> bytes:
    # draft-ietf-httpapi-ratelimit-headers: RateLimit-Policy: "name";q=quota;w=window
    return ", ".join(f'"{p.name}";q={p.quota};w={p.window}' for p in policies).encode()


def _seconds_to_utc_midnight(now: datetime) -> int:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()))


def storage_for(uri: str, prefix: str) -> Storage:
    """``memory://`` or ``redis://host:port/db`` as a limits storage."""
    if uri.startswith("memory://"):
        return MemoryStorage()
    if uri.startswith(("redis://", "rediss://")):
        try:
            storage = storage_from_string(
                "async+" + uri,
                implementation="redispy",
                key_prefix=prefix,
                wrap_exceptions=True,
                socket_connect_timeout=STORAGE_TIMEOUT_SECONDS,
                socket_timeout=STORAGE_TIMEOUT_SECONDS,
            )
        except LimitsConfigurationError as exc:
            raise ConfigurationError(
                "Redis counters need the Redis client.",
                remediation="Install it: pip install 'isthmus[redis]'.",
            ) from exc
        assert isinstance(storage, Storage)
        return storage
    raise ConfigurationError(
        "ISTHMUS_RATE_LIMIT_STORAGE must be 'memory://' or 'redis://host:port/db'.",
        remediation="Set it to memory:// for one hub, or to your Redis for several.",
    )


class RateLimiter:
    """Admits or refuses one request of an App to an Api under its Plan."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._moving = MovingWindowRateLimiter(storage)
        self._fixed = FixedWindowRateLimiter(storage)
        self._skip_until = 0.0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        timer = getattr(self.storage, "timer", None)  # MemoryStorage's expiry task
        if timer is not None and not timer.done():
            timer.cancel()

    async def admit(
        self, policies: tuple[Policy, ...], app: str, api: str, environment: str
    ) -> Decision:
        """Count the request, or raise :class:`RateLimited` with Retry-After."""
        if not policies:
            return Decision([])
        policy_header = (b"ratelimit-policy", _policy_header(policies))
        if time.monotonic() < self._skip_until:
            return Decision([policy_header])
        try:
            async with asyncio.timeout(STORAGE_TIMEOUT_SECONDS):
                state = await self._count(policies, app, api, environment, policy_header[1])
        except RateLimited:
            raise
        except Exception as exc:
            # The counter store is down or slow: serve rather than refuse everyone (fail
            # open), and leave it alone for a while instead of waiting on every request.
            self._skip_until = time.monotonic() + STORAGE_BACKOFF_SECONDS
            log.warning(
                "ratelimit.storage_failed",
                error=type(exc).__name__,
                paused_seconds=STORAGE_BACKOFF_SECONDS,
            )
            return Decision([policy_header])
        return Decision([policy_header, (b"ratelimit", state)])

    async def _count(
        self,
        policies: tuple[Policy, ...],
        app: str,
        api: str,
        environment: str,
        policy_header: bytes,
    ) -> bytes:
        now = datetime.now(UTC)
        day = now.strftime("%Y-%m-%d")

        def keys(policy: Policy) -> tuple[str, ...]:
            # Sandbox traffic never uses up production quota: the Environment is in the key.
            if policy.daily:
                return (environment, app, api, day)
            return (environment, policy.name, app, api)

        def limiter(policy: Policy) -> FixedWindowRateLimiter | MovingWindowRateLimiter:
            return self._fixed if policy.daily else self._moving

        # Test every policy before counting any: a request refused by one must not use up
        # the others (a day's quota spent would otherwise also fill the rate window).
        for policy in policies:
            if not await limiter(policy).test(policy.item, *keys(policy)):
                raise await self._refusal(policy, keys(policy), now, policy_header)
        lowest: tuple[int, int, Policy] | None = None  # (remaining, reset, policy)
        for policy in policies:
            if not await limiter(policy).hit(policy.item, *keys(policy)):
                # Another gateway took the last one between test and hit.
                raise await self._refusal(policy, keys(policy), now, policy_header)
            stats = await limiter(policy).get_window_stats(policy.item, *keys(policy))
            reset = self._reset(policy, stats.reset_time, now)
            remaining = max(0, stats.remaining)
            if lowest is None or remaining < lowest[0]:
                lowest = (remaining, reset, policy)
        assert lowest is not None
        remaining, reset, policy = lowest
        return f'"{policy.name}";r={remaining};t={reset}'.encode()

    @staticmethod
    def _reset(policy: Policy, reset_time: float, now: datetime) -> int:
        if policy.daily:
            return _seconds_to_utc_midnight(now)
        return max(1, int(reset_time - time.time() + 0.999))

    async def _refusal(
        self, policy: Policy, keys: tuple[str, ...], now: datetime, policy_header: bytes
    ) -> RateLimited:
        limiter = self._fixed if policy.daily else self._moving
        stats = await limiter.get_window_stats(policy.item, *keys)
        reset = self._reset(policy, stats.reset_time, now)
        return RateLimited(
            f"The {policy.name} limit of this App's Plan ({policy.quota} per "
            f"{policy.window} s) is used up for this Api.",
            headers={
                "Retry-After": str(reset),
                "RateLimit-Policy": policy_header.decode(),
                "RateLimit": f'"{policy.name}";r=0;t={reset}',
            },
            extensions={"policy": policy.name},
        )
