"""Resource models: the envelope, references, canonical form and the kind registry."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from isthmus.model import Api, App, Connection, Reference, ResourceKey, kinds, references


def api(routes: list[dict[str, object]], **version: object) -> Api:
    return Api.model_validate(
        {
            "kind": "Api",
            "metadata": {"name": "customers"},
            "spec": {"versions": [{"name": "v1", "routes": routes, **version}]},
        }
    )


def test_every_reference_is_found_with_its_yaml_path() -> None:
    app = App.model_validate(
        {"kind": "App", "metadata": {"name": "a"}, "spec": {"apis": ["x", "y"], "plan": "gold"}}
    )
    assert list(references(app)) == [
        Reference(("spec", "apis", 0), "Api", "x"),
        Reference(("spec", "apis", 1), "Api", "y"),
        Reference(("spec", "plan"), "Plan", "gold"),
    ]
    conn = Connection.model_validate(
        {
            "kind": "Connection",
            "metadata": {"name": "c", "environment": "sandbox"},
            "spec": {"system": "crm", "connector": "memory"},
        }
    )
    assert list(references(conn)) == [Reference(("spec", "system"), "System", "crm")]
    routes = [{"path": "/a", "target": {"type": "operation", "connection": "c", "operation": "o"}}]
    assert [r.path for r in references(api(routes))] == [
        ("spec", "versions", 0, "routes", 0, "target", "connection")
    ]


def test_canonical_form_round_trips_and_keeps_union_tags() -> None:
    original = api(
        [{"method": "get", "path": "/c/{id}", "target": {"type": "proxy", "connection": "crm"}}]
    )
    data = original.canonical()
    assert list(data)[:2] == ["apiVersion", "kind"]
    assert data["spec"]["versions"][0]["routes"][0]["target"]["type"] == "proxy"
    assert "status" not in data["spec"]["versions"][0]  # defaults are left out
    assert Api.model_validate(data) == original


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        (
            [
                {"path": "/c/{id}", "target": {"type": "proxy", "connection": "c"}},
                {"path": "/c/{key}", "target": {"type": "proxy", "connection": "c"}},
            ],
            "two routes answer GET /c/{key}",
        ),
        (
            [{"path": "/c", "target": {"type": "proxy", "connection": "c", "path": "/x/{id}"}}],
            "does not capture",
        ),
        ([{"path": "c/x", "target": {"type": "proxy", "connection": "c"}}], "pattern"),
        ([{"path": "/c", "target": {"connection": "c"}}], "discriminator"),
    ],
)
def test_route_mistakes_are_refused(routes: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        api(routes)


def test_names_are_slugs() -> None:
    with pytest.raises(ValidationError):
        App.model_validate({"kind": "App", "metadata": {"name": "My App"}})


def test_registry_knows_the_builtin_kinds_and_their_plural() -> None:
    assert {"System", "Connection", "Api", "App", "Plan"} <= set(kinds())
    assert kinds()["Connection"].plural == "connections"
    assert kinds()["Connection"].environment_scoped
    key = ResourceKey("Connection", "crm", "sandbox")
    assert str(key) == "Connection/crm@sandbox"


def test_deprecation_needs_dates_and_successors_must_exist() -> None:
    base = {"kind": "Api", "metadata": {"name": "a"}}
    with pytest.raises(ValidationError, match="deprecatedAt and sunset"):
        Api.model_validate(base | {"spec": {"versions": [{"name": "v1", "status": "deprecated"}]}})
    with pytest.raises(ValidationError, match="successor v9"):
        Api.model_validate(base | {"spec": {"versions": [{"name": "v1", "successor": "v9"}]}})
    versions = [
        {"name": "v1", "status": "retired"},
        {
            "name": "v2",
            "status": "deprecated",
            "deprecatedAt": "2026-01-01",
            "sunset": "2026-06-01",
        },
        {"name": "v3"},
        {"name": "v4", "status": "draft"},
    ]
    api = Api.model_validate(base | {"spec": {"versions": versions}})
    v1, v2, v3, _ = api.spec.versions
    assert api.spec.successor_of(v1) == "v3"  # the newest published, not the draft
    assert api.spec.successor_of(v3) is None
    assert v2.sunset is not None
    assert v2.sunset.tzinfo is not None  # a bare date is midnight UTC
    assert Api.model_validate(api.canonical()) == api


def test_lifecycle_dates_and_successors_must_make_sense() -> None:
    base = {"kind": "Api", "metadata": {"name": "a"}}
    backwards = {
        "name": "v1",
        "status": "deprecated",
        "deprecatedAt": "2027-01-01",
        "sunset": "2026-01-01",
    }
    with pytest.raises(ValidationError, match="sunset comes before"):
        Api.model_validate(base | {"spec": {"versions": [backwards]}})
    to_draft = [{"name": "v1", "successor": "v2"}, {"name": "v2", "status": "draft"}]
    with pytest.raises(ValidationError, match="not a published version"):
        Api.model_validate(base | {"spec": {"versions": to_draft}})
