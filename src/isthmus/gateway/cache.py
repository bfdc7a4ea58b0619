"""Reusing successful GET answers of routes that ask for it (``cache: {ttlSeconds}``).

A shared, in-memory LRU cache, bounded in entries and in size per entry, emptied when
the configuration changes. Keys hold the Environment, the path with its query, the App
(unless the route says the answer is the same for everyone) and the request headers the
backend names in ``Vary``. HTTP caching rules (RFC 9111) are kept where they matter:
nothing marked ``no-store``, ``no-cache``, ``private`` (unless kept per App) or
``Vary: *`` is stored; ``s-maxage``/``max-age`` shorten the route's time to live; a
caller's ``Cache-Control: no-cache`` skips the cache. ``Cache-Status`` (RFC 9211) says
what happened.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass

from isthmus.gateway.http import GatewayRequest, GatewayResponse, Headers, header_value
from isthmus.model.api import ResponseCaching

_DIRECTIVE = re.compile(r"([a-z-]+)(?:=\"?(\d+)\"?)?")
_NAME = b"isthmus"


@dataclass(frozen=True)
class _Entry:
    status: int
    headers: Headers
    body: bytes
    stored_at: float
    expires_at: float
    vary: tuple[bytes, ...]


def _directives(value: bytes | None) -> dict[str, int | None]:
    if not value:
        return {}
    found = _DIRECTIVE.findall(value.decode("latin-1").lower())
    return {name: int(number) if number else None for name, number in found}


class ResponseCache:
    def __init__(self, max_entries: int = 10_000, max_entry_bytes: int = 256 * 1024) -> None:
        self.max_entries = max_entries
        self.max_entry_bytes = max_entry_bytes
        self._entries: OrderedDict[tuple[object, ...], _Entry] = OrderedDict()
        self._vary: dict[tuple[object, ...], tuple[bytes, ...]] = {}
        self.revision: int | None = None

    def follow(self, revision: int) -> None:
        """Forget everything when the configuration changed."""
        if revision != self.revision:
            self._entries.clear()
            self._vary.clear()
            self.revision = revision

    def _base_key(
        self, request: GatewayRequest, policy: ResponseCaching, env: str
    ) -> tuple[object, ...]:
        app = request.app if policy.per_app else ""
        return (env, app, request.path, request.query_string)

    def lookup(
        self, request: GatewayRequest, policy: ResponseCaching, env: str
    ) -> GatewayResponse | None:
        base = self._base_key(request, policy, env)
        if "no-cache" in _directives(request.header(b"cache-control")):
            request.response_headers.append((b"cache-status", _NAME + b"; fwd=request"))
            return None
        vary = self._vary.get(base, ())
        key = (*base, tuple(request.header(name) for name in vary))
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry is None or entry.expires_at <= now:
            if entry is not None:
                del self._entries[key]
            request.response_headers.append((b"cache-status", _NAME + b"; fwd=miss"))
            return None
        self._entries.move_to_end(key)
        age = str(int(now - entry.stored_at)).encode()
        ttl = str(int(entry.expires_at - now)).encode()
        headers = [*entry.headers, (b"age", age)]
        request.response_headers.append((b"cache-status", _NAME + b"; hit; ttl=" + ttl))
        return GatewayResponse(entry.status, entry.body, headers)

    def store(
        self,
        request: GatewayRequest,
        policy: ResponseCaching,
        env: str,
        response: GatewayResponse,
    ) -> None:
        if response.status != 200 or len(response.body) > self.max_entry_bytes:
            return
        if "no-store" in _directives(request.header(b"cache-control")):
            return
        rules = _directives(header_value(response.headers, b"cache-control"))
        if "no-store" in rules or "no-cache" in rules:
            return
        if "private" in rules and not policy.per_app:
            return
        ttl = float(policy.ttl_seconds)
        for limit in (rules.get("s-maxage"), rules.get("max-age")):
            if limit is not None:
                ttl = min(ttl, float(limit))
                break
        if ttl <= 0:
            return
        vary_header = header_value(response.headers, b"vary")
        vary = (
            tuple(
                sorted(v.strip().lower().encode() for v in vary_header.decode("latin-1").split(","))
            )
            if vary_header
            else ()
        )
        if b"*" in vary:
            return
        base = self._base_key(request, policy, env)
        if len(self._vary) >= self.max_entries:
            self._vary.clear()  # bounded like the entries; lost hints only cost a miss
        self._vary[base] = vary
        key = (*base, tuple(request.header(name) for name in vary))
        now = time.monotonic()
        self._entries[key] = _Entry(
            response.status, list(response.headers), response.body, now, now + ttl, vary
        )
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        for index, (name, value) in enumerate(request.response_headers):
            if name == b"cache-status":
                request.response_headers[index] = (name, value + b"; stored")
