"""Catalog entries: one per resource of a catalogued kind, with what the developer portal
shows of it — owner, lifecycle, tags, docs, the Systems it touches, its versions and its
relations to other resources.

The kinds catalogued are listed in :data:`CATALOGUED` and nowhere else: a new kind (a Bot,
a Flow) joins with one more name there. What a kind names in its fields becomes its
``dependsOn`` relations without kind-specific code; only Apps (which *consume* Apis) and
the lifecycle of versioned kinds are special.

**Lifecycle.** ``metadata.lifecycle`` when declared. Otherwise an Api's comes from its
versions: ``production`` if one is published, else ``deprecated`` if one is deprecated,
else ``experimental`` if one is a draft, else (all retired) ``deprecated``. An EventType
whose versions are all deprecated is ``deprecated``. Anything else is ``production``: it
is applied to the hub, so something may rely on it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from isthmus.governance.catalog.links import Links
from isthmus.model import Api, App, EventType, Resource
from isthmus.model.base import Lifecycle
from isthmus.store.access import Grant

# The kinds the catalog lists, in the order results of equal rank are shown.
CATALOGUED: tuple[str, ...] = ("Api", "EventType", "View", "System", "App")

RelationType = Literal["consumes", "consumedBy", "dependsOn", "dependencyOf"]
_INVERSE: dict[RelationType, RelationType] = {
    "consumes": "consumedBy",
    "consumedBy": "consumes",
    "dependsOn": "dependencyOf",
    "dependencyOf": "dependsOn",
}


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class Relation(_Model):
    type: RelationType
    kind: str
    name: str
    via: list[str] = Field(
        description="Where it comes from: 'declared' (an App's spec.apis), 'grant:ENV' (an "
        "approved access request), an Api version's name, or the field that names it."
    )


class Version(_Model):
    name: str
    status: str = Field(description="Api: draft, published, deprecated or retired; "
                        "EventType: published or deprecated.")  # fmt: skip
    sunset: datetime | None = None


class EntrySummary(_Model):
    """What a list of results shows of an entry."""

    kind: str
    name: str
    title: str | None = None
    owner: str | None = None
    lifecycle: Lifecycle
    lifecycle_declared: bool = Field(
        description="Declared in metadata.lifecycle, rather than derived (see the docs)."
    )
    tags: list[str] = Field(default_factory=list)
    description: str | None = None
    systems: list[str] = Field(default_factory=list, description="The Systems it touches.")
    versions: list[Version] = Field(default_factory=list)


class Entry(EntrySummary):
    """One catalogued resource, with its documentation and relations."""

    docs: str | None = Field(default=None, description="Markdown.")
    labels: dict[str, str] = Field(default_factory=dict)
    relations: list[Relation] = Field(default_factory=list)

    @property
    def ref(self) -> tuple[str, str]:
        return (self.kind, self.name)

    def summary(self) -> EntrySummary:
        return EntrySummary.model_validate(self.model_dump(include=set(EntrySummary.model_fields)))

    def related(self, type: RelationType, kind: str | None = None) -> list[str]:
        """Names of the resources related this way (of ``kind``, if given)."""
        return [r.name for r in self.relations if r.type == type and kind in (None, r.kind)]


def lifecycle(resource: Resource) -> tuple[Lifecycle, bool]:
    """The resource's lifecycle, and whether it was declared (see the module docstring)."""
    if resource.metadata.lifecycle is not None:
        return resource.metadata.lifecycle, True
    if isinstance(resource, Api):
        statuses = {v.status for v in resource.spec.versions}
        if "published" in statuses:
            return "production", False
        if "deprecated" in statuses:
            return "deprecated", False
        return ("experimental" if "draft" in statuses else "deprecated"), False
    if isinstance(resource, EventType) and all(v.deprecated for v in resource.spec.versions):
        return "deprecated", False
    return "production", False


def _versions(resource: Resource) -> list[Version]:
    if isinstance(resource, Api):
        return [
            Version(name=v.name, status=v.status, sunset=v.sunset) for v in resource.spec.versions
        ]
    if isinstance(resource, EventType):
        return [
            Version(name=f"v{v.version}", status="deprecated" if v.deprecated else "published")
            for v in resource.spec.versions
        ]
    return []


def _forward(resource: Resource, links: Links, grants: Iterable[Grant]) -> list[Relation]:
    if isinstance(resource, App):
        via: dict[str, list[str]] = defaultdict(list)
        for api in resource.spec.apis:
            via[api].append("declared")
        for grant in grants:
            via[grant.api].append(f"grant:{grant.environment}")
        return [
            Relation(type="consumes", kind="Api", name=api, via=via[api]) for api in sorted(via)
        ]
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for link in links.named(resource):
        grouped[(link.kind, link.name)].append(link.via)
    return [
        Relation(type="dependsOn", kind=kind, name=name, via=sorted(set(places)))
        for (kind, name), places in sorted(grouped.items())
    ]


def build_entries(resources: Iterable[Resource], grants: Iterable[Grant] = ()) -> list[Entry]:
    """The catalog's entries for these resources, with relations both ways between
    catalogued ones (an Api an App consumes lists the App under ``consumedBy``).

    ``grants`` are the active grants of approved access requests: an App consumes the
    Apis it declares and those it was granted."""
    everything = list(resources)
    links = Links(everything)
    by_app: dict[str, list[Grant]] = defaultdict(list)
    for grant in grants:
        by_app[grant.app].append(grant)
    chosen = [r for r in everything if r.kind in CATALOGUED]
    # Connections are scoped per Environment; catalogued kinds are not, but be safe.
    unique = {(r.kind, r.metadata.name): r for r in chosen}
    forward = {
        key: _forward(resource, links, by_app.get(resource.metadata.name, ()))
        for key, resource in unique.items()
    }
    inverse: dict[tuple[str, str], list[Relation]] = defaultdict(list)
    for (kind, name), relations in forward.items():
        for relation in relations:
            if (relation.kind, relation.name) in unique:
                back = _INVERSE[relation.type]
                inverse[(relation.kind, relation.name)].append(
                    Relation(type=back, kind=kind, name=name, via=relation.via)
                )
    entries = []
    for key, resource in unique.items():
        meta = resource.metadata
        stage, declared = lifecycle(resource)
        title = resource.spec.title if isinstance(resource, Api) else None
        entries.append(
            Entry(
                kind=resource.kind,
                name=meta.name,
                title=title,
                owner=meta.owner,
                lifecycle=stage,
                lifecycle_declared=declared,
                tags=list(meta.tags),
                description=meta.description,
                docs=meta.docs,
                labels=dict(meta.labels),
                systems=sorted(links.systems(resource)),
                versions=_versions(resource),
                relations=[*forward[key], *sorted(inverse[key], key=_relation_order)],
            )
        )
    order = {kind: index for index, kind in enumerate(CATALOGUED)}
    return sorted(entries, key=lambda e: (order[e.kind], e.name))


def _relation_order(relation: Relation) -> tuple[str, str, str]:
    return (relation.type, relation.kind, relation.name)
