"""The CSDL ``$metadata`` document of a version's OData service: one entity type and
entity set per View, keys marked, descriptions as Core annotations, and Capabilities
annotations that tell clients (Excel, Power BI, Mendix, Dataverse) what the service
does: filter, sort, top, skip, count and select, read-only, no expand."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from isthmus.virtual.shapes import ViewShape

EDM_TYPES = {
    "string": "Edm.String",
    "integer": "Edm.Int64",
    "number": "Edm.Double",
    "boolean": "Edm.Boolean",
    "date": "Edm.Date",
    "date-time": "Edm.DateTimeOffset",
}
FILTER_FUNCTIONS = ("contains", "startswith", "endswith", "tolower", "toupper", "year",
                    "month", "day", "hour")  # fmt: skip
_VOCABULARIES = {
    "Org.OData.Core.V1": (
        "Core",
        "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml",
    ),
    "Org.OData.Capabilities.V1": (
        "Capabilities",
        "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Capabilities.V1.xml",
    ),
}
EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
EDM = "http://docs.oasis-open.org/odata/ns/edm"


def namespace(api: str, version: str) -> str:
    """A CSDL namespace for the version: dotted identifiers."""
    return "Isthmus." + ".".join(re.sub(r"[^A-Za-z0-9_]", "_", p) for p in (api, version))


def metadata(api: str, version: str, shapes: Sequence[ViewShape]) -> bytes:
    ET.register_namespace("edmx", EDMX)
    root = ET.Element(f"{{{EDMX}}}Edmx", {"Version": "4.0"})
    for name, (alias, uri) in _VOCABULARIES.items():
        reference = ET.SubElement(root, f"{{{EDMX}}}Reference", {"Uri": uri})
        ET.SubElement(reference, f"{{{EDMX}}}Include", {"Namespace": name, "Alias": alias})
    services = ET.SubElement(root, f"{{{EDMX}}}DataServices")
    space = namespace(api, version)
    schema = ET.SubElement(services, "Schema", {"xmlns": EDM, "Namespace": space})
    for shape in shapes:
        _entity_type(schema, shape)
    container = ET.SubElement(schema, "EntityContainer", {"Name": "Container"})
    for shape in shapes:
        entity_set = ET.SubElement(
            container, "EntitySet", {"Name": shape.name, "EntityType": f"{space}.{shape.name}"}
        )
        _capabilities(entity_set)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _entity_type(schema: ET.Element, shape: ViewShape) -> None:
    entity = ET.SubElement(schema, "EntityType", {"Name": shape.name})
    key = ET.SubElement(entity, "Key")
    for name in shape.key:
        ET.SubElement(key, "PropertyRef", {"Name": name})
    if shape.view.metadata.description:
        _annotation(entity, "Core.Description", String=shape.view.metadata.description)
    for column in shape.columns:
        attributes = {"Name": column.name, "Type": EDM_TYPES[column.type]}
        if column.name in shape.key:
            attributes["Nullable"] = "false"
        if column.type == "date-time":
            attributes["Precision"] = "6"
        prop = ET.SubElement(entity, "Property", attributes)
        if text := shape.description(column.name):
            _annotation(prop, "Core.Description", String=text)


def _capabilities(entity_set: ET.Element) -> None:
    for term in ("TopSupported", "SkipSupported"):
        _annotation(entity_set, f"Capabilities.{term}", Bool="true")
    records = {
        "CountRestrictions": {"Countable": True},
        "FilterRestrictions": {"Filterable": True},
        "SortRestrictions": {"Sortable": True},
        "SelectSupport": {"Supported": True},
        "ExpandRestrictions": {"Expandable": False},
        "InsertRestrictions": {"Insertable": False},
        "UpdateRestrictions": {"Updatable": False},
        "DeleteRestrictions": {"Deletable": False},
    }
    for term, values in records.items():
        annotation = _annotation(entity_set, f"Capabilities.{term}")
        record = ET.SubElement(annotation, "Record")
        for name, value in values.items():
            ET.SubElement(record, "PropertyValue", {"Property": name, "Bool": str(value).lower()})
    functions = _annotation(entity_set, "Capabilities.FilterFunctions")
    listed = ET.SubElement(functions, "Collection")
    for name in FILTER_FUNCTIONS:
        ET.SubElement(listed, "String").text = name


def _annotation(parent: ET.Element, term: str, **value: str) -> ET.Element:
    return ET.SubElement(parent, "Annotation", {"Term": term, **value})
