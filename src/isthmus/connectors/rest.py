"""The ``rest`` connector: one HTTP API behind a base URL.

It offers the ``request`` operation (method, path, query, headers, JSON body) and a
``forward`` method the gateway uses to proxy a route without decoding the body.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, cast
from urllib.parse import quote, unquote

import orjson
from pydantic import Field, field_validator
from yarl import URL

from isthmus.connectors.addresses import check_literal_host
from isthmus.connectors.base import (
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Headers,
    Health,
    OperationSpec,
    UnknownOperation,
    UpstreamResponse,
    backend_failure,
)
from isthmus.connectors.http import Limits, OriginPool
from isthmus.connectors.resilience import (
    RETRY_STATUSES,
    BreakerPolicy,
    CircuitBreaker,
    RetryableAnswer,
    RetryPolicy,
    may_retry,
    retry_after,
    retry_after_seconds,
)
from isthmus.errors import (
    BadRequest,
    ConfigurationError,
    IsthmusError,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamUnreachable,
)
from isthmus.model.base import SECRET_PATTERN, SecretRef

_SECRET = re.compile(SECRET_PATTERN)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP field name (RFC 9110 §5.1)
# Characters of a path that a caller's 'request' operation may leave unencoded.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


class NoAuth(ConnectorConfig):
    type: Literal["none"]


class BearerAuth(ConnectorConfig):
    type: Literal["bearer"]
    token: SecretRef


class BasicAuth(ConnectorConfig):
    type: Literal["basic"]
    username: str
    password: SecretRef


class HeaderAuth(ConnectorConfig):
    type: Literal["header"]
    header: str = "X-Api-Key"
    value: SecretRef


class RestConfig(ConnectorConfig):
    base_url: str = Field(description="Where the API lives, e.g. https://crm.example.com/api.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Headers sent on every call. A value may be a secret:// reference; "
        "credential headers (Authorization, *-Api-Key, *-Token, Cookie) must be.",
    )
    auth: NoAuth | BearerAuth | BasicAuth | HeaderAuth = Field(
        default=NoAuth(type="none"), discriminator="type"
    )
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    read_timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="Longest silence while reading the answer."
    )
    timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="Whole-call limit, per try."
    )
    retries: RetryPolicy = Field(
        default_factory=RetryPolicy,
        description="Retries of idempotent calls (or calls with an Idempotency-Key) after "
        "connection failures, timeouts and 429/502/503/504 answers.",
    )
    circuit_breaker: BreakerPolicy = Field(default_factory=BreakerPolicy)
    max_connections: int = Field(default=100, ge=1, le=10_000)
    max_response_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    allow_private_network: bool = Field(
        default=False,
        description="Allow private, loopback and link-local addresses (never cloud metadata).",
    )

    @field_validator("base_url")
    @classmethod
    def _absolute_http(cls, value: str) -> str:
        url = URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an absolute http:// or https:// URL")
        if url.user or url.password:
            raise ValueError("must not carry credentials; use 'auth' with a secret:// reference")
        return value.rstrip("/")

    @field_validator("headers")
    @classmethod
    def _field_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _TOKEN.fullmatch(name):
                raise ValueError(f"'{name}' is not an HTTP header name")
        return value


class RestConnector(Connector):
    def __init__(self, config: RestConfig, context: ConnectorContext) -> None:
        super().__init__(context)
        self.config = config
        self.base = URL(config.base_url)
        self._prefix = self.base.raw_path.rstrip("/")
        self._pool: OriginPool | None = None
        self._fixed: list[tuple[bytes, bytes]] = []
        self._fixed_names: frozenset[bytes] = frozenset()
        self.breaker = CircuitBreaker(config.circuit_breaker)
        self._closed = False

    async def __aenter__(self) -> RestConnector:
        check_literal_host(self.base, allow_private=self.config.allow_private_network)
        fixed = {name: await self._value(value) for name, value in self.config.headers.items()}
        fixed.update(await self._auth_headers())
        for name, value in fixed.items():
            if any(c in value for c in "\r\n\x00") or not value.isprintable():
                raise ConfigurationError(
                    f"The value of the Connection's header '{name}' holds a line break or "
                    "control character.",
                    remediation="Store the value (or the secret it refers to) on one line.",
                )
            self._fixed.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        self._fixed_names = frozenset(name for name, _ in self._fixed)
        self._pool = OriginPool(
            self.base.origin(),
            allow_private=self.config.allow_private_network,
            limits=Limits(
                connect_timeout=self.config.connect_timeout_seconds,
                read_timeout=self.config.read_timeout_seconds,
                total_timeout=self.config.timeout_seconds,
                max_connections=self.config.max_connections,
                max_response_bytes=self.config.max_response_bytes,
            ),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closed = True
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _headers(self, given: Headers) -> Headers:
        """The caller's headers, except that the Connection's own (credentials, tenant
        headers) always win: a caller cannot replace or add to them."""
        if not self._fixed:
            return given
        fixed = self._fixed_names
        merged = [(name, value) for name, value in given if name.lower() not in fixed]
        merged += self._fixed
        return merged

    async def _value(self, value: str) -> str:
        return await self.context.secrets.resolve(value) if _SECRET.match(value) else value

    async def _auth_headers(self) -> dict[str, str]:
        auth = self.config.auth
        if isinstance(auth, BearerAuth):
            return {"Authorization": f"Bearer {await self._value(auth.token)}"}
        if isinstance(auth, BasicAuth):
            pair = f"{auth.username}:{await self._value(auth.password)}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        if isinstance(auth, HeaderAuth):
            return {auth.header: await self._value(auth.value)}
        return {}

    def target_for(self, path: str) -> str:
        """The request target of ``path`` (already percent-encoded) under the base URL.

        Dot segments are refused also when percent-encoded, even inside an encoded
        slash ('..%2F'), since some backends decode before they normalise.
        """
        if not path.startswith("/"):
            raise BadRequest("The backend path must be absolute and must not climb ('..').")
        if "." in path or "%" in path:  # only these can hold a dot segment
            decoded = unquote(path).split("/") if "%" in path else path.split("/")
            if "." in decoded or ".." in decoded:
                raise BadRequest("The backend path must be absolute and must not climb ('..').")
        return self._prefix + path

    async def forward(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        headers: Headers = (),
        body: bytes | None = None,
    ) -> UpstreamResponse:
        """Send one request to the System and read its whole response."""
        pool = self._pool
        if pool is None:
            if self._closed:  # replaced by a new configuration while this call waited
                raise UpstreamUnavailable("The Connection was reconfigured; send it again.")
            raise RuntimeError("connector used outside 'async with'")
        target = self.target_for(path)
        if query:  # the caller's query string is already percent-encoded: keep it as is
            target = f"{target}?{query}"
        sent = self._headers(headers)
        keyed = self.config.retries.honour_idempotency_key and any(
            name.lower() == b"idempotency-key" for name, _ in sent
        )
        retry = may_retry(method, keyed)

        async def once() -> UpstreamResponse:
            return _retryable(await pool.request(method, target, sent, body))

        self.breaker.before_call()
        try:
            try:
                try:  # the first try inline: one coroutine less on the path most calls take
                    answer = _retryable(await pool.request(method, target, sent, body))
                except Exception as first:
                    answer = await retry_after(self.config.retries, retry, first, once)
            except RetryableAnswer as last:  # still failing after the last try: pass it on
                answer = cast(UpstreamResponse, last.answer)
            except (UpstreamUnreachable, UpstreamTimeout):
                self.breaker.failure()
                raise
            # Only signs of an unhealthy backend count: one caller's input that makes it
            # answer 500 must not pause the backend for every App.
            if answer.status in (502, 503, 504):
                self.breaker.failure()
            else:
                self.breaker.success()
            return answer
        finally:
            self.breaker.settle()  # a probe that ended any other way must not block forever

    def operations(self) -> Mapping[str, OperationSpec]:
        return {
            "request": OperationSpec(
                name="request",
                description="Send one HTTP request: method, path, query, headers, body (JSON).",
                input_schema={
                    "type": "object",
                    "properties": {
                        "method": {"type": "string", "default": "GET"},
                        "path": {"type": "string", "default": "/"},
                        "query": {"type": "object"},
                        "headers": {"type": "object"},
                        "body": {},
                    },
                },
            )
        }

    async def call(self, operation: str, payload: Mapping[str, Any]) -> Any:
        if operation != "request":
            raise UnknownOperation(f"The rest connector has no operation '{operation}'.")
        headers = _encoded_headers(payload.get("headers") or {})
        body = None
        if payload.get("body") is not None:
            body = orjson.dumps(payload["body"])
            if not any(name == b"content-type" for name, _ in headers):
                headers.append((b"content-type", b"application/json"))
        query = URL.build(query=payload.get("query") or {}).raw_query_string
        response = await self.forward(
            str(payload.get("method", "GET")).upper(),
            quote(str(payload.get("path", "/")), safe=_PATH_SAFE),
            query=query,
            headers=headers,
            body=body,
        )
        failure = backend_failure(response)
        if failure is not None:
            raise failure
        return {"status": response.status, "body": _decode(response)}

    async def check(self) -> Health:
        try:
            response = await self.forward("GET", "/")
        except IsthmusError as exc:
            return Health(ok=False, detail=exc.detail)
        return Health(ok=True, detail=f"reachable (HTTP {response.status})")


def _retryable(answer: UpstreamResponse) -> UpstreamResponse:
    """The answer, unless its status is worth another try: then raised to say so."""
    if answer.status in RETRY_STATUSES:
        raise RetryableAnswer(answer, retry_after_seconds(answer.headers.get("Retry-After")))
    return answer


def _encoded_headers(given: Mapping[str, Any]) -> list[tuple[bytes, bytes]]:
    headers = []
    for name, value in given.items():
        if not _TOKEN.fullmatch(str(name)):
            raise BadRequest(f"'{name}' is not an HTTP header name.")
        try:
            headers.append((str(name).lower().encode(), str(value).encode("latin-1")))
        except UnicodeEncodeError:
            raise BadRequest(f"The value of header '{name}' is not Latin-1 text.") from None
    return headers


def _decode(response: UpstreamResponse) -> Any:
    if "json" in response.headers.get("Content-Type", "") and response.body:
        try:
            return orjson.loads(response.body)
        except orjson.JSONDecodeError:
            pass
    return response.body.decode("utf-8", "replace")


class RestConnectorType:
    name: ClassVar[str] = "rest"
    supports_proxy: ClassVar[bool] = True
    summary: ClassVar[str] = "An HTTP API behind a base URL."
    config_model: ClassVar[type[ConnectorConfig]] = RestConfig

    def open(self, config: Any, context: ConnectorContext) -> Connector:
        return RestConnector(config, context)
