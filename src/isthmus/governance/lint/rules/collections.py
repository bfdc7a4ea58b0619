"""Rules on lists: collections named as plural nouns, and paged, sorted and filtered the
one way the gateway's collections do (``limit`` + ``cursor``, ``sort``, ``filter``).

A low-code tool's table or gallery is set up once per paging style; an Api whose lists
page in three ways makes the maker learn three. The gateway pages every route that
declares ``collection`` (and every View) the same way, whatever the backend does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from isthmus.governance.lint.context import Operation, VersionContext
from isthmus.governance.lint.findings import Severity
from isthmus.governance.lint.nouns import is_plural, last_word, plural_of
from isthmus.governance.lint.rules.base import Hit, rule
from isthmus.model.collection import RESERVED

# Query parameters of other paging, sorting and filtering conventions (compared with
# '-', '_' and '$' removed, lower case): offset/page paging, OData's $top and $skip,
# orderBy sorting, free-form 'q'/'where' filters.
_OTHER_CONVENTIONS = frozenset(
    {
        "offset", "skip", "page", "pagesize", "perpage", "pagenumber", "pageno", "start",
        "size", "top", "first", "after", "before", "continuationtoken", "pagetoken",
        "nexttoken", "orderby", "order", "sortby", "sortorder", "sortdir", "direction",
        "where", "query", "search", "q", "count",
    }
)  # fmt: skip


@rule("collection-plural-noun", Severity.warning, "Collections are named as plural nouns")
def collection_plural_noun(context: VersionContext) -> Iterator[Hit]:
    seen: set[str] = set()
    for op in context.operations():
        for segment in _collection_segments(op):
            if segment in seen or is_plural(segment):
                continue
            seen.add(segment)
            advice = (
                f"Name collections as plural nouns (such as '{_plural(segment)}'): "
                "low-code tools name tables and actions after them."
            )
            if op.view_route and not op.declared:
                advice += " Rename the View, or publish it with a route at a plural path."
            yield Hit(
                op,
                f"'{segment}' in {op.path} names a collection but reads as singular",
                advice,
                field=("path",),
            )


def _plural(segment: str) -> str:
    word = last_word(segment) or segment
    at = segment.lower().rfind(word)
    plural = plural_of(segment[at : at + len(word)])
    return segment[:at] + plural + segment[at + len(word) :]


def _collection_segments(op: Operation) -> Iterator[str]:
    """Literal segments that name a collection: one followed by a '{key}' segment, and
    the last one of a route that answers a list."""
    segments = [s for s in op.path.split("/") if s]
    for index, segment in enumerate(segments[:-1]):
        if not _is_param(segment) and _is_param(segments[index + 1]):
            yield segment
    if segments and not _is_param(segments[-1]) and _answers_list(op):
        yield segments[-1]


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _answers_list(op: Operation) -> bool:
    if op.method != "get":
        return False
    if op.route is not None and (op.route.collection is not None or op.view_route):
        return True
    schema = _success_schema(op)
    return isinstance(schema, dict) and schema.get("type") == "array"


def _success_schema(op: Operation) -> Any:
    response = (op.spec.get("responses") or {}).get("200") or {}
    media = (response.get("content") or {}).get("application/json") or {}
    return media.get("schema")


@rule(
    "paging-parameters-consistent",
    Severity.warning,
    "Lists page, sort and filter with the gateway's limit, cursor, sort and filter",
)
def paging_parameters_consistent(context: VersionContext) -> Iterator[Hit]:
    limits: dict[int, Operation] = {}
    for op in context.operations():
        collection = op.route.collection if op.route is not None else None
        if collection is not None:
            limits.setdefault(collection.max_limit, op)
            continue
        if op.view_route:
            continue  # the gateway's collection, whatever its columns
        foreign: list[tuple[int, str]] = []  # another convention's parameters
        reserved: list[tuple[int, str]] = []  # the gateway's names, with no collection
        for index, parameter in enumerate(op.spec.get("parameters") or []):
            if not isinstance(parameter, dict) or parameter.get("in") != "query":
                continue
            name = str(parameter.get("name"))
            plain = name.lower().replace("-", "").replace("_", "").replace("$", "")
            if plain in _OTHER_CONVENTIONS:
                foreign.append((index, name))
            elif name in RESERVED:
                reserved.append((index, name))
        if foreign:
            index, name = foreign[0]
            names = ", ".join(f"'{n}'" for _, n in [*foreign, *reserved])
            yield Hit(
                op,
                f"{op.label} pages, sorts or filters its own way ({names})",
                "Declare 'collection' on the route (key and fields): the gateway then "
                "pages with limit and cursor, sorts with sort and filters with filter, "
                "as on every other list.",
                at=("parameters", index),
                field=("request", "query", name),
            )
        elif reserved:
            index, name = reserved[0]
            yield Hit(
                op,
                f"{op.label} takes '{name}' but is not a collection, so it may mean "
                "something other than on the Api's collections",
                "Declare 'collection' on the route, or name the parameter otherwise.",
                at=("parameters", index),
                field=("request", "query", name),
            )
    if len(limits) > 1:
        sizes = ", ".join(f"{size} ({op.label})" for size, op in sorted(limits.items()))
        first = next(iter(limits.values()))
        yield Hit(
            first,
            f"the version's collections allow different page sizes: {sizes}",
            "Give the collections one maxLimit, so a maker can page every list alike.",
            field=("collection", "maxLimit"),
            severity=Severity.info,
        )
