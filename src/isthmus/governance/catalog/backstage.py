"""The catalog as Backstage entities: a ``catalog-info.yaml`` Backstage imports.

The mapping (see docs/catalog.md for the why):

- System → ``System``.
- Api → ``API`` of type ``openapi``; its definition is the newest served version's
  OpenAPI document as the gateway serves it, inlined as JSON text (Backstage cannot
  fetch a ``$text`` reference from a hub it cannot reach).
- EventType → ``API`` of type ``asyncapi`` named ``event-NAME`` (Apis and EventTypes
  share Backstage's kind and namespace), its definition the AsyncAPI 3.0 document of
  that EventType alone.
- View → ``Resource`` of type ``view``: a virtual table is data the hub serves, not an
  interface of its own; Apis publish it. It depends on what its SQL reads.
- Connection → ``Resource`` of type ``connection`` named ``connection-NAME`` (one per
  name, all Environments together): what the hub needs at run time to reach a System,
  which is what Backstage's Resources are.
- App → ``Component`` of type ``low-code-app``, consuming the Apis it declares and was
  granted; its platform becomes a tag.
- the hub → one ``Component`` of type ``service`` that provides every API and depends
  on every Connection and View.

``spec.system`` is set where an entity touches exactly one System. An owner that is not a
reference becomes ``group:default/OWNER``; a resource without one is the hub's owner's.

Names are unique per Backstage kind (ignoring case, as Backstage compares them): where
two would meet — an Api ``event-orders`` and the EventType ``orders``, an App named like
the hub — the resource's own name wins and the made-up one takes a number (see
``unique_names``); every reference uses the name given.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from isthmus.events.asyncapi import asyncapi_document
from isthmus.governance.catalog import block_yaml
from isthmus.governance.catalog.backstage_refs import (
    Claim,
    entity_name,
    label_ok,
    owner_ref,
    ref,
    tags,
    unique_names,
)
from isthmus.governance.catalog.entries import Entry
from isthmus.governance.exports.native import native_document, server_url
from isthmus.model import Api, App, Connection, EventType, Resource, Subscription
from isthmus.virtual.shapes import ViewShape

API_VERSION = "backstage.io/v1alpha1"
SERVED = ("published", "deprecated")
# The Backstage kind of each catalogued kind exported (kinds Backstage has no place for
# stay out), and, with Connections and the hub, who keeps a contested name first once
# resources' own names are placed (see unique_names).
KINDS = {
    "Api": "API",
    "EventType": "API",
    "View": "Resource",
    "System": "System",
    "App": "Component",
}
_PRECEDENCE = (*KINDS, "Connection", "Hub")


@dataclass(frozen=True)
class HubComponent:
    """The hub itself, as the Component that provides every API."""

    name: str = "isthmus-gateway"
    owner: str = "isthmus-admins"
    description: str = "The Isthmus integration hub's gateway: every Api and event it serves."


def event_entity_name(event_type: str) -> str:
    return entity_name(f"event-{event_type}")


def connection_entity_name(connection: str) -> str:
    return entity_name(f"connection-{connection}")


def _metadata(entry: Entry, name: str, extra_tags: Iterable[str] = ()) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if entry.title:
        metadata["title"] = entry.title
    if entry.description:
        metadata["description"] = entry.description
    labels = {k: v for k, v in sorted(entry.labels.items()) if label_ok(k, v)}
    if labels:
        metadata["labels"] = labels
    metadata["annotations"] = {"isthmus.dev/kind": entry.kind, "isthmus.dev/name": entry.name}
    found = tags([*entry.tags, *extra_tags])
    if found:
        metadata["tags"] = found
    return metadata


def _definition(document: Mapping[str, Any]) -> str:
    """A document as the text of ``spec.definition`` (a string in Backstage's schema):
    JSON, which is YAML too, so Backstage's viewers parse it as they parse YAML; in the
    document's own key order. Emitting each document's tree as YAML cost seconds per
    hundred Apis; JSON costs a tenth of that, and, indented and ASCII, goes into the file
    as a literal block (see block_yaml) whose diffs stay readable in git."""
    return json.dumps(document, indent=2, ensure_ascii=True)


class _Exporter:
    def __init__(
        self,
        entries: Iterable[Entry],
        resources: Iterable[Resource],
        issuer: str,
        view_shapes: Mapping[str, ViewShape] | None,
        hub: HubComponent,
    ) -> None:
        self.entries = list(entries)
        self.resources = list(resources)
        self.issuer = issuer.rstrip("/")
        self.view_shapes = view_shapes
        self.hub = hub
        self.known = {(e.kind, e.name) for e in self.entries}
        self.system_owners = {e.name: e.owner for e in self.entries if e.kind == "System"}
        self.event_types = {r.metadata.name: r for r in self.resources if isinstance(r, EventType)}
        self.apis = {r.metadata.name: r for r in self.resources if isinstance(r, Api)}
        self.connections: dict[str, list[Connection]] = defaultdict(list)
        for resource in self.resources:
            if isinstance(resource, Connection):
                self.connections[resource.metadata.name].append(resource)
        self.names = unique_names(self._claims(), _PRECEDENCE)

    def _claims(self) -> Iterator[Claim]:
        for entry in self.entries:
            kind = KINDS.get(entry.kind)
            if kind is not None:
                made = event_entity_name if entry.kind == "EventType" else entity_name
                name = made(entry.name)
                yield Claim(kind, name, entry.kind, entry.name, own=name == entry.name)
        for connection in self.connections:
            name = connection_entity_name(connection)
            yield Claim("Resource", name, "Connection", connection, own=False)
        yield Claim("Component", entity_name(self.hub.name), "Hub", self.hub.name, own=False)

    def name(self, kind: str, name: str) -> str:
        """The entity name of a resource (or the hub), unique in its Backstage kind."""
        return self.names[(kind, name)]

    def ref(self, kind: str, name: str) -> str:
        backstage_kind = "Component" if kind == "Hub" else KINDS.get(kind, "Resource")
        return ref(backstage_kind, self.name(kind, name))

    def owner(self, owner: str | None) -> str:
        return owner_ref(owner or self.hub.owner)

    def system(self, systems: Iterable[str]) -> dict[str, str]:
        known = [s for s in systems if s in self.system_owners]
        return {"system": self.ref("System", known[0])} if len(known) == 1 else {}

    def entities(self) -> list[dict[str, Any]]:
        made: list[dict[str, Any]] = []
        for entry in self.entries:
            if entry.kind in KINDS:
                made.append(getattr(self, f"_{entry.kind.lower()}")(entry))
        made.extend(self._connection(name) for name in sorted(self.connections))
        made.append(self._hub())
        return made

    def _entity(self, kind: str, metadata: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}

    def _system(self, entry: Entry) -> dict[str, Any]:
        return self._entity(
            "System",
            _metadata(entry, self.name("System", entry.name)),
            {"owner": self.owner(entry.owner)},
        )

    def _api(self, entry: Entry) -> dict[str, Any]:
        api = self.apis[entry.name]
        served = [v for v in api.spec.versions if v.status in SERVED]
        newest = (served or api.spec.versions)[-1]
        document = native_document(
            api, newest.name, self.issuer, self.event_types, self.view_shapes
        )
        metadata = _metadata(entry, self.name("Api", entry.name))
        metadata["annotations"]["isthmus.dev/definition-version"] = newest.name
        metadata["links"] = [
            {
                "url": server_url(self.issuer, api.metadata.name, v.name, "production")
                + "/openapi.json",
                "title": f"OpenAPI document, {v.name}",
                "type": "openapi",
            }
            for v in served
        ]
        spec = {
            "type": "openapi",
            "lifecycle": entry.lifecycle,
            "owner": self.owner(entry.owner),
            **self.system(entry.systems),
            "definition": _definition(document),
        }
        return self._entity("API", metadata, spec)

    def _eventtype(self, entry: Entry) -> dict[str, Any]:
        event_type = self.event_types[entry.name]
        environments = [c.metadata.environment for cs in self.connections.values() for c in cs]
        subscriptions = [r for r in self.resources if isinstance(r, Subscription)]
        document = asyncapi_document([event_type], self.apis.values(), environments, subscriptions)
        metadata = _metadata(entry, self.name("EventType", entry.name))
        metadata.setdefault("title", event_type.cloudevents_type)
        spec = {
            "type": "asyncapi",
            "lifecycle": entry.lifecycle,
            "owner": self.owner(entry.owner),
            **self.system(entry.systems),
            "definition": _definition(document),
        }
        return self._entity("API", metadata, spec)

    def _view(self, entry: Entry) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "type": "view",
            "owner": self.owner(entry.owner),
            **self.system(entry.systems),
        }
        depends = self._depends(entry)
        if depends:
            spec["dependsOn"] = depends
        return self._entity("Resource", _metadata(entry, self.name("View", entry.name)), spec)

    def _depends(self, entry: Entry) -> list[str]:
        """The Connections and Views a View reads, as references to their Resources."""
        refs = set()
        for relation in entry.relations:
            if relation.type != "dependsOn":
                continue
            if relation.kind == "Connection" and relation.name in self.connections:
                refs.add(self.ref("Connection", relation.name))
            elif relation.kind == "View" and ("View", relation.name) in self.known:
                refs.add(self.ref("View", relation.name))
        return sorted(refs)

    def _app(self, entry: Entry) -> dict[str, Any]:
        app = next(
            r for r in self.resources if isinstance(r, App) and r.metadata.name == entry.name
        )
        consumed = sorted(
            {
                self.ref("Api", name)
                for name in entry.related("consumes", "Api")
                if ("Api", name) in self.known
            }
        )
        platform = [app.spec.platform] if app.spec.platform else []
        spec: dict[str, Any] = {
            "type": "low-code-app",
            "lifecycle": entry.lifecycle,
            "owner": self.owner(entry.owner),
        }
        if consumed:
            spec["consumesApis"] = consumed
        metadata = _metadata(entry, self.name("App", entry.name), platform)
        return self._entity("Component", metadata, spec)

    def _connection(self, name: str) -> dict[str, Any]:
        declared = sorted(self.connections[name], key=lambda c: c.metadata.environment)
        systems = sorted({c.spec.system for c in declared})
        owner = next((c.metadata.owner for c in declared if c.metadata.owner), None)
        if owner is None and len(systems) == 1:
            owner = self.system_owners.get(systems[0])
        described = [c.metadata.description for c in declared if c.metadata.description]
        description = described[0] if described else None
        metadata: dict[str, Any] = {"name": self.name("Connection", name), "title": name}
        if description:
            metadata["description"] = description
        metadata["annotations"] = {
            "isthmus.dev/kind": "Connection",
            "isthmus.dev/name": name,
            "isthmus.dev/environments": ",".join(c.metadata.environment for c in declared),
        }
        metadata["tags"] = tags(sorted({c.spec.connector for c in declared}))
        spec = {"type": "connection", "owner": self.owner(owner), **self.system(systems)}
        return self._entity("Resource", metadata, spec)

    def _hub(self) -> dict[str, Any]:
        provided = [
            self.ref(e.kind, e.name) for e in self.entries if e.kind in ("Api", "EventType")
        ]
        depends = [self.ref("Connection", name) for name in self.connections]
        depends += [self.ref("View", e.name) for e in self.entries if e.kind == "View"]
        spec: dict[str, Any] = {
            "type": "service",
            "lifecycle": "production",
            "owner": owner_ref(self.hub.owner),
        }
        if provided:
            spec["providesApis"] = sorted(provided)
        if depends:
            spec["dependsOn"] = sorted(depends)
        metadata = {
            "name": self.name("Hub", self.hub.name),
            "description": self.hub.description,
            "annotations": {"isthmus.dev/kind": "Hub"},
            "links": [{"url": self.issuer, "title": "Gateway"}],
        }
        return self._entity("Component", metadata, spec)


def backstage_entities(
    entries: Iterable[Entry],
    resources: Iterable[Resource],
    issuer: str,
    *,
    view_shapes: Mapping[str, ViewShape] | None = None,
    hub: HubComponent | None = None,
) -> list[dict[str, Any]]:
    """The Backstage entities for the catalog ``entries`` (from ``resources``, which
    also supply the documents, Connections and Subscriptions); ``issuer`` is the gateway's
    public URL, ``view_shapes`` the planned columns of Views (a running hub has them)."""
    return _Exporter(entries, resources, issuer, view_shapes, hub or HubComponent()).entities()


def backstage_yaml(entities: Iterable[Mapping[str, Any]]) -> str:
    """The entities as one multi-document ``catalog-info.yaml``."""
    return "".join(f"---\n{block_yaml.dump(entity)}" for entity in entities)
