"""The connector extension point.

A :class:`ConnectorType` is the plugin (registered under the ``isthmus.connectors`` entry
point): it declares its config schema once, as a pydantic model, and opens a
:class:`Connector` for one Connection. An open connector offers three things:

* **operations** — typed actions (``call``),
* **streams** — collections that can be read with a :class:`StreamQuery`; each stream
  declares which parts of the query the System can do itself (its pushdown), and the
  hub applies the rest,
* **triggers** — event sources (webhook, poll, subscribe).

Connectors are async context managers: resources (pools, sessions) live between
``__aenter__`` and ``__aexit__``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Literal, Protocol, Self, runtime_checkable

import pyarrow as pa
from multidict import CIMultiDict, CIMultiDictProxy
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from isthmus.errors import (
    IsthmusError,
    NotFound,
    UpstreamFailed,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from isthmus.governance.audit import AuditSink, NoAudit

Record = dict[str, Any]
# The App on whose behalf a connector works, where the gateway knows it: for audits.
CALLER: ContextVar[str] = ContextVar("isthmus_caller", default="")
FilterOp = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "contains"]


class ConnectorConfig(BaseModel):
    """Base of every connector's config model: camelCase in YAML, unknown keys refused,
    no type coercion."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, strict=True
    )


@dataclass(frozen=True)
class OperationSpec:
    name: str
    description: str = ""
    input_schema: Mapping[str, Any] = field(default_factory=dict)
    idempotent: bool = False


@dataclass(frozen=True)
class Pushdown:
    """What a stream can do at the source rather than in the hub."""

    filter_ops: frozenset[FilterOp] = frozenset()
    projection: bool = False
    sort: bool = False
    limit: bool = False
    cursor_field: str | None = None
    filter_fields: frozenset[str] | None = None  # the fields it filters on; None: any


@dataclass(frozen=True)
class StreamSpec:
    name: str
    primary_key: tuple[str, ...] = ()
    json_schema: Mapping[str, Any] = field(default_factory=dict)
    pushdown: Pushdown = Pushdown()
    # Fields the System will not list without: each read needs an eq/in filter on them.
    required_filters: tuple[str, ...] = ()
    # For streams read over an API, page by page: the most requests one read makes and
    # the records per request where known. max_pages None: reading costs no API calls
    # (a database, files, memory).
    max_pages: int | None = None
    page_size: int | None = None
    request_budget: int | None = None  # the Connection's requests per budget window


@dataclass(frozen=True)
class Filter:
    field: str
    op: FilterOp
    value: Any


@dataclass(frozen=True)
class StreamQuery:
    filters: tuple[Filter, ...] = ()
    fields: tuple[str, ...] | None = None
    sort: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    limit: int | None = None
    cursor: Any = None  # read records whose cursor field is greater than this


@dataclass
class ReadTally:
    """What reading cost at the System: records received (before any filtering in the
    hub) and requests made. A reader sets one in :data:`TALLY`; connectors add to it."""

    records: int = 0
    requests: int = 0


TALLY: ContextVar[ReadTally | None] = ContextVar("isthmus_read_tally", default=None)


def tally(records: int = 0, requests: int = 0) -> None:
    """Count what the System sent to whoever is reading, if anyone counts."""
    current = TALLY.get()
    if current is not None:
        current.records += records
        current.requests += requests


@dataclass(frozen=True)
class Estimate:
    rows: float | None  # None: the System cannot say
    cost: float | None = None
    full_scans: tuple[str, ...] = ()  # tables it would read whole


@runtime_checkable
class SqlSource(Protocol):
    """A connector that runs whole SELECTs over its streams (a database): the virtual
    layer sends joins and aggregates within one such source to it."""

    sql_dialect: str  # sqlglot's name for the database's SQL

    def select(self, sql: str, params: Mapping[str, Any]) -> AsyncIterator[pa.RecordBatch]:
        """The rows of one guarded SELECT (``:name`` parameters) in Arrow batches (dates
        and times as such); refused above the Connection's row cap. Empty results yield
        no batch."""
        ...

    async def estimate(self, sql: str, params: Mapping[str, Any]) -> Estimate:
        """The database planner's estimate for the SELECT, without running it."""
        ...


@dataclass(frozen=True)
class TriggerSpec:
    name: str
    mode: Literal["webhook", "poll", "subscribe"]
    description: str = ""


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


class SecretResolver(Protocol):
    async def resolve(self, reference: str) -> str:
        """The value behind ``secret://name``; raises if it is not in the vault."""
        ...


@runtime_checkable
class SecretStore(SecretResolver, Protocol):
    """A resolver that can also write: for credentials the System replaces as they are
    used (rotated refresh tokens). The hub's vault is one."""

    async def set(self, name: str, value: str) -> None: ...


@runtime_checkable
class SecretLocks(Protocol):
    """A vault that can make hub processes take turns with one secret: spending a
    rotating refresh token is safe only one process at a time."""

    def lock(self, reference: str) -> AbstractAsyncContextManager[None]: ...


@dataclass(frozen=True)
class ConnectorContext:
    """What the hub gives a connector when it opens one Connection."""

    connection: str
    environment: str
    secrets: SecretResolver
    # Where governed connectors record what they did (the hub's audit log).
    audit: AuditSink = field(default_factory=NoAudit)


class UnknownOperation(NotFound):
    code = "unknown-operation"
    title = "No such operation"
    remediation = "Call one of the operations the connector lists."


class Connector:
    """An open Connection. Subclasses override the parts they offer."""

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def operations(self) -> Mapping[str, OperationSpec]:
        return {}

    async def call(self, operation: str, payload: Mapping[str, Any]) -> Any:
        raise UnknownOperation(f"The connector offers no operation '{operation}'.")

    def streams(self) -> Mapping[str, StreamSpec]:
        return {}

    def read(self, stream: str, query: StreamQuery) -> AsyncIterator[Record]:
        raise NotFound(f"The connector offers no stream '{stream}'.")

    def triggers(self) -> Mapping[str, TriggerSpec]:
        return {}

    def subscribe(self, trigger: str) -> AsyncIterator[Record]:
        raise NotFound(f"The connector offers no trigger '{trigger}'.")

    async def check(self) -> Health:
        return Health(ok=True, detail="no check defined; assumed reachable")


Headers = Sequence[tuple[bytes, bytes]]  # lower-case names as bytes, repeats kept


class UpstreamResponse:
    """A backend's whole answer. Header names are lower-case bytes; repeats are kept."""

    __slots__ = ("_headers", "body", "raw_headers", "status")

    def __init__(self, status: int, raw_headers: Headers, body: bytes) -> None:
        self.status = status
        self.raw_headers = raw_headers
        self.body = body
        self._headers: CIMultiDictProxy[str] | None = None

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """The headers decoded, looked up case-insensitively (built on first use)."""
        if self._headers is None:
            self._headers = CIMultiDictProxy(
                CIMultiDict(
                    (name.decode("latin-1"), value.decode("latin-1"))
                    for name, value in self.raw_headers
                )
            )
        return self._headers


def backend_failure(response: UpstreamResponse) -> IsthmusError | None:
    """The problem for a backend's 5xx answer, whose own body is never passed on: it can
    carry stack traces and host names."""
    if response.status < 500:
        return None
    retry_after = response.headers.get("Retry-After")
    headers = {"Retry-After": retry_after} if retry_after else None
    detail = f"The backend answered HTTP {response.status}."
    extensions = {"upstreamStatus": response.status}
    if response.status == 503:
        return UpstreamUnavailable(detail, extensions=extensions, headers=headers)
    if response.status == 504:
        return UpstreamTimeout(detail, extensions=extensions)
    return UpstreamFailed(detail, extensions=extensions, headers=headers)


@runtime_checkable
class HttpForwarder(Protocol):
    """A connector the gateway can proxy a route to, passing the HTTP exchange through."""

    async def forward(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        headers: Headers = (),
        body: bytes | None = None,
    ) -> UpstreamResponse: ...


class ConnectorType(Protocol):
    """A connector plugin: what the ``isthmus.connectors`` entry point names."""

    name: ClassVar[str]
    summary: ClassVar[str]
    config_model: ClassVar[type[ConnectorConfig]]

    def open(self, config: Any, context: ConnectorContext) -> Connector:
        """A connector for one Connection; the caller enters it with ``async with``."""
        ...


OperationHandler = Callable[[Mapping[str, Any]], Awaitable[Any]]
