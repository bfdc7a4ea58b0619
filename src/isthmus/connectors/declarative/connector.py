"""A declarative spec at work: streams read page by page, operations, a health check.

A stream's read does at the API what the spec says the API can do (filters it lists,
records after a cursor) and the rest in the hub, so every read answers the whole
:class:`StreamQuery`. Pages are fetched one after the other and records handed on as
each page arrives; a read with a ``limit`` stops fetching once it has enough.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import date
from typing import Any, ClassVar
from urllib.parse import quote

import orjson
from yarl import URL

from isthmus.connectors.addresses import check_literal_host
from isthmus.connectors.base import (
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Filter,
    Health,
    OperationSpec,
    Pushdown,
    Record,
    StreamQuery,
    StreamSpec,
    UnknownOperation,
    UpstreamResponse,
    tally,
)
from isthmus.connectors.declarative.auth import credentials_for
from isthmus.connectors.declarative.calls import Caller, RequestBudget
from isthmus.connectors.declarative.config import DeclarativeConfig, resolve_values
from isthmus.connectors.declarative.paginators import Page, PageRequest, PaginationFailed
from isthmus.connectors.declarative.spec import (
    PATH_INPUT,
    DeclarativeSpec,
    FilterParam,
    Stream,
    render,
)
from isthmus.connectors.http import Limits, OriginPools
from isthmus.connectors.query import apply_query
from isthmus.errors import BadRequest, ConfigurationError, IsthmusError, NotFound, UpstreamFailed
from isthmus.mapping import Mapping as Jsonata
from isthmus.mapping import MappingError

_JSON = [(b"accept", b"application/json")]
_TEMPLATE = re.compile(r"\{value\}|\{op\}")


class DeclarativeConnector(Connector):
    def __init__(
        self, spec: DeclarativeSpec, config: DeclarativeConfig, context: ConnectorContext
    ) -> None:
        super().__init__(context)
        self.spec = spec
        self.config = config
        self._pools: OriginPools | None = None
        self._mappings: dict[str, Jsonata] = {}
        self.caller: Caller | None = None
        self.base = URL()
        self._headers: list[tuple[bytes, bytes]] = []
        self._values: dict[str, str] = {}

    # -- lifecycle --------------------------------------------------------------------

    async def __aenter__(self) -> DeclarativeConnector:
        spec, config = self.spec, self.config
        values = self._values = await resolve_values(spec, config.values, self.context.secrets)
        base = config.base_url or spec.base_urls.get(self.context.environment) or spec.base_url
        self.base = URL(render(base, values).rstrip("/"))
        if self.base.scheme not in ("http", "https") or not self.base.host:
            raise ConfigurationError("The connector's base URL is not an absolute http(s) URL.")
        check_literal_host(self.base, allow_private=config.allow_private_network)
        self._headers = [
            (name.lower().encode(), render(value, values).encode("latin-1"))
            for name, value in spec.headers.items()
        ]
        budget = RequestBudget(spec.budget) if spec.budget else None
        # the pools, not this connector, go to the caller: no reference cycle, so the
        # compiled expressions die with the connector, on the loop's thread
        self._pools = pools = OriginPools(
            allow_private=config.allow_private_network,
            limits=Limits(
                connect_timeout=config.connect_timeout_seconds,
                read_timeout=config.read_timeout_seconds,
                total_timeout=config.timeout_seconds,
                max_connections=config.max_connections,
                max_response_bytes=config.max_response_bytes,
            ),
        )
        try:
            auth = spec.auth_for(values)
        except ValueError as exc:
            raise ConfigurationError(
                f"The Connection's values do not fit the spec: {exc}."
            ) from None
        credentials = credentials_for(
            auth, values, self.base, pools, self.context.secrets, config.values
        )
        self.caller = Caller(pools, credentials, spec.errors, spec.retries, budget)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._pools is not None:
            await self._pools.close()

    def _mapping(self, expression: str) -> Jsonata:
        if expression not in self._mappings:
            self._mappings[expression] = Jsonata(expression)
        return self._mappings[expression]

    def _url(self, path: str) -> URL:
        """``path`` (with its ``{config.…}`` values) under the base URL."""
        return URL(str(self.base) + render(path, self._values, in_path=True), encoded=True)

    # -- streams ------------------------------------------------------------------------

    def streams(self) -> Mapping[str, StreamSpec]:
        return {
            name: StreamSpec(
                name,
                tuple(stream.primary_key),
                stream.json_schema,
                Pushdown(
                    filter_ops=frozenset(op for f in stream.filters.values() for op in f.ops),
                    filter_fields=frozenset(stream.filters),
                    projection=stream.select_param is not None and not stream.mapping,
                    limit=True,  # reading stops at the page that reaches the limit
                    cursor_field=_incremental(stream),
                ),
                required_filters=tuple(n for n, f in stream.filters.items() if f.required),
                max_pages=self.spec.max_pages,
                page_size=getattr(stream.pagination or self.spec.pagination, "page_size", None),
                request_budget=self.spec.budget.requests if self.spec.budget else None,
            )
            for name, stream in self.spec.streams.items()
        }

    async def read(self, stream: str, query: StreamQuery) -> AsyncIterator[Record]:
        declared = self.spec.streams.get(stream)
        if declared is None:
            raise NotFound(f"The connector offers no stream '{stream}'.")
        params, rest = self._pushed(declared, query)
        if rest.sort:  # an order over every record: gather them all first
            everything = [record async for record in self._records(declared, params)]
            for record in apply_query(everything, rest, declared.cursor_field):
                yield record
            return
        if rest.limit == 0:
            return
        # with nothing left for the hub, records go on as read (the common, fast case)
        checked = bool(rest.filters or rest.fields or rest.cursor is not None)
        unlimited = replace(rest, limit=None)
        given = 0
        async for record in self._records(declared, params):
            kept = apply_query([record], unlimited, declared.cursor_field) if checked else (record,)
            for row in kept:
                yield row
                given += 1
                if rest.limit is not None and given >= rest.limit:
                    return  # before asking for another page

    def _pushed(self, stream: Stream, query: StreamQuery) -> tuple[dict[str, str], StreamQuery]:
        """The query parameters that do part of ``query`` at the API, and the query the
        hub still applies."""
        params = {name: render(value, self._values) for name, value in stream.params.items()}
        filters = list(query.filters)
        if query.cursor is not None and stream.cursor_field:
            if stream.cursor_param:
                params[stream.cursor_param] = str(query.cursor)
            else:
                filters.append(Filter(stream.cursor_field, "gt", query.cursor))
        for item in filters:
            declared = stream.filters.get(item.field)
            if declared is None or item.op not in declared.ops:
                continue
            if declared.param in params:
                if declared.join is None:
                    continue  # one filter per parameter: the hub applies the others
                params[declared.param] += declared.join + _filter_text(declared, item)
            else:
                params[declared.param] = _filter_text(declared, item)
        if query.fields and stream.select_param and not stream.mapping:
            # the hub still needs what it filters, sorts and pages on; it projects last
            # (with a mapping, the API's names are not the hub's: nothing is pushed)
            needed = dict.fromkeys(query.fields)
            needed.update(dict.fromkeys(f.field for f in filters))
            needed.update(dict.fromkeys(field for field, _ in query.sort))
            if stream.cursor_field and query.cursor is not None:
                needed[stream.cursor_field] = None
            params[stream.select_param] = ",".join(needed)
        # The hub checks every filter again, the pushed ones too: cheap, and right even
        # where the API is lenient (case-insensitive matches, inclusive cursors).
        return params, query

    async def _records(self, stream: Stream, params: dict[str, str]) -> AsyncIterator[Record]:
        assert self.caller is not None
        paginator = stream.pagination or self.spec.pagination
        select = self._mapping(stream.records)
        shape = self._mapping(stream.mapping) if stream.mapping else None
        request = paginator.first()
        url = self._url(stream.path).update_query({**params, **request.params})
        seen: set[str] = set()
        previous: list[Any] | None = None
        while True:
            if str(url) in seen:
                raise PaginationFailed(
                    f"The API's paging went in a circle (page {len(seen) + 1} asked for one "
                    "already read); stopped rather than loop."
                )
            if len(seen) >= self.spec.max_pages:
                raise PaginationFailed(
                    f"The read passed {self.spec.max_pages:,} pages (the spec's maxPages)."
                )
            first = not seen
            seen.add(str(url))
            headers = [*_JSON, *self._headers]
            answer = await self.caller.send("GET", url, headers, may_be_empty=first)
            if answer.action == "empty":
                return
            body = _body(answer.response)
            records = _as_list(_evaluate(select, body, "records"))
            tally(records=len(records), requests=1)
            if records and records == previous:  # an API that ignores its paging parameter
                raise PaginationFailed(
                    "The API answered the same page again for the next one; stopped rather "
                    "than loop."
                )
            previous = records
            for record in records:
                mapped = _evaluate(shape, record, "record mapping") if shape else record
                if isinstance(mapped, dict):
                    yield mapped
            following = paginator.next(Page(answer.response.headers, body, records), request)
            if following is None:
                return
            url = self._follow(url, params, following)
            request = following

    def _follow(self, current: URL, params: dict[str, str], following: PageRequest) -> URL:
        if following.url is None:
            return current.with_query({**params, **following.params})
        try:
            target = current.join(URL(following.url))
            foreign = (
                target.scheme not in ("http", "https") or target.origin() != self.base.origin()
            )
        except ValueError:
            raise PaginationFailed("The API's next page is not a URL the hub can follow.") from None
        if foreign:
            raise PaginationFailed("The API's next page is on another host; not followed.")
        return target

    # -- operations ---------------------------------------------------------------------

    def operations(self) -> Mapping[str, OperationSpec]:
        return {
            name: OperationSpec(
                name,
                op.description,
                op.input_schema,
                idempotent=op.method in ("GET", "PUT", "DELETE") or bool(op.idempotency_header),
            )
            for name, op in self.spec.operations.items()
        }

    async def call(self, operation: str, payload: Mapping[str, Any]) -> Any:
        assert self.caller is not None
        op = self.spec.operations.get(operation)
        if op is None:
            raise UnknownOperation(f"The connector offers no operation '{operation}'.")
        inputs = _inputs(payload)
        absent = {n for n in op.optional if inputs.get(n) in (None, "")}
        needed = [*PATH_INPUT.findall(op.path), *PATH_INPUT.findall(" ".join(op.params.values()))]
        missing = sorted({n for n in needed if inputs.get(n) in (None, "") and n not in absent})
        if missing:
            raise BadRequest(f"The operation needs {missing}.")
        path = PATH_INPUT.sub(lambda m: _segment(inputs[m.group(1)], m.group(1)), op.path)
        url = self._url(path)
        if op.params:
            url = url.update_query(
                {
                    name: PATH_INPUT.sub(
                        lambda m: str(inputs[m.group(1)]), render(value, self._values)
                    )
                    for name, value in op.params.items()
                    if not absent.intersection(PATH_INPUT.findall(value))
                }
            )
        headers = [*_JSON, *self._headers]
        body = None
        if op.method in ("POST", "PUT", "PATCH"):
            data = (
                _evaluate(self._mapping(op.body), inputs, "body")
                if op.body
                else payload.get("body", payload)
            )
            body = orjson.dumps(data)
            headers.append((b"content-type", b"application/json"))
        key = inputs.get("idempotencyKey")
        if op.idempotency_header and key:
            try:
                headers.append((op.idempotency_header.lower().encode(), str(key).encode("ascii")))
            except UnicodeEncodeError:
                raise BadRequest("An idempotency key is ASCII text.") from None
        answer = await self.caller.send(
            op.method, url, headers, body, keyed=bool(op.idempotency_header and key)
        )
        result = _body(answer.response) if answer.response.body else None
        return _evaluate(self._mapping(op.result), result, "result") if op.result else result

    async def check(self) -> Health:
        try:
            for name in self.spec.streams:
                async for _ in self.read(name, StreamQuery(limit=1)):
                    break
                return Health(ok=True, detail=f"stream '{name}' answers")
            await self.caller.send("GET", self.base, [*_JSON, *self._headers])  # type: ignore[union-attr]
        except IsthmusError as exc:
            return Health(ok=False, detail=f"{exc.detail} {exc.remediation}")
        return Health(ok=True, detail="reachable")


def _inputs(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An operation's inputs: what the caller named, the fields of a JSON body and the
    query parameters too, as a gateway route hands them over ({…, query, body})."""
    inputs: dict[str, Any] = {}
    query, body = payload.get("query"), payload.get("body")
    if isinstance(query, Mapping):
        inputs.update(query)
    if isinstance(body, Mapping):
        inputs.update(body)
    inputs.update(payload)
    return inputs


def _segment(value: Any, name: str) -> str:
    """One path segment from an input: encoded, and never one that climbs."""
    text = str(value)
    if text in ("", ".", ".."):
        raise BadRequest(f"'{name}' cannot be '{text}': it would change the path.")
    return quote(text, safe="")


def _incremental(stream: Stream) -> str | None:
    """The cursor field, if the API itself can answer 'records after this cursor'."""
    field = stream.cursor_field
    if field and (stream.cursor_param or "gt" in getattr(stream.filters.get(field), "ops", [])):
        return field
    return None


def _value_text(declared: FilterParam, value: Any) -> str:
    if isinstance(value, date):  # datetimes too: ISO 8601, as APIs take them
        return value.isoformat()
    if isinstance(value, bool) or not isinstance(value, str):
        text = orjson.dumps(value).decode()
    elif declared.quote == "odata":
        text = value.replace("'", "''")
    else:
        text = value
    if declared.quote == "servicenow":
        text = text.replace("^", "^^")  # '^' joins conditions; doubled it is a character
    return text


def _filter_text(declared: FilterParam, item: Filter) -> str:
    if item.op == "in" and isinstance(item.value, list | tuple):
        text = declared.separator.join(_value_text(declared, v) for v in item.value)
    else:
        text = _value_text(declared, item.value)
    operator = declared.operators.get(item.op, item.op)
    # one pass: a value holding '{op}' stays as it is
    return _TEMPLATE.sub(lambda m: text if m.group(0) == "{value}" else operator, declared.template)


def _body(response: UpstreamResponse) -> Any:
    try:
        return orjson.loads(response.body) if response.body else None
    except orjson.JSONDecodeError:
        raise UpstreamFailed("The API's answer is not JSON.") from None


def _evaluate(expression: Jsonata, data: Any, what: str) -> Any:
    try:
        return expression(data)
    except MappingError:
        raise UpstreamFailed(
            f"The connector spec's {what} expression failed on the API's answer."
        ) from None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class DeclarativeConnectorType:
    """The generic type: a Connection gives the spec in its config."""

    name: ClassVar[str] = "declarative"
    supports_proxy: ClassVar[bool] = False
    summary: ClassVar[str] = "A REST API described by a declarative spec (YAML)."
    config_model: ClassVar[type[ConnectorConfig]] = DeclarativeConfig

    def open(self, config: Any, context: ConnectorContext) -> Connector:
        assert isinstance(config, DeclarativeConfig)
        if config.spec is None:
            raise ConfigurationError(
                "A 'declarative' Connection needs its API's spec.",
                remediation="Add 'spec:' to the Connection's config (inline or a file).",
            )
        return DeclarativeConnector(config.spec, config, context)
