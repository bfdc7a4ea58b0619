"""OData v4 over the Views a version publishes, at ``/{api}/{version}/odata/``.

The service document, CSDL ``$metadata``, entity sets with ``$filter``, ``$select``,
``$orderby``, ``$top``, ``$skip`` and ``$count``, single entities by key, and
server-driven paging (``@odata.nextLink`` with a keyset ``$skiptoken``, page size from
``Prefer: odata.maxpagesize``). Enough for Excel and Power BI (``OData.Feed``), Mendix
external entities and Dataverse virtual tables. Power BI's Web API key option sends the
key as the ``api_key`` query parameter (``OData.Feed(url, null, [ApiKeyName="api_key"])``).

Every query option becomes SQL over the View, so the sources filter, sort and page.
Errors are problem documents that also carry OData's ``error`` member.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import orjson
from sqlglot import exp

from isthmus.errors import BadRequest, NotFound
from isthmus.gateway.filtering import FilterInvalid
from isthmus.gateway.http import GatewayRequest, GatewayResponse
from isthmus.gateway.snapshot import Caller, Snapshot
from isthmus.virtual.faces.common import dumps
from isthmus.virtual.faces.keyset import after, column, literal, order_by, read_token, token
from isthmus.virtual.faces.odata_metadata import metadata
from isthmus.virtual.filters import filter_sql
from isthmus.virtual.names import DIALECT
from isthmus.virtual.service import Access, VirtualData
from isthmus.virtual.shapes import ViewShape

SEGMENT = "odata"
KEY_PARAMETER = "api_key"  # Power BI's ApiKeyName
MAX_PAGE = 1000
_JSON = b"application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false"
_OPTIONS = frozenset(
    {"$filter", "$select", "$orderby", "$top", "$skip", "$count", "$skiptoken", "$format"}
)
_ENTITY = re.compile(
    r"^/(?P<set>[A-Za-z_][A-Za-z0-9_]*)(?:\((?P<key>[^)]*)\))?(?P<count>/\$count)?$"
)
_PAGE_SIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)")


class ODataUnsupported(BadRequest):
    code = "odata-unsupported"
    title = "The OData request uses something this service does not offer"
    remediation = (
        "Use $filter, $select, $orderby, $top, $skip and $count; $expand and $apply are "
        "not offered (see the Capabilities annotations in $metadata)."
    )


def split(path: str) -> tuple[str, str, str] | None:
    """``(api, version, rest)`` for ``/{api}/{version}/odata{rest}``, else None."""
    parts = path.split("/", 4)
    if len(parts) < 4 or parts[3] != SEGMENT:
        return None
    return parts[1], parts[2], "/" + (parts[4] if len(parts) > 4 else "")


def with_odata_error(response: GatewayResponse) -> GatewayResponse:
    """A problem document with OData's own ``error`` member added, for OData clients."""
    problem = orjson.loads(response.body)
    problem["error"] = {"code": problem.get("code"), "message": problem.get("detail")}
    response.body = orjson.dumps(problem)
    response.headers = [*response.headers, (b"odata-version", b"4.0")]
    return response


async def answer(
    request: GatewayRequest,
    snapshot: Snapshot,
    caller: Caller,
    virtual: VirtualData,
    api: str,
    version: str,
    rest: str,
    root: str,
) -> GatewayResponse:
    """``root``: the absolute URL of the service (``…/{api}/{version}/odata/``)."""
    shapes = _shapes(snapshot, api)
    if rest in ("/", ""):
        return _json(
            {
                "@odata.context": f"{root}$metadata",
                "value": [
                    {"name": s.name, "kind": "EntitySet", "url": s.name} for s in shapes.values()
                ],
            }
        )
    if rest == "/$metadata":
        body = metadata(api, version, list(shapes.values()))
        return GatewayResponse(
            200, body, [(b"content-type", b"application/xml"), (b"odata-version", b"4.0")]
        )
    found = _ENTITY.match(rest)
    if found is None or found["set"] not in shapes:
        raise NotFound(
            f"The service has no entity set '{rest.strip('/')}'.",
            remediation="See the service document for its entity sets.",
        )
    shape = shapes[found["set"]]
    options = _options(request.query_string)
    reader = _Reader(snapshot, caller, virtual, shape)
    if found["key"] is not None:
        if found["count"]:
            raise ODataUnsupported("$count of a single entity is not offered.")
        entity = await reader.one(_key(found["key"], shape), options)
        context = f"{root}$metadata#{shape.name}/$entity"
        return _json({"@odata.context": context, **entity})
    if found["count"]:
        total = await reader.count(options)
        return GatewayResponse(
            200, str(total).encode(), [(b"content-type", b"text/plain"), (b"odata-version", b"4.0")]
        )
    return await reader.page(options, request, f"{root}{shape.name}", root)


def _shapes(snapshot: Snapshot, api: str) -> dict[str, ViewShape]:
    views = sorted(snapshot.published_views.get(api, ()))
    missing = [v for v in views if v not in snapshot.view_shapes]
    if missing and missing[0] in snapshot.view_problems:
        raise snapshot.view_problems[missing[0]]
    return {v: snapshot.view_shapes[v] for v in views if v in snapshot.view_shapes}


def _options(query_string: bytes) -> dict[str, str]:
    options: dict[str, str] = {}
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name == KEY_PARAMETER or not name.startswith("$"):
            continue  # the key is the gateway's; custom options are ignored, as OData says
        if name not in _OPTIONS:
            raise ODataUnsupported(f"The option {name} is not offered.")
        if name in options:
            raise BadRequest(f"The option {name} is given twice.")
        options[name] = value
    return options


class _Reader:
    def __init__(
        self, snapshot: Snapshot, caller: Caller, virtual: VirtualData, shape: ViewShape
    ) -> None:
        self.snapshot, self.caller, self.virtual, self.shape = snapshot, caller, virtual, shape

    async def _rows(self, statement: exp.Select) -> list[dict[str, Any]]:
        assert self.snapshot.catalog is not None
        result = await self.virtual.query(
            statement.sql(dialect=DIALECT),
            self.snapshot.catalog,
            self.caller.environment,
            Access(frozenset({self.shape.name})),
            self.caller.app,
        )
        return result.rows

    def _filtered(self, options: Mapping[str, str]) -> exp.Select:
        select = exp.select("*").from_(exp.to_table(self.shape.name))
        if options.get("$filter"):
            try:
                select = select.where(filter_sql(options["$filter"], self.shape.types))
            except FilterInvalid as exc:
                raise BadRequest(f"$filter {exc}.") from None
        return select

    async def count(self, options: Mapping[str, str]) -> int:
        counted = self._filtered(options).select(
            exp.alias_(exp.Count(this=exp.Star()), "n"), append=False
        )
        rows = await self._rows(counted)
        return int(rows[0]["n"])

    async def one(self, key: dict[str, Any], options: Mapping[str, str]) -> dict[str, Any]:
        select = exp.select(*self._selected(options)).from_(exp.to_table(self.shape.name))
        for name, value in key.items():
            select = select.where(exp.EQ(this=column(name), expression=literal(value)))
        rows = await self._rows(select.limit(2))
        if not rows:
            raise NotFound(f"No {self.shape.name} has that key.")
        return _entity(rows[0], self.shape)

    async def page(
        self, options: Mapping[str, str], request: GatewayRequest, here: str, root: str
    ) -> GatewayResponse:
        sort = self._sort(options.get("$orderby", ""))
        fingerprint = _fingerprint(options)
        top = _whole(options, "$top")
        size = min(_page_size(request), MAX_PAGE)
        wanted = size if top is None else min(size, top)
        select = self._filtered(options)
        select = select.select(*self._selected(options, sort), append=False)
        if options.get("$skiptoken"):
            select = select.where(
                after(sort, _read_token(options["$skiptoken"], fingerprint, sort))
            )
        elif skip := _whole(options, "$skip"):
            select = select.offset(skip)
        rows = await self._rows(order_by(select, sort).limit(wanted + 1))
        served = rows[:wanted]
        body: dict[str, Any] = {"@odata.context": f"{root}$metadata#{self.shape.name}"}
        if options.get("$count") == "true":
            body["@odata.count"] = await self.count(options)
        elif options.get("$count") not in (None, "false"):
            raise BadRequest("$count is true or false.")
        chosen = self._chosen(options)
        body["value"] = [_entity({k: r[k] for k in chosen}, self.shape) for r in served]
        left = None if top is None else top - len(served)
        if len(rows) > wanted and (left is None or left > 0):
            last = served[-1]
            skiptoken = token([last.get(n) for n, _ in sort], fingerprint)
            kept = {k: v for k, v in options.items() if k not in ("$skip", "$skiptoken", "$top")}
            if left is not None:
                kept["$top"] = str(left)
            query = urlencode({**kept, "$skiptoken": skiptoken}, quote_via=quote, safe="$,'()")
            body["@odata.nextLink"] = f"{here}?{query}"
        return _json(body)

    def _chosen(self, options: Mapping[str, str]) -> list[str]:
        if not options.get("$select") or options["$select"].strip() == "*":
            return [c.name for c in self.shape.columns]
        chosen = [n.strip() for n in options["$select"].split(",")]
        unknown = [n for n in chosen if n not in self.shape.types]
        if unknown:
            raise BadRequest(f"$select names {unknown}; properties: {list(self.shape.types)}.")
        return list(dict.fromkeys(chosen))

    def _selected(
        self, options: Mapping[str, str], sort: Sequence[tuple[str, bool]] = ()
    ) -> list[exp.Expr]:
        """The columns to read: those selected, and those the paging sorts on."""
        names = dict.fromkeys([*self._chosen(options), *(n for n, _ in sort)])
        return [column(n) for n in names]

    def _sort(self, text: str) -> tuple[tuple[str, bool], ...]:
        sort: list[tuple[str, bool]] = []
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, direction = item.partition(" ")
            direction = direction.strip().lower()
            if name not in self.shape.types or direction not in ("", "asc", "desc"):
                raise BadRequest(
                    f"$orderby '{item}' is not 'property [asc|desc]'; properties: "
                    f"{list(self.shape.types)}."
                )
            if name not in (n for n, _ in sort):
                sort.append((name, direction == "desc"))
        for name in self.shape.key:  # ties broken by the key: a page boundary is exact
            if name not in (n for n, _ in sort):
                sort.append((name, False))
        return tuple(sort)


def _entity(row: Mapping[str, Any], shape: ViewShape) -> dict[str, Any]:
    """Values as OData JSON writes them: times with their offset (UTC)."""
    out: dict[str, Any] = {}
    types = shape.types
    for name, value in row.items():
        if isinstance(value, datetime) and types.get(name) == "date-time":
            value = value.isoformat() + ("Z" if value.tzinfo is None else "")
        elif isinstance(value, date) and not isinstance(value, datetime):
            value = value.isoformat()
        out[name] = value
    return out


def _key(text: str, shape: ViewShape) -> dict[str, Any]:
    """``42``, ``'abc'`` or ``id=42,kind='x'`` as the key's values."""
    parts = [p.strip() for p in text.split(",")] if text else []
    if len(parts) == 1 and "=" not in parts[0]:
        if len(shape.key) != 1:
            raise BadRequest(f"The key of {shape.name} has parts: {list(shape.key)}.")
        return {shape.key[0]: _key_value(parts[0], shape.types[shape.key[0]])}
    values: dict[str, Any] = {}
    for part in parts:
        name, _, raw = part.partition("=")
        if name.strip() not in shape.key:
            raise BadRequest(f"'{name.strip()}' is not part of the key {list(shape.key)}.")
        values[name.strip()] = _key_value(raw.strip(), shape.types[name.strip()])
    if set(values) != set(shape.key):
        raise BadRequest(f"Give every part of the key: {list(shape.key)}.")
    return values


def _key_value(raw: str, kind: str) -> Any:
    if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
        return raw[1:-1].replace("''", "'")
    try:
        return int(raw) if kind == "integer" else float(raw) if kind == "number" else raw
    except ValueError:
        raise BadRequest(f"'{raw}' is not a {kind} key.") from None


def _whole(options: Mapping[str, str], name: str) -> int | None:
    if name not in options:
        return None
    text = options[name]
    if not text.isascii() or not text.isdigit() or len(text) > 12:  # no '²', no huge skips
        raise BadRequest(f"{name} is a whole number, not '{text}'.")
    return int(text)


def _page_size(request: GatewayRequest) -> int:
    prefer = request.header(b"prefer")
    found = _PAGE_SIZE.search(prefer.decode("latin-1")) if prefer else None
    return max(1, int(found.group(1))) if found else MAX_PAGE


def _fingerprint(options: Mapping[str, str]) -> str:
    kept = [options.get(k, "") for k in ("$filter", "$orderby", "$select")]
    return hashlib.sha256(orjson.dumps(kept)).hexdigest()[:16]


def _read_token(text: str, fingerprint: str, sort: Sequence[Any]) -> tuple[Any, ...]:
    last = read_token(text, fingerprint, len(sort))
    if last is None:
        raise BadRequest(
            "$skiptoken is not one this service gave for this query.",
            remediation="Follow @odata.nextLink as given, without changing its options.",
        )
    return last


def _json(payload: Any) -> GatewayResponse:
    return GatewayResponse(
        200, dumps(payload), [(b"content-type", _JSON), (b"odata-version", b"4.0")]
    )
