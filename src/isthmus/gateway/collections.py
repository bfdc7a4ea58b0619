"""Collection conventions applied by the gateway: limit + cursor paging, sort, filters.

The query is checked before any backend call (every problem at once, each with a JSON
pointer, like request validation). The target's answer is then filtered, sorted and cut
into a page here, and answered as ``{"value": [...], "nextLink": "<absolute URL>"}``.

The cursor is keyset-based: it holds the sort values of the last record served and a
fingerprint of the sort and filters it was made for, base64url-encoded. Records added or
removed between pages do not shift the next page, and a cursor sent with another sort or
filter is refused rather than silently skipping records.

Every part of the query has a bound, refused when passed, and so does what the gateway
writes: a cursor longer than ``MAX_CURSOR_LENGTH`` (sort values too long to carry) or a
``nextLink`` longer than ``MAX_LINK_LENGTH`` is not made; the request is refused instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from isthmus.errors import FatalError
from isthmus.gateway.filtering import FilterInvalid, Predicate, compile_filter, field_value, moment
from isthmus.gateway.validation import RequestInvalid
from isthmus.mapping import Mapping, MappingError
from isthmus.model.collection import RESERVED, Collection

MAX_QUERY_LENGTH = 4096  # bytes of a collection route's whole query string
MAX_SORT_LENGTH = 1000  # characters of 'sort'
MAX_VALUE_LENGTH = 2000  # characters of one field's value to equal
MAX_MOMENT_LENGTH = 64  # characters of a date-time value
MAX_CURSOR_LENGTH = 2048  # characters of a cursor, given or made
MAX_LINK_LENGTH = 8192  # characters of a nextLink (a URL length servers and tools accept)
# Query values are text: an integer field's is digits, compared as a 64-bit integer.
INTEGER_PATTERN = "^-?[0-9]{1,19}$"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INTEGER = re.compile(INTEGER_PATTERN)
_CURSOR = re.compile("^[A-Za-z0-9_-]+$")
_DIGITS = re.compile(r"[0-9]{1,9}")


class CannotPage(FatalError):
    status = 422
    code = "collection-cannot-page"
    title = "The next page cannot be linked"
    remediation = (
        "Ask with a shorter query (fewer or shorter filters), or sort by shorter fields: "
        "the link to the next page would be longer than the gateway writes."
    )


class RecordsNotFound(FatalError):
    status = 502
    code = "upstream-contract-violation"
    title = "The backend's answer does not match the Api's contract"
    remediation = (
        "Tell the owner of the Api: the route's 'collection.records' does not select a "
        "list of records in the backend's answer."
    )


@dataclass(frozen=True)
class CompiledCollection:
    spec: Collection
    records: Mapping | None

    @classmethod
    def of(cls, spec: Collection) -> CompiledCollection:
        return cls(spec, Mapping(spec.records) if spec.records else None)

    def own(self, name: str) -> bool:
        """Whether a query parameter is the collection's (not passed to the backend)."""
        return name in RESERVED or name in self.spec.fields


@dataclass(frozen=True)
class CollectionQuery:
    limit: int
    sort: tuple[tuple[str, bool], ...]  # (field, descending), ending with the key
    equals: tuple[tuple[str, Any], ...]
    predicate: Predicate | None
    after: tuple[Any, ...] | None  # the sort values of the last record already served
    fingerprint: str
    params: tuple[tuple[str, str], ...]  # the caller's, minus the cursor: for nextLink


def _problem(errors: list[dict[str, str]]) -> RequestInvalid:
    return RequestInvalid(
        f"The request has {len(errors)} problem(s); nothing was sent to the backend.",
        extensions={"errors": errors},
    )


def _typed(text: str, kind: str) -> Any:
    if kind == "integer":
        if not _INTEGER.match(text) or not INT64_MIN <= int(text) <= INT64_MAX:
            raise ValueError(text)
        return int(text)
    if kind == "number":
        return float(text)
    if kind == "boolean":
        if text not in ("true", "false"):
            raise ValueError(text)
        return text == "true"
    if kind == "date-time":
        return moment(text)
    return text


def parse_query(collection: CompiledCollection, query_string: bytes) -> CollectionQuery:
    spec = collection.spec
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    given = dict(pairs)
    errors: list[dict[str, str]] = []

    def error(name: str, message: str) -> None:
        errors.append({"pointer": f"/query/{name}", "message": message})

    if len(query_string) > MAX_QUERY_LENGTH:
        raise _problem(
            [{"pointer": "/query", "message": f"is longer than {MAX_QUERY_LENGTH} bytes"}]
        )
    limit = spec.default_limit
    if "limit" in given:
        text = given["limit"]
        # ASCII digits only: str.isdigit() also takes '²', which int() refuses
        if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= spec.max_limit:
            error("limit", f"must be a whole number from 1 to {spec.max_limit}")
        else:
            limit = int(text)

    sort: list[tuple[str, bool]] = []
    entries = given["sort"].split(",") if given.get("sort") else spec.default_sort
    if len(given.get("sort", "")) > MAX_SORT_LENGTH:
        error("sort", f"is longer than {MAX_SORT_LENGTH} characters")
        entries = []
    for entry in entries:
        name = entry.strip().removeprefix("-")
        declared = spec.fields.get(name)
        if declared is None or not declared.sortable:
            allowed = sorted(n for n, f in spec.fields.items() if f.sortable)
            error(
                "sort", f"names '{name}'; sortable fields: {allowed} ('-' before one: descending)"
            )
        elif name not in (s[0] for s in sort):
            sort.append((name, entry.strip().startswith("-")))
    if spec.key not in (s[0] for s in sort):
        sort.append((spec.key, False))  # the tie-breaker that makes cursors exact

    equals: list[tuple[str, Any]] = []
    for name, text in pairs:
        declared = spec.fields.get(name)
        if declared is None:
            continue
        if not declared.filterable:
            error(name, "cannot be filtered on")
            continue
        longest = MAX_MOMENT_LENGTH if declared.type == "date-time" else MAX_VALUE_LENGTH
        if len(text) > longest:
            error(name, f"is longer than {longest} characters")
            continue
        try:
            equals.append((name, _typed(text, declared.type)))
        except ValueError:
            error(name, _EXPECTED.get(declared.type, f"must be of type {declared.type}"))

    predicate = None
    if given.get("filter"):
        try:
            predicate = compile_filter(given["filter"], spec)
        except FilterInvalid as exc:
            error("filter", str(exc))

    fingerprint = hashlib.sha256(
        orjson.dumps([sort, [(n, str(v)) for n, v in equals], given.get("filter", "")])
    ).hexdigest()[:16]
    after = None
    if len(given.get("cursor", "")) > MAX_CURSOR_LENGTH:
        error("cursor", "is longer than any cursor this Api gives out; use the whole 'nextLink'")
    elif given.get("cursor"):
        after = _read_cursor(given["cursor"], fingerprint, len(sort), error)
    if errors:
        raise _problem(errors)
    params = tuple((n, v) for n, v in pairs if n != "cursor")
    return CollectionQuery(limit, tuple(sort), tuple(equals), predicate, after, fingerprint, params)


def _read_cursor(text: str, fingerprint: str, keys: int, error: Any) -> tuple[Any, ...] | None:
    if not _CURSOR.match(text):  # base64url without padding, as write_cursor makes them
        error("cursor", "is not a cursor this Api gave out; use the whole 'nextLink'")
        return None
    try:
        data = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        error("cursor", "is not a cursor this Api gave out; use the whole 'nextLink'")
        return None
    if not isinstance(data, dict) or not isinstance(data.get("after"), list):
        error("cursor", "is not a cursor this Api gave out; use the whole 'nextLink'")
        return None
    if data.get("q") != fingerprint or len(data["after"]) != keys:
        error("cursor", "belongs to another sort or filter; keep them as in the 'nextLink'")
        return None
    return tuple(data["after"])


_EXPECTED = {"integer": f"must be a whole number (digits) from {INT64_MIN} to {INT64_MAX}"}


def write_cursor(after: list[Any], fingerprint: str) -> str:
    """The cursor after a record with these sort values; :class:`CannotPage` when they
    are too long to carry in one."""
    raw = orjson.dumps({"q": fingerprint, "after": after}, default=_plain)
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise CannotPage(
            "The values of the sort fields are too long to carry in a cursor "
            f"(at most {MAX_CURSOR_LENGTH} characters)."
        )
    return cursor


def next_link(base: str, params: tuple[tuple[str, str], ...], cursor: str) -> str:
    """The URL of the next page: the request's query with the new cursor;
    :class:`CannotPage` when it would be longer than ``MAX_LINK_LENGTH``."""
    link = f"{base}?{urlencode([*params, ('cursor', cursor)])}"
    if len(link) > MAX_LINK_LENGTH:
        raise CannotPage(
            f"The link to the next page would be longer than {MAX_LINK_LENGTH} characters."
        )
    return link


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError


def select_records(collection: CompiledCollection, answer: Any) -> list[dict[str, Any]]:
    if collection.records is not None:
        try:
            answer = collection.records(answer)
        except MappingError as exc:
            raise RecordsNotFound("The records could not be selected from the answer.") from exc
    elif isinstance(answer, dict):
        if "value" not in answer:
            raise RecordsNotFound("The backend's answer holds no 'value' list of records.")
        answer = answer["value"]
    if answer is None:
        return []
    if isinstance(answer, dict):
        answer = [answer]  # JSONata gives a single match as itself
    if not isinstance(answer, list) or not all(isinstance(r, dict) for r in answer):
        raise RecordsNotFound("The backend's answer holds no list of records.")
    return answer


_NATIVE: dict[str, type | tuple[type, ...]] = {
    "integer": (int, float),
    "number": (int, float),
    "boolean": bool,
    "string": str,
    "date-time": str,  # ISO 8601 text sorts as time when written alike
}


def _sort_value(record: dict[str, Any], name: str, kind: str) -> tuple[int, Any]:
    """Comparable whatever the records hold: values of the field's type first, then any
    others as text, then missing ones."""
    value = record.get(name)
    if value is None:
        return (2, "")
    native = isinstance(value, _NATIVE[kind]) and (kind == "boolean" or not isinstance(value, bool))
    return (0, value) if native else (1, str(value))


def page(
    collection: CompiledCollection,
    query: CollectionQuery,
    records: list[dict[str, Any]],
    link_base: str,
) -> dict[str, Any]:
    """The page of ``records`` the query asks for, as the answer's body."""
    fields = collection.spec.fields
    selected = [
        r
        for r in records
        if all(field_value(r, n, fields[n].type) == v for n, v in query.equals)
        and (query.predicate is None or query.predicate(r))
    ]
    # Sort by each key in turn, last first (a stable sort keeps earlier keys' order).
    for name, descending in reversed(query.sort):
        selected.sort(
            key=partial(_sort_value, name=name, kind=fields[name].type), reverse=descending
        )
    if query.after is not None:
        selected = [r for r in selected if _beyond(r, query, fields)]
    value = selected[: query.limit]
    body: dict[str, Any] = {"value": value}
    if len(selected) > query.limit:
        last = value[-1]
        cursor = write_cursor([last.get(n) for n, _ in query.sort], query.fingerprint)
        body["nextLink"] = next_link(link_base, query.params, cursor)
    return body


def _beyond(record: dict[str, Any], query: CollectionQuery, fields: Any) -> bool:
    """Whether ``record`` sorts after the cursor's position."""
    assert query.after is not None
    for (name, descending), last in zip(query.sort, query.after, strict=True):
        kind = fields[name].type
        mine, theirs = _sort_value(record, name, kind), _sort_value({name: last}, name, kind)
        if mine != theirs:
            return (mine < theirs) if descending else (mine > theirs)
    return False  # the cursor's own record
