"""One call to the API as a declarative spec makes it: credentials, the spec's error
rules, retries that honour the API's wait hints, and the Connection's request budget.

Wait hints, in order: ``Retry-After`` (seconds or a date), ``RateLimit`` (``t=``, the
IETF draft), ``X-RateLimit-Reset`` (seconds to wait, or the epoch second it resets at).
A wait longer than the retry policy allows is not waited: the caller gets a 503 problem
with that ``Retry-After``. Retries are for idempotent calls, or ones sent with an
idempotency key.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from yarl import URL

from isthmus.connectors.base import Headers, UpstreamResponse
from isthmus.connectors.declarative.auth import Credentials
from isthmus.connectors.declarative.spec import Budget, ErrorRule
from isthmus.connectors.http import OriginPools
from isthmus.connectors.resilience import (
    IDEMPOTENT_METHODS,
    RetryPolicy,
    backoff,
    retry_after_seconds,
)
from isthmus.errors import IsthmusError, UpstreamFailed, UpstreamUnavailable
from isthmus.mapping import Mapping, MappingError

Action = Literal["retry", "fail", "empty", "ok"]
_DEFAULT_RETRY = frozenset({429, 502, 503, 504})
_RATELIMIT_RESET = re.compile(r"(?:^|[;,\s])t=(\d+)")


@dataclass(frozen=True)
class Answer:
    response: UpstreamResponse
    action: Action  # ok or empty; failures are raised


class RequestBudget:
    """At most ``requests`` calls in any ``per_seconds``, for one Connection; a call
    beyond waits until the oldest leaves the window."""

    def __init__(self, budget: Budget, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self._clock = clock
        self._sent: deque[float] = deque()
        self.waits = 0  # calls that had to wait: a counter tests and health read

    async def take(self) -> None:
        while True:
            now = self._clock()
            while self._sent and self._sent[0] <= now - self.budget.per_seconds:
                self._sent.popleft()
            if len(self._sent) < self.budget.requests:
                self._sent.append(now)
                return
            self.waits += 1
            await asyncio.sleep(self._sent[0] + self.budget.per_seconds - now)


def wait_hint(response: UpstreamResponse, now: float) -> float | None:
    """Seconds the API asks to wait before trying again, if it says."""
    headers = response.headers
    seconds = retry_after_seconds(headers.get("Retry-After"))
    if seconds is not None:
        return seconds
    found = _RATELIMIT_RESET.search(headers.get("RateLimit", ""))
    if found:
        return float(found.group(1))
    reset = headers.get("X-RateLimit-Reset", "").strip()
    if reset.isdigit():
        value = float(reset)
        return max(0.0, value - now) if value > 1_000_000_000 else value  # epoch or delta
    return None


class Caller:
    """Sends the connector's calls. ``requests`` counts every request sent."""

    def __init__(
        self,
        pools: OriginPools,
        credentials: Credentials,
        rules: list[ErrorRule],
        retries: RetryPolicy,
        budget: RequestBudget | None,
    ) -> None:
        self._pools = pools
        self.credentials = credentials
        self._rules = [(rule, Mapping(rule.when) if rule.when else None) for rule in rules]
        self._retries = retries
        self._budget = budget
        self.requests = 0

    async def send(
        self,
        method: str,
        url: URL,
        headers: Headers,
        body: bytes | None = None,
        *,
        keyed: bool = False,
        may_be_empty: bool = False,
    ) -> Answer:
        """The API's answer, after retries; a failure per the rules is raised.
        ``may_be_empty``: an ``empty`` rule may stand for no records (a stream's first
        page); anywhere else it is a failure like any other."""
        retry = method in IDEMPOTENT_METHODS or keyed
        refreshed = False
        attempt = 1
        while True:
            if self._budget is not None:
                await self._budget.take()
            extra, params, token = await self.credentials.get()
            target = url.update_query(params) if params else url
            self.requests += 1
            response = await self._pools(url.origin()).request(
                method, target.raw_path_qs, [*headers, *extra], body
            )
            if response.status < 300:
                return Answer(response, "ok")  # redirects are not followed: failures
            body_value = _json(response)
            expired = self.credentials.refreshable and self._expired(response, body_value)
            if expired and not refreshed:
                self.credentials.expired(token)  # once: a second refusal is a real one
                refreshed = True
                continue
            action = self._action(response.status, body_value)
            if action == "empty" and may_be_empty:
                return Answer(response, "empty")
            if action == "retry" and retry and attempt < self._retries.attempts:
                wait = self._wait(response, attempt)
                if wait is not None:
                    attempt += 1
                    await asyncio.sleep(wait)
                    continue
            raise _failure(response, wait_hint(response, time.time()))

    def _expired(self, response: UpstreamResponse, body: Any) -> bool:
        signal = self.credentials.expired_when
        return response.status == 401 or (signal is not None and _true(signal, body))

    def _action(self, status: int, body: Any) -> Action:
        for rule, when in self._rules:
            if status in rule.status and (when is None or _true(when, body)):
                return rule.action
        return "retry" if status in _DEFAULT_RETRY else "fail"

    def _wait(self, response: UpstreamResponse, attempt: int) -> float | None:
        """Seconds before the next try; None when the API asks for more than we wait."""
        policy = self._retries
        hint = wait_hint(response, time.time())
        if hint is not None:
            return hint if hint <= policy.max_backoff_seconds else None
        return backoff(policy, attempt)


def _json(response: UpstreamResponse) -> Any:
    try:
        return orjson.loads(response.body) if response.body else None
    except orjson.JSONDecodeError:
        return None


def _true(expression: Mapping, body: Any) -> bool:
    try:
        return expression(body) is True
    except MappingError:
        return False


def _failure(response: UpstreamResponse, hint: float | None) -> IsthmusError:
    """The problem for a refused call. The API's own body is not passed on: it can name
    internal hosts or echo credentials."""
    detail = f"The API answered HTTP {response.status}."
    extensions = {"upstreamStatus": response.status}
    if response.status in (429, 503):
        headers = {"Retry-After": str(max(1, math.ceil(hint)))} if hint is not None else None
        return UpstreamUnavailable(detail, extensions=extensions, headers=headers)
    return UpstreamFailed(detail, extensions=extensions)
