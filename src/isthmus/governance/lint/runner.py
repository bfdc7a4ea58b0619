"""Running the rules: over one Api, over the Api a write would store, over a project."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from isthmus.governance.lint.context import contexts
from isthmus.governance.lint.findings import LintReport
from isthmus.governance.lint.rules import RULES
from isthmus.model import Api, EventType, Resource, View
from isthmus.virtual.shapes import ViewShape


def lint_api(
    api: Api,
    event_types: Mapping[str, EventType] | None = None,
    shapes: Mapping[str, ViewShape] | None = None,
    views: Mapping[str, View] | None = None,
) -> LintReport:
    """Every rule over every version of ``api`` that is or will be served.

    ``event_types`` documents event routes' bodies; ``shapes`` Views' columns as
    planned against their sources; ``views`` the View resources, whose declarations
    stand in for Views not planned."""
    report = LintReport()
    for context in contexts(api, event_types, shapes, views):
        for rule in RULES:
            report.extend(rule.run(context))
    return report


def lint_resource(api: Api, everything: Iterable[Resource]) -> LintReport:
    """The lint of an Api about to be written, among the resources it will live with
    (the EventTypes its event routes publish are read from them). For a write path such
    as the admin API: refuse on ``report.errors``, pass ``report.warnings`` on."""
    every = list(everything)
    return lint_api(api, _event_types(every), views=_views(every))


def lint_resources(
    resources: Iterable[Resource], shapes: Mapping[str, ViewShape] | None = None
) -> dict[str, LintReport]:
    """Each Api's report, by Api name."""
    every = list(resources)
    event_types, views = _event_types(every), _views(every)
    return {
        r.metadata.name: lint_api(r, event_types, shapes, views)
        for r in sorted(every, key=lambda r: r.metadata.name)
        if isinstance(r, Api)
    }


def _event_types(resources: Iterable[Resource]) -> dict[str, EventType]:
    return {r.metadata.name: r for r in resources if isinstance(r, EventType)}


def _views(resources: Iterable[Resource]) -> dict[str, View]:
    return {r.metadata.name: r for r in resources if isinstance(r, View)}
