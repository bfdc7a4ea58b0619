"""The ``format`` values a Power Platform connector definition may carry, and what the
others become.

Microsoft's schema for connector definitions (``apiDefinition.swagger.schema.json`` in
microsoft/PowerPlatformConnectors) allows a schema's ``format`` to be only one of
``CONNECTOR_FORMATS``; a definition with another is refused by the certification
tooling, and the designer would not know what to make of it anyway. So every other
format is taken away — on schemas, and (for the same designer) on parameters, headers
and their items. A narrower integer format becomes the one that holds it; a format that
tells a person something (an e-mail address, a UUID) is said in the description.
"""

from __future__ import annotations

from typing import Any

CONNECTOR_FORMATS = frozenset(
    {
        "int32",
        "int64",
        "float",
        "double",
        "byte",
        "binary",
        "date",
        "date-time",
        "password",
        "date-no-tz",
        "html",
        "uri",
    }
)
# Integer formats whose every value the allowed one holds.
_WIDER = {"int8": "int32", "int16": "int32", "uint8": "int32", "uint16": "int32", "uint32": "int64"}
_SAID = {
    "email": "an e-mail address",
    "idn-email": "an e-mail address",
    "hostname": "a host name",
    "idn-hostname": "a host name",
    "ipv4": "an IPv4 address",
    "ipv6": "an IPv6 address",
    "uuid": "a UUID",
    "url": "a URL",
    "uri-reference": "a URI or a relative reference",
    "iri": "an IRI (a URI that may hold non-ASCII characters)",
    "iri-reference": "an IRI or a relative reference",
    "uri-template": "a URI template (RFC 6570)",
    "time": "a time of day (RFC 3339, e.g. 14:30:00Z)",
    "duration": "a duration (ISO 8601, e.g. P3DT4H)",
    "json-pointer": "a JSON Pointer (RFC 6901)",
    "relative-json-pointer": "a relative JSON Pointer",
    "regex": "a regular expression",
    "decimal": "a decimal number, written as text",
}


def restrict_formats(swagger: dict[str, Any]) -> None:
    """Leave only ``CONNECTOR_FORMATS`` in a Swagger 2.0 connector definition (in place)."""
    for schema in (swagger.get("definitions") or {}).values():
        _schema(schema)
    for item in (swagger.get("paths") or {}).values():
        for operation in item.values() if isinstance(item, dict) else ():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters") or []:
                if "schema" in parameter:
                    _schema(parameter["schema"])
                else:
                    _simple(parameter)
            for response in (operation.get("responses") or {}).values():
                _schema(response.get("schema"))
                for header in (response.get("headers") or {}).values():
                    _simple(header)


def _schema(node: Any) -> None:
    if not isinstance(node, dict):
        return
    _restrict(node)
    for sub in (node.get("properties") or {}).values():
        _schema(sub)
    for key in ("items", "additionalProperties"):
        _schema(node.get(key))
    for sub in node.get("allOf") or []:
        _schema(sub)


def _simple(node: Any) -> None:
    """A non-body parameter or a header, and its items."""
    while isinstance(node, dict):
        _restrict(node)
        node = node.get("items")


def _restrict(node: dict[str, Any]) -> None:
    given = node.get("format")
    if not isinstance(given, str) or given in CONNECTOR_FORMATS:
        return
    if node.get("type") == "integer" and given in _WIDER:
        node["format"] = _WIDER[given]
        return
    del node["format"]
    said = _SAID.get(given)
    if said is None:
        return  # a format no one outside its author knows: nothing to tell
    sentence = said[0].upper() + said[1:] + "."
    text = str(node.get("description") or "").strip()
    if not text:
        node["description"] = sentence
    elif said not in text.lower():
        node["description"] = f"{text if text.endswith(('.', '!', '?')) else text + '.'} {sentence}"
