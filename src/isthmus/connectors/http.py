"""The one outbound HTTP client of connectors: HTTP/1.1 keep-alive connections to one origin.

Written here rather than taken from a library because the gateway's profile showed the
library client as its bottleneck: aiohttp's client took ~46 % of the gateway's CPU, and a
forwarder on this client served about 3x the requests of the same forwarder on aiohttp
(pyreqwest and aiosonic did worse than aiohttp; docs/benchmarks.md). Parsing is httptools
(llhttp), TLS is the event loop's, addresses are judged by :mod:`addresses` at every new
connection. On purpose it does not follow redirects, keep cookies, stream request
bodies, pipeline, or speak HTTP/2.

No timer is armed per exchange: while exchanges are under way one ticker per pool looks
at their deadlines (total and read silence) every ``TICK_SECONDS``, so a timeout fires at
most that much late. A connection serves one exchange at a time; connections are reused
last-in, first-out so the warmest one answers and the rest can age out.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import zlib
from collections import deque
from dataclasses import dataclass

import httptools
from yarl import URL

from isthmus.connectors.addresses import allowed_addresses
from isthmus.connectors.base import Headers, UpstreamResponse
from isthmus.errors import (
    BadRequest,
    IsthmusError,
    UpstreamFailed,
    UpstreamResponseTooLarge,
    UpstreamTimeout,
    UpstreamUnreachable,
)

# The client writes these itself; a caller's copy could smuggle a second request.
_OWN_HEADERS = frozenset(
    {
        b"host",
        b"content-length",
        b"transfer-encoding",
        b"connection",
        b"keep-alive",
        b"te",
        b"upgrade",
        b"expect",
        b"trailer",
    }
)
_METHOD = re.compile(r"[A-Z]{1,16}")
_TUNNELS = frozenset({"CONNECT", "TRACE"})  # a proxy's business, never a connector's
_TARGET = re.compile(r"/[\x21-\x7e]*")  # visible ASCII: spaces and controls are encoded
_FIELD_NAME = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 §5.1 token
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # in a head, only CR LF HTAB
_NAMES_SEEN: set[bytes] = set()  # names found valid; bounded below
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_MAX_HEAD_BYTES = 64 * 1024
TICK_SECONDS = 0.05
_CODED = frozenset({b"content-encoding", b"content-length"})
_DECODERS = {b"gzip": 16 + zlib.MAX_WBITS, b"x-gzip": 16 + zlib.MAX_WBITS, b"deflate": 0}


@dataclass(frozen=True, slots=True)
class Limits:
    connect_timeout: float = 5.0
    read_timeout: float | None = 30.0  # longest silence while waiting for the answer
    total_timeout: float = 30.0  # the whole exchange, waiting for a connection included
    max_connections: int = 100
    max_response_bytes: int = 10 * 1024 * 1024
    idle_seconds: float = 15.0  # below the keep-alive timeout of common servers


class _Stale(Exception):
    """A reused connection closed before any byte of the answer: the server had timed it
    out. An idempotent request may go again on a fresh connection."""


def _too_large() -> UpstreamResponseTooLarge:
    return UpstreamResponseTooLarge(
        "The backend's response is larger than the Connection allows (maxResponseBytes)."
    )


class _Abort(Exception):
    """Raised inside a parser callback to stop parsing; the reason is on the connection."""


class _Connection(asyncio.Protocol):
    """One connection to the origin, carrying one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limits: Limits) -> None:
        self.loop = loop
        self.limits = limits
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[UpstreamResponse] | None = None
        self._deadline = 0.0
        self._activity = 0.0
        self._head_only = False
        self._keep = False
        self._received = False
        # Bytes received before the headers end, counted as they arrive: llhttp keeps a
        # header value whole until it ends, so counting complete headers comes too late.
        self._head_size = 0
        self._begin_message()

    def _begin_message(self) -> None:
        self._keep = False  # a second answer begun: not reusable until it completes
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._chunks: list[bytes] = []
        self._size = 0
        self._length_known = False
        self._headers_done = False
        self._failure: IsthmusError | None = None

    # -- the exchange ------------------------------------------------------------------

    def send(
        self, head: bytes, body: bytes | None, head_only: bool, now: float, deadline: float
    ) -> asyncio.Future[UpstreamResponse]:
        """Start an exchange; the future is its answer."""
        assert self.transport is not None
        assert self._waiter is None
        self._waiter = waiter = self.loop.create_future()
        self._head_only = head_only
        self._received = False
        self._head_size = 0
        self._headers_done = False
        self._keep = False  # until an answer completes in good order
        self._deadline = deadline
        self._activity = now
        self.transport.write(head + body if body else head)
        return waiter

    def finish(self) -> None:
        """End the exchange, answered or not."""
        self._waiter = None

    @property
    def keep(self) -> bool:
        """Whether the connection may carry another exchange."""
        return self._keep and not self.closed

    def close(self) -> None:
        self.closed = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    def _settle(self, result: UpstreamResponse | BaseException) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if isinstance(result, BaseException):
            self._keep = False
            waiter.set_exception(result)
        else:
            waiter.set_result(result)

    def _fail(self, error: BaseException) -> None:
        self._settle(error)
        self.close()

    def check_time(self, now: float) -> None:
        """Fail the exchange if it is past its deadline or silent for too long."""
        if self._waiter is None or self._waiter.done():
            return
        silent = self.limits.read_timeout
        if now >= self._deadline or (silent is not None and now - self._activity >= silent):
            self._fail(
                UpstreamTimeout("The backend did not answer within the Connection's timeout.")
            )

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():  # bytes nobody asked for: unusable now
            self._keep = False
            self.close()
            return
        self._received = True
        self._activity = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail(self._failure or UpstreamFailed("The backend's answer is not valid HTTP."))
            return
        if not self._headers_done:  # still in the head after all of this: count it
            self._head_size += len(data)
            if self._head_size > _MAX_HEAD_BYTES:
                self._fail(UpstreamFailed("The backend's answer has oversized headers."))

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost tells the rest

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is None or self._waiter.done():
            return
        delimited = self._headers_done and not self._length_known
        if delimited and exc is None and self.parser.get_status_code() >= 200:
            self._complete()  # an answer delimited by closing the connection (RFC 9112 §6.3)
        elif not self._received and self.reused:
            self._settle(_Stale())
        else:
            self._settle(UpstreamUnreachable("The connection to the backend failed."))

    # -- httptools callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._begin_message()

    def on_header(self, name: bytes, value: bytes) -> None:
        # Complete headers count here; a header still arriving counts in data_received.
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > _MAX_HEAD_BYTES:
            self._failure = UpstreamFailed("The backend's answer has oversized headers.")
            raise _Abort
        name = name.lower()
        if name == b"content-length":
            self._length_known = True
        elif name == b"transfer-encoding":
            # The hub never offers other transfer codings (no TE header), so a server may
            # use only chunked (RFC 9112 §6.1); another would reach callers still coded.
            if value.strip().lower() != b"chunked":
                self._failure = UpstreamFailed(
                    "The backend's answer uses a transfer coding the hub did not offer."
                )
                raise _Abort
            self._length_known = True
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._headers_done = True
        status = self.parser.get_status_code()
        if status < 200:
            return
        # the Content-Length of a HEAD, 204 or 304 answer describes a body not sent
        if not self._head_only and status != 204 and status != 304:
            for name, value in self._headers:
                if name == b"content-length" and int(value) > self.limits.max_response_bytes:
                    self._failure = _too_large()
                    raise _Abort
        if self._head_only:  # the answer to HEAD has no body, whatever it announces
            self._keep = False  # llhttp would wait for one: this connection is done
            self._settle(UpstreamResponse(self.parser.get_status_code(), self._headers, b""))

    def on_body(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self.limits.max_response_bytes:
            self._failure = _too_large()
            raise _Abort
        self._chunks.append(chunk)

    def on_message_complete(self) -> None:
        if self.parser.get_status_code() < 200:  # 1xx: the real answer follows
            return
        self._keep = self.parser.should_keep_alive()
        self._complete()

    def _complete(self) -> None:
        headers = self._headers
        body = b"".join(self._chunks)
        for name, value in headers:
            if name == b"content-encoding" and value.strip().lower() != b"identity":
                try:
                    body = _decoded(value.strip().lower(), body, self.limits.max_response_bytes)
                except IsthmusError as error:
                    self._keep = False
                    self._settle(error)
                    return
                # the answer now has neither that coding nor the coded length
                headers = [h for h in headers if h[0] not in _CODED]
                break
        self._settle(UpstreamResponse(self.parser.get_status_code(), headers, body))


def _decoded(encoding: bytes, body: bytes, limit: int) -> bytes:
    """``body`` without its gzip or deflate coding, refusing one that inflates past
    ``limit``."""
    wbits = _DECODERS.get(encoding)
    if wbits is None:
        raise UpstreamFailed(
            f"The backend's answer uses a content coding the hub cannot read "
            f"({encoding.decode('latin-1')[:20]})."
        )
    if encoding == b"deflate":  # zlib-wrapped as RFC 9110 says, raw as some servers send
        wbits = zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS
    damaged = UpstreamFailed("The backend's compressed answer is damaged.")
    parts: list[bytes] = []
    size = 0
    while True:  # gzip may hold several members, one after the other
        inflater = zlib.decompressobj(wbits)
        try:
            part = inflater.decompress(body, limit + 1 - size)
        except zlib.error:
            raise damaged from None
        size += len(part)
        if size > limit or inflater.unconsumed_tail:
            raise _too_large()
        if not inflater.eof:  # cut short
            raise damaged
        parts.append(part)
        body = inflater.unused_data
        if not body or wbits != 16 + zlib.MAX_WBITS:
            return b"".join(parts)


def _valid_name(name: bytes) -> bool:
    if not _FIELD_NAME.fullmatch(name):
        return False
    if len(_NAMES_SEEN) < 4096:  # names repeat: remember them, within reason
        _NAMES_SEEN.add(name)
    return True


class OriginPool:
    """Keep-alive connections to one origin (scheme, host, port), at most
    ``limits.max_connections`` at once; callers beyond that wait for a free one."""

    def __init__(
        self,
        origin: URL,
        *,
        allow_private: bool,
        limits: Limits,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if origin.scheme not in ("http", "https") or not origin.raw_host:
            raise ValueError("an origin is an absolute http:// or https:// URL")
        self.limits = limits
        self._allow_private = allow_private
        self._host = origin.raw_host  # IDNA-encoded
        self._port = origin.port or (443 if origin.scheme == "https" else 80)
        host = f"[{self._host}]" if ":" in self._host else self._host
        default = self._port == (443 if origin.scheme == "https" else 80)
        self._authority = (host if default else f"{host}:{self._port}").encode("ascii")
        if origin.scheme == "https":  # certificates checked against the system's CAs
            self._tls: ssl.SSLContext | None = tls or ssl.create_default_context()
        else:
            self._tls = None
        self._idle: list[_Connection] = []  # last in, first out
        self._busy: set[_Connection] = set()
        self._opening = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self._ticker: asyncio.TimerHandle | None = None
        # finer for short timeouts, so that they stay close to what was configured
        shortest = min(limits.total_timeout, limits.read_timeout or limits.total_timeout)
        self._tick_seconds = min(TICK_SECONDS, shortest / 5)
        self.connections_opened = 0  # a counter tests and metrics can read

    async def request(
        self, method: str, target: str, headers: Headers = (), body: bytes | None = None
    ) -> UpstreamResponse:
        """Send one request (``target`` is the percent-encoded path and query) and read
        the whole answer."""
        head = self._head(method, target, headers, body)
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadline = now + self.limits.total_timeout
        fresh = False  # True once a reused connection turned out closed
        while True:
            connection = None if fresh else self._reusable(now)
            if connection is None:
                connection = await self._acquire(loop, deadline, fresh)
                now = loop.time()
            try:
                answer = connection.send(head, body, method == "HEAD", now, deadline)
                if self._ticker is None:
                    self._ticker = loop.call_later(self._tick_seconds, self._tick)
                return await answer
            except _Stale:
                if fresh or method not in _IDEMPOTENT:
                    raise UpstreamUnreachable(
                        "The backend closed the connection before answering."
                    ) from None
                fresh = True
            finally:
                connection.finish()
                self._release(connection)

    def _tick(self) -> None:
        self._ticker = None
        if self._busy:
            now = asyncio.get_running_loop().time()
            for connection in list(self._busy):
                connection.check_time(now)
            self._ticker = asyncio.get_running_loop().call_later(self._tick_seconds, self._tick)

    # -- the request head -----------------------------------------------------------------

    def _head(self, method: str, target: str, headers: Headers, body: bytes | None) -> bytes:
        if not _METHOD.fullmatch(method) or method in _TUNNELS or not _TARGET.fullmatch(target):
            raise BadRequest("The backend request's method or path holds characters HTTP forbids.")
        parts = [f"{method} {target} HTTP/1.1\r\nhost: ".encode("ascii"), self._authority]
        lines = 3  # after the request line, after the last header, the empty line
        for name, value in headers:
            if name not in _NAMES_SEEN and not _valid_name(name):
                raise BadRequest("A header name sent to the backend is not an HTTP token.")
            if name.lower() not in _OWN_HEADERS:
                parts += (b"\r\n", name, b": ", value)
                lines += 1
        if body or method in _BODY_METHODS:
            parts.append(b"\r\ncontent-length: %d" % len(body or b""))
            lines += 1
        parts.append(b"\r\n\r\n")
        head = b"".join(parts)
        # Exactly the CRs and LFs written here: a header carrying a line break would start
        # a header (or a request) of its own at the backend.
        if head.count(b"\n") != lines or head.count(b"\r") != lines or _CONTROL.search(head):
            raise BadRequest("A header sent to the backend holds a line break or control byte.")
        return head

    # -- the pool -------------------------------------------------------------------------

    def _reusable(self, now: float) -> _Connection | None:
        """The most recently used idle connection that is still good, if any."""
        idle = self._idle
        while idle:
            connection = idle.pop()
            if connection.closed or now - connection.idle_since > self.limits.idle_seconds:
                connection.close()
                continue
            connection.reused = True
            self._busy.add(connection)
            return connection
        return None

    async def _acquire(
        self, loop: asyncio.AbstractEventLoop, deadline: float, fresh: bool
    ) -> _Connection:
        """A connection once there is room for one: an idle one, else a new one."""
        if self._closed:
            raise UpstreamUnreachable("The Connection was closed; send it again.")
        idle = self._idle
        if not fresh and (connection := self._reusable(loop.time())) is not None:
            return connection
        while len(self._busy) + len(idle) + self._opening >= self.limits.max_connections:
            if idle:  # at the limit only because of idle connections: make room
                idle.pop(0).close()
                continue
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except BaseException as error:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # woken but leaving: pass the turn on
                elif waiter in self._waiters:
                    self._waiters.remove(waiter)
                if isinstance(error, TimeoutError):
                    raise UpstreamTimeout(
                        "No connection to the backend came free within the Connection's "
                        "timeout (maxConnections)."
                    ) from None
                raise
            if self._closed:
                raise UpstreamUnreachable("The Connection was closed; send it again.")
            if not fresh and (connection := self._reusable(loop.time())) is not None:
                return connection
        self._opening += 1
        try:
            connection = await self._connect(loop, deadline)
        finally:
            self._opening -= 1
            self._wake()
        self._busy.add(connection)
        return connection

    def _release(self, connection: _Connection) -> None:
        self._busy.discard(connection)
        if connection.keep and not self._closed:
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.append(connection)
        else:
            connection.close()
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _connect(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Connection:
        timeout = min(self.limits.connect_timeout, deadline - loop.time())
        try:
            async with asyncio.timeout(max(timeout, 0)):
                addresses = await allowed_addresses(
                    self._host, self._port, allow_private=self._allow_private
                )
                failure: OSError | None = None
                for family, address in addresses:
                    try:
                        _, connection = await loop.create_connection(
                            lambda: _Connection(loop, self.limits),
                            address,
                            self._port,
                            family=family,
                            ssl=self._tls,
                            server_hostname=self._host if self._tls else None,
                        )
                    except OSError as error:
                        failure = error
                        continue
                    self.connections_opened += 1
                    return connection
        except TimeoutError:
            raise UpstreamTimeout("The backend did not accept a connection in time.") from None
        if isinstance(failure, ssl.SSLError):
            raise UpstreamUnreachable(
                "The TLS handshake with the backend failed (certificate or protocol)."
            ) from None
        raise UpstreamUnreachable("The connection to the backend failed.") from None

    async def close(self) -> None:
        self._closed = True
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        for connection in [*self._idle, *self._busy]:
            connection.close()
        self._idle.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)


class OriginPools:
    """A pool per origin, all under one address policy and one set of limits: what a
    connector that follows an API to its token endpoint or CDN host needs. Calling it
    gives the origin's pool, made on first use."""

    def __init__(self, *, allow_private: bool, limits: Limits) -> None:
        self.allow_private = allow_private
        self._limits = limits
        self._pools: dict[URL, OriginPool] = {}

    def __call__(self, origin: URL) -> OriginPool:
        pool = self._pools.get(origin)
        if pool is None:
            pool = OriginPool(origin, allow_private=self.allow_private, limits=self._limits)
            self._pools[origin] = pool
        return pool

    async def close(self) -> None:
        for pool in self._pools.values():
            await pool.close()
        self._pools.clear()
