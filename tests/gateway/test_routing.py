"""The route table on its own: literal paths, templates, methods, lifecycle."""

from __future__ import annotations

import pytest

from isthmus.errors import MethodNotAllowed
from isthmus.gateway.routing import RouteNotFound, RouteTable, VersionRetired
from isthmus.model import Api


def table(*routes: tuple[str, str]) -> RouteTable:
    target = {"type": "operation", "connection": "c", "operation": "o"}
    api = Api.model_validate(
        {
            "kind": "Api",
            "metadata": {"name": "items"},
            "spec": {
                "versions": [
                    {
                        "name": "v1",
                        "routes": [{"method": m, "path": p, "target": target} for m, p in routes],
                    },
                    {"name": "v0", "status": "retired"},
                ]
            },
        }
    )
    return RouteTable([api])


def test_literal_paths_win_and_templates_fill_other_methods() -> None:
    routes = table(("GET", "/items/search"), ("GET", "/items/{id}"), ("POST", "/items/{id}"))
    assert routes.match("GET", "/items/v1/items/search").route.template == "/items/search"
    found = routes.match("POST", "/items/v1/items/search")
    assert found.route.template == "/items/{id}"
    assert found.params == {"id": "search"}
    assert routes.match("GET", "/items/v1/items/a%20b").params == {"id": "a b"}


def test_params_do_not_span_segments() -> None:
    routes = table(("GET", "/items/{id}"))
    with pytest.raises(RouteNotFound):
        routes.match("GET", "/items/v1/items/a/b")


def test_method_not_allowed_lists_the_methods() -> None:
    routes = table(("GET", "/items/{id}"), ("DELETE", "/items/{id}"))
    with pytest.raises(MethodNotAllowed) as info:
        routes.match("PUT", "/items/v1/items/7")
    assert info.value.headers == {"Allow": "DELETE, GET"}


def test_unknown_and_retired_versions() -> None:
    routes = table(("GET", "/items"))
    with pytest.raises(RouteNotFound) as info:
        routes.match("GET", "/items/v9/items")
    assert info.value.extensions == {"versions": ["v1"]}
    with pytest.raises(VersionRetired):
        routes.match("GET", "/items/v0/items")
    with pytest.raises(RouteNotFound):
        routes.match("GET", "/")


def test_a_version_past_its_sunset_answers_as_retired() -> None:
    target = {"type": "operation", "connection": "c", "operation": "o"}
    api = Api.model_validate(
        {
            "kind": "Api",
            "metadata": {"name": "items"},
            "spec": {
                "versions": [
                    {
                        "name": "v1",
                        "status": "deprecated",
                        "deprecatedAt": "2020-01-01",
                        "sunset": "2021-01-01",
                        "routes": [{"path": "/items", "target": target}],
                    },
                    {"name": "v2", "routes": [{"path": "/items", "target": target}]},
                ]
            },
        }
    )
    with pytest.raises(VersionRetired) as info:
        RouteTable([api]).match("GET", "/items/v1/items")
    assert info.value.extensions["successor"] == "v2"
