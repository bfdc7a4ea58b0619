"""What resources name and which Systems they reach: the graph the catalog's entries
are drawn from.

A resource names others in its fields (``Reference``s, see :mod:`isthmus.model.base`) and,
for a View, in its SQL. Systems are reached through Connections (``spec.system``): an Api
through its routes' Connections and its Views, a View through the Connections its SQL
reads (directly or through other Views), an EventType through the Connections whose
triggers publish it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from isthmus.model import Connection, Resource, View


@dataclass(frozen=True)
class Link:
    """One resource naming another: the target, and where (a version, a field)."""

    kind: str
    name: str
    via: str


def _where(path: tuple[str | int, ...], resource: Resource) -> str:
    """A short, readable place for a reference: an Api's version name, else the field."""
    spec = getattr(resource, "spec", None)
    versions = getattr(spec, "versions", None)
    if len(path) > 2 and path[:2] == ("spec", "versions") and isinstance(path[2], int):
        found = versions[path[2]] if isinstance(versions, list) else None
        name = getattr(found, "name", None)
        if isinstance(name, str):
            return name
    parts = [str(p) for p in path if not isinstance(p, int)]
    return ".".join(parts[1:] if parts[:1] == ["spec"] else parts) or "spec"


class Links:
    """The references between a set of resources, and the Systems each one reaches."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self._views: dict[str, View] = {}
        # Connections are declared per Environment: one name may reach a System in each.
        self._connection_systems: dict[str, set[str]] = defaultdict(set)
        self._publishers: dict[str, set[str]] = defaultdict(set)  # EventType → Systems
        for resource in resources:
            if isinstance(resource, View):
                self._views[resource.metadata.name] = resource
            elif isinstance(resource, Connection):
                system = resource.spec.system
                self._connection_systems[resource.metadata.name].add(system)
                for trigger in resource.spec.triggers:
                    self._publishers[trigger.event_type].add(system)

    def named(self, resource: Resource) -> list[Link]:
        """Every resource this one names, once per target and place, in a stable order."""
        seen: dict[tuple[str, str, str], Link] = {}
        for reference in resource.named():
            link = Link(reference.kind, reference.name, _where(reference.path, resource))
            seen.setdefault((link.kind, link.name, link.via), link)
        return sorted(seen.values(), key=lambda link: (link.kind, link.name, link.via))

    def connection_systems(self, connection: str) -> set[str]:
        return set(self._connection_systems.get(connection, ()))

    def view_systems(self, view: str, seen: frozenset[str] = frozenset()) -> set[str]:
        """Systems whose data a View reads: through its SQL's Connections and Views (a
        View's ``relations`` only point at rows of another View, read when asked for)."""
        found = self._views.get(view)
        if found is None or view in seen:  # unknown, or a cycle: apply refuses both
            return set()
        systems: set[str] = set()
        for connection, table in found.tables:
            if connection is None:
                systems |= self.view_systems(table, seen | {view})
            else:
                systems |= self.connection_systems(connection)
        return systems

    def publishers(self, event_type: str) -> set[str]:
        """Systems whose Connections' triggers publish events of ``event_type``."""
        return set(self._publishers.get(event_type, ()))

    def systems(self, resource: Resource) -> set[str]:
        """The Systems a resource touches; see the module's docstring."""
        if resource.kind == "System":
            return {resource.metadata.name}
        if resource.kind == "App":  # an App reaches Systems only through the hub's Apis
            return set()
        if resource.kind == "EventType":
            return self.publishers(resource.metadata.name)
        if isinstance(resource, View):
            return self.view_systems(resource.metadata.name)
        systems: set[str] = set()
        for link in self.named(resource):
            if link.kind == "Connection":
                systems |= self.connection_systems(link.name)
            elif link.kind == "View":
                systems |= self.view_systems(link.name)
            elif link.kind == "System":
                systems.add(link.name)
        return systems
