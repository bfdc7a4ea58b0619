"""JSONata mappings: guarded, and safe to use and drop from any thread."""

from __future__ import annotations

import gc
import sys
import threading
from typing import Any

import pytest

from isthmus.mapping import Mapping, MappingError


def test_a_mapping_reshapes_and_reports_failures() -> None:
    reshape = Mapping('{"name": first & " " & last}')
    assert reshape({"first": "Ada", "last": "L"}) == {"name": "Ada L"}
    with pytest.raises(MappingError):
        Mapping("$sum(n)")({"n": ["x"]})
    with pytest.raises(ValueError, match="Unexpected end of expression"):
        Mapping("{")


def test_mappings_cross_threads_and_die_anywhere() -> None:
    doubled = Mapping("n * 2")
    results: list[Any] = []
    made_there: list[Any] = []

    def elsewhere() -> None:
        results.append(doubled({"n": 21}))  # compiled again for this thread
        mapping = Mapping("n + 1")
        results.append(mapping({"n": 1}))
        cycle: list[Any] = [mapping]
        cycle.append(cycle)  # only the collector frees it, on whatever thread it runs
        made_there.append(cycle)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    unraisable: list[Any] = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        made_there.clear()
        gc.collect()  # here, on the main thread
    finally:
        sys.unraisablehook = hook
    assert results == [42, 2]
    assert unraisable == []


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("data", {"data": [1, 2]}),
        ("meta.next", {"meta": {"next": "c2"}}),
        ("meta.next", {"meta": None}),
        ("meta.next", {}),
        ("`@odata.nextLink`", {"@odata.nextLink": "https://x/next"}),
        ("a.b", {"a": [{"b": 1}, {"b": 2}]}),  # a list on the way: JSONata's own rules
        ("a", {"a": [[1], [2]]}),
        ("a", [{"a": 1}, {"a": 2}]),
    ],
)
def test_plain_paths_give_what_jsonata_gives(text: str, data: Any) -> None:
    import jsonatapy

    assert Mapping(text)(data) == jsonatapy.compile(text).evaluate(data)
