"""Plans enforced: request rates and daily quotas per App and Api.

Each Plan compiles to up to three policies, all tested before any is counted (a request
refused by one uses up none of the others):

* ``burst`` — at most ``rate.burst`` requests in any one second;
* ``rate`` — at most ``rate.requests`` in any ``rate.periodSeconds`` (moving window);
* ``daily`` — at most ``dailyQuota`` per UTC day.

Counters live in process memory (embedded mode) or in Redis (cluster mode); see
:mod:`isthmus.gateway.counters`. If the counter store is down or slow the gateway serves
uncounted rather than refusing everyone, and leaves the store alone for a while.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import structlog

from isthmus.errors import FatalError
from isthmus.gateway.counters import Counters, Verdict
from isthmus.model import Plan
from isthmus.model.plan import MAX_QUOTA

POLICY_NAMES = ("burst", "rate", "daily")
# The longest RateLimit and RateLimit-Policy values the gateway can send, from how they
# are built below: a policy's name, a count up to the largest quota, and seconds up to a
# day (the longest window, and the longest wait for it to free a request).
_ITEM_LENGTH = len('"";r=;t=') + max(map(len, POLICY_NAMES)) + len(str(MAX_QUOTA)) + len("86400")
RATELIMIT_MAX_LENGTH = _ITEM_LENGTH
RATELIMIT_POLICY_MAX_LENGTH = len(POLICY_NAMES) * (_ITEM_LENGTH + len(", ")) - len(", ")

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

    @property
    def daily(self) -> bool:
        return self.name == "daily"


@dataclass(frozen=True)
class Policies:
    """A Plan's policies with their ``RateLimit-Policy`` header, built once per snapshot."""

    items: tuple[Policy, ...]
    header: bytes

    @classmethod
    def of(cls, plan: Plan) -> Policies:
        spec = plan.spec
        found: list[Policy] = []
        if spec.rate is not None and spec.rate.burst is not None:
            found.append(Policy("burst", spec.rate.burst, 1))
        if spec.rate is not None:
            found.append(Policy("rate", spec.rate.requests, spec.rate.period_seconds))
        if spec.daily_quota is not None:
            found.append(Policy("daily", spec.daily_quota, 86400))
        # draft-ietf-httpapi-ratelimit-headers: RateLimit-Policy: "name";q=quota;w=window
        header = ", ".join(f'"{p.name}";q={p.quota};w={p.window}' for p in found)
        return cls(tuple(found), header.encode())


NO_POLICIES = Policies((), b"")


class RateLimiter:
    """Admits or refuses one request of an App to an Api under its Plan."""

    def __init__(self, counters: Counters, timeout: float = STORAGE_TIMEOUT_SECONDS) -> None:
        self.counters = counters
        self.timeout = timeout  # a counter store slower than this is treated as down
        self._skip_until = 0.0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.counters.aclose()

    async def admit(
        self, policies: Policies, app: str, api: str, environment: str
    ) -> list[tuple[bytes, bytes]]:
        """Count the request and return its RateLimit headers, or raise
        :class:`RateLimited` with Retry-After."""
        if not policies.items:
            return []
        policy_header = (b"ratelimit-policy", policies.header)
        if self._skip_until and time.monotonic() < self._skip_until:
            return [policy_header]
        # Sandbox traffic never uses up production quota: the Environment is in the scope.
        scope = f"{environment}:{app}:{api}"
        try:
            if self.counters.remote:
                async with asyncio.timeout(self.timeout):
                    verdict = await self.counters.take(scope, policies.items)
            else:
                verdict = await self.counters.take(scope, policies.items)
        except Exception as exc:
            # The counter store is down or slow: serve rather than refuse everyone (fail
            # open), and leave it alone for a while instead of waiting on every request.
            self._skip_until = time.monotonic() + STORAGE_BACKOFF_SECONDS
            log.warning(
                "ratelimit.storage_failed",
                error=type(exc).__name__,
                paused_seconds=STORAGE_BACKOFF_SECONDS,
            )
            return [policy_header]
        self._skip_until = 0.0
        policy = policies.items[verdict.policy]
        state = f'"{policy.name}";r={verdict.remaining};t={verdict.reset}'
        if not verdict.admitted:
            raise _refusal(policy, verdict, policies.header.decode(), state)
        return [policy_header, (b"ratelimit", state.encode())]


def _refusal(policy: Policy, verdict: Verdict, policy_header: str, state: str) -> RateLimited:
    return RateLimited(
        f"The {policy.name} limit of this App's Plan ({policy.quota} per "
        f"{policy.window} s) is used up for this Api.",
        headers={
            "Retry-After": str(verdict.reset),
            "RateLimit-Policy": policy_header,
            "RateLimit": state,
        },
        extensions={"policy": policy.name},
    )
