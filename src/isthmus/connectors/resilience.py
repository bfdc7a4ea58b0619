"""Resilience toward backends: retries with backoff, and a circuit breaker per Connection.

Retries use tenacity. The circuit breaker is ours: the asyncio ones on PyPI are either
unmaintained (aiobreaker, purgatory) or built around decorating one function (pybreaker,
circuitbreaker), while the hub needs one breaker object per Connection, shared by all
its calls, that can say how long it stays open (for ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from typing import Literal, TypeVar

from pydantic import Field
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from isthmus.connectors.base import ConnectorConfig
from isthmus.errors import IsthmusError, UpstreamUnavailable

T = TypeVar("T")
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})


class RetryPolicy(ConnectorConfig):
    attempts: int = Field(default=3, ge=1, le=10, description="Tries in all, the first included.")
    backoff_seconds: float = Field(default=0.2, gt=0, le=60, description="First wait.")
    max_backoff_seconds: float = Field(
        default=5.0, gt=0, le=300, description="Longest wait, and longest Retry-After honoured."
    )
    honour_idempotency_key: bool = Field(
        default=False,
        description="Also retry POST and PATCH requests that carry an Idempotency-Key. Turn "
        "on only if the backend deduplicates by that header.",
    )


class BreakerPolicy(ConnectorConfig):
    failure_threshold: int = Field(
        default=5, ge=1, le=1000, description="Consecutive failures that open the circuit."
    )
    reset_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="How long it stays open before one probe."
    )


class RetryableAnswer(Exception):
    """A backend answer worth another try (429, 502, 503, 504), carried through tenacity."""

    def __init__(self, answer: object, retry_after: float | None) -> None:
        super().__init__("retryable answer")
        self.answer = answer
        self.retry_after = retry_after


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def may_retry(method: str, has_idempotency_key: bool) -> bool:
    return method.upper() in IDEMPOTENT_METHODS or has_idempotency_key


def _retryable(error: BaseException) -> bool:
    if isinstance(error, RetryableAnswer):
        return True
    return isinstance(error, IsthmusError) and error.retriable


def backoff(policy: RetryPolicy, retry_number: int) -> float:
    """Capped exponential backoff with jitter before retry ``retry_number`` (1, 2, …)."""
    base = min(policy.max_backoff_seconds, policy.backoff_seconds * 2.0 ** (retry_number - 1))
    jitter = random.uniform(0, policy.backoff_seconds)  # noqa: S311 - spreading load, not secrecy
    return min(policy.max_backoff_seconds, base + jitter)


def _wait(policy: RetryPolicy, error: BaseException | None, retry_number: int) -> float | None:
    """Seconds to wait before the next try; None when the backend asks for more than
    we would ever wait (its answer then goes back to the caller at once)."""
    if isinstance(error, RetryableAnswer) and error.retry_after is not None:
        if error.retry_after > policy.max_backoff_seconds:
            return None
        return error.retry_after
    return backoff(policy, retry_number)


async def retry_after(
    policy: RetryPolicy, retry: bool, first: Exception, call: Callable[[], Awaitable[T]]
) -> T:
    """What ``call()`` gives on later tries, its first try having failed with ``first``
    (re-raised when it may not be retried).

    Callers make the first try themselves: most calls succeed, and tenacity's machinery
    (which drives the retries) is measurable on the gateway's hot path.
    """
    if not (retry and policy.attempts > 1 and _retryable(first)):
        raise first
    delay = _wait(policy, first, 1)
    if delay is None:
        raise first
    await asyncio.sleep(delay)

    def wait(state: RetryCallState) -> float:
        return (
            _wait(
                policy,
                state.outcome.exception() if state.outcome else None,
                state.attempt_number + 1,
            )
            or 0.0
        )

    def stop(state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        out_of_tries = state.attempt_number + 1 >= policy.attempts
        return out_of_tries or _wait(policy, error, state.attempt_number + 1) is None

    async for attempt in AsyncRetrying(
        stop=stop, wait=wait, retry=retry_if_exception(_retryable), reraise=True
    ):
        with attempt:
            return await call()
    raise AssertionError("tenacity ended without an outcome")  # pragma: no cover


class CircuitBreaker:
    """closed → (threshold consecutive failures) → open → (reset time) → half-open:
    one probe; its success closes the circuit, its failure opens it again."""

    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> Literal["closed", "open", "half-open"]:
        if self.opened_at is None:
            return "closed"
        if self._now() - self.opened_at >= self.policy.reset_seconds:
            return "half-open"
        return "open"

    def _now(self) -> float:
        return self._clock()

    def before_call(self) -> None:
        """Raise at once while open; in half-open let exactly one probe through."""
        state = self.state
        if state == "closed":
            return
        if state == "half-open" and not self._probing:
            self._probing = True
            return
        assert self.opened_at is not None
        wait = max(1, int(self.policy.reset_seconds - (self._now() - self.opened_at) + 0.999))
        raise UpstreamUnavailable(
            "The backend failed repeatedly; calls to it are paused.",
            headers={"Retry-After": str(wait)},
        )

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._probing = False

    def failure(self) -> None:
        self.failures += 1
        if self._probing or self.failures >= self.policy.failure_threshold:
            self.opened_at = self._now()
        self._probing = False

    def settle(self) -> None:
        """End a call however it ended: a probe that neither succeeded nor failed (too
        large an answer, a cancelled caller) frees the way for the next probe."""
        self._probing = False
