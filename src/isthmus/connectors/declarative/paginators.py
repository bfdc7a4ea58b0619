"""Paginators: how an API hands out a long list one page at a time.

Each style is one small class registered by its ``type``; a declarative connector names
one in its spec (``pagination: {type: link-header}``). A paginator is stateless: from a
page (headers, parsed body, the records selected from it) and the request that fetched
it, it says what to ask for next — query parameters to set, or a URL the API gave — or
that the list is done. The reader (:mod:`reader`) refuses a next request it has made
before, so a paginator that stopped advancing fails instead of looping, and refuses a
next URL on another origin, so a page cannot send the hub's credentials elsewhere.

A new style is one class here with a ``type`` literal, added to ``PaginatorSpec``.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from multidict import CIMultiDictProxy
from pydantic import Field

from isthmus.connectors.base import ConnectorConfig
from isthmus.errors import FatalError
from isthmus.mapping import Expression, Mapping, MappingError


class PaginationFailed(FatalError):
    status = 502
    code = "pagination-failed"
    title = "The API's paging went wrong"
    remediation = (
        "The API repeated a page or pointed outside itself; tell the System's owner, or "
        "fix the connector spec's 'pagination' if it reads the wrong field."
    )


@dataclass(frozen=True)
class Page:
    """One answer, as a paginator sees it."""

    headers: CIMultiDictProxy[str]
    body: Any
    records: list[Any]


@dataclass(frozen=True)
class PageRequest:
    """What to ask for: query parameters set on the stream's own request, or a URL the
    API gave (absolute, or relative to the page that named it)."""

    params: dict[str, str] = field(default_factory=dict)
    url: str | None = None


class Paginator(ConnectorConfig):
    """Base of every style."""

    type: str

    def first(self) -> PageRequest:
        return PageRequest()

    @abstractmethod
    def next(self, page: Page, sent: PageRequest) -> PageRequest | None:
        """What to ask for after ``page`` (fetched by ``sent``); None at the end."""


def _read(expression: str, body: Any, what: str) -> Any:
    # Compiled for each page: a few microseconds beside a page's round trip, and a
    # compiled expression must not outlive or leave the thread that made it.
    try:
        return Mapping(expression)(body)
    except MappingError:
        raise PaginationFailed(f"The page's {what} could not be read.") from None


class NoPaging(Paginator):
    """One request returns the whole list."""

    type: Literal["none"]

    def next(self, page: Page, sent: PageRequest) -> PageRequest | None:
        return None


class OffsetPaging(Paginator):
    """``?offset=0&limit=100``, then ``offset=100`` …, until a short page (ServiceNow's
    ``sysparm_offset``/``sysparm_limit``)."""

    type: Literal["offset"]
    offset_param: str = "offset"
    limit_param: str = "limit"
    page_size: int = Field(default=100, ge=1, le=100_000)
    start: int = Field(default=0, ge=0)

    def _at(self, offset: int) -> PageRequest:
        return PageRequest({self.offset_param: str(offset), self.limit_param: str(self.page_size)})

    def first(self) -> PageRequest:
        return self._at(self.start)

    def next(self, page: Page, sent: PageRequest) -> PageRequest | None:
        if len(page.records) < self.page_size:
            return None
        return self._at(int(sent.params[self.offset_param]) + len(page.records))


class PageNumberPaging(Paginator):
    """``?page=1&per_page=100``, then ``page=2`` …, until a short page."""

    type: Literal["page-number"]
    page_param: str = "page"
    size_param: str | None = "per_page"
    page_size: int = Field(default=100, ge=1, le=100_000)
    start: int = Field(default=1, ge=0)

    def _at(self, number: int) -> PageRequest:
        params = {self.page_param: str(number)}
        if self.size_param:
            params[self.size_param] = str(self.page_size)
        return PageRequest(params)

    def first(self) -> PageRequest:
        return self._at(self.start)

    def next(self, page: Page, sent: PageRequest) -> PageRequest | None:
        if len(page.records) < self.page_size:
            return None
        return self._at(int(sent.params[self.page_param]) + 1)


class CursorPaging(Paginator):
    """A cursor in the body (``meta.next_cursor``), sent back as a query parameter;
    null, empty or absent at the end."""

    type: Literal["cursor"]
    cursor: Expression = Field(description="Where the next cursor is in the body.")
    cursor_param: str = "cursor"
    size_param: str | None = None
    page_size: int | None = Field(default=None, ge=1, le=100_000)

    def _size(self) -> dict[str, str]:
        return {self.size_param: str(self.page_size)} if self.size_param and self.page_size else {}

    def first(self) -> PageRequest:
        return PageRequest(self._size())

    def next(self, page: Page, sent: PageRequest) -> PageRequest | None:
        cursor = _read(self.cursor, page.body, "cursor")
        if cursor is None or cursor == "" or cursor is False:
            return None
        return PageRequest({**self._size(), self.cursor_param: str(cursor)})


class NextUrlPaging(Paginator):
    """The next page's URL in the body (``links.next``); null or absent at the end."""

    type: Literal["next-url"]
    url: Expression = Field(description="Where the next page's URL is in the body.")

    def next(self, page: Page, sent: PageRequest) -> PageRequest | None:
        url = _read(self.url, page.body, "next URL")
        return PageRequest(url=str(url)) if url else None


class ODataPaging(NextUrlPaging):
    """OData's ``@odata.nextLink`` (Microsoft Graph, Dynamics, SAP)."""

    type: Literal["odata"]  # type: ignore[assignment]
    url: Expression = "`@odata.nextLink`"


class SalesforcePaging(NextUrlPaging):
    """Salesforce's ``nextRecordsUrl``, present until ``done`` is true."""

    type: Literal["salesforce"]  # type: ignore[assignment]
    url: Expression = "done = false ? nextRecordsUrl"


class LinkHeaderPaging(Paginator):
    """RFC 8288: ``Link: <https://…?page=2>; rel="next"`` (GitHub, ServiceNow)."""

    type: Literal["link-header"]
    rel: str = "next"

    def next(self, page: Page, sent: PageRequest) -> PageRequest | None:
        for value in page.headers.getall("Link", []):
            for target, params in _links(value):
                if self.rel in params.get("rel", "").split():
                    return PageRequest(url=target)
        return None


def _links(value: str) -> list[tuple[str, dict[str, str]]]:
    """The links of one ``Link`` header: ``[(target, {param: value})]``."""
    links = []
    for part in _split_outside_quotes(value, ","):
        target, _, rest = part.strip().partition(">")
        if not target.startswith("<"):
            continue
        params = {}
        for param in _split_outside_quotes(rest, ";"):
            name, _, raw = param.strip().partition("=")
            if name:
                params[name.strip().lower()] = raw.strip().strip('"').lower()
        links.append((target[1:], params))
    return links


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


PaginatorSpec = Annotated[
    NoPaging
    | OffsetPaging
    | PageNumberPaging
    | CursorPaging
    | NextUrlPaging
    | ODataPaging
    | SalesforcePaging
    | LinkHeaderPaging,
    Field(discriminator="type"),
]
