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
                "async+" + uri, implementation="redispy", key_prefix=prefix, wrap_exceptions=True
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

    async def admit(self, policies: tuple[Policy, ...], app: str, api: str) -> Decision:
        """Count the request, or raise :class:`RateLimited` with Retry-After."""
        if not policies:
            return Decision([])
        now = datetime.now(UTC)
        day = now.strftime("%Y-%m-%d")
        lowest: tuple[int, int, Policy] | None = None  # (remaining, reset, policy)
        policy_header = (b"ratelimit-policy", _policy_header(policies))
        try:
            for policy in policies:
                if policy.daily:
                    keys = (app, api, day)
                    admitted = await self._fixed.hit(policy.item, *keys)
                    stats = await self._fixed.get_window_stats(policy.item, *keys)
                    reset = _seconds_to_utc_midnight(now)
                else:
                    keys = (policy.name, app, api)
                    admitted = await self._moving.hit(policy.item, *keys)
                    stats = await self._moving.get_window_stats(policy.item, *keys)
                    reset = max(1, int(stats.reset_time - time.time() + 0.999))
                if not admitted:
                    headers = {
                        "Retry-After": str(reset),
                        "RateLimit-Policy": policy_header[1].decode(),
                        "RateLimit": f'"{policy.name}";r=0;t={reset}',
                    }
                    raise RateLimited(
                        f"The {policy.name} limit of this App's Plan ({policy.quota} per "
                        f"{policy.window} s) is used up for this Api.",
                        headers=headers,
                        extensions={"policy": policy.name},
                    )
                remaining = max(0, stats.remaining)
                if lowest is None or remaining < lowest[0]:
                    lowest = (remaining, reset, policy)
        except RateLimited:
            raise
        except Exception:
            # The counter store is down: serve rather than refuse everyone (fail open).
            log.warning("ratelimit.storage_failed", app=app, api=api, exc_info=True)
            return Decision([policy_header])
        assert lowest is not None
        remaining, reset, policy = lowest
        state = f'"{policy.name}";r={remaining};t={reset}'.encode()
        return Decision([policy_header, (b"ratelimit", state)])
