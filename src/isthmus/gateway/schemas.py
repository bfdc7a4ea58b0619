"""One JSON Schema as the gateway checks it: decided fast, explained in the hub's words.

jsonschema-rs decides whether a value is valid, at about a tenth of jsonschema's cost
per value (it runs for every parameter and body of every request; docs/benchmarks.md).
Only a value it refuses is walked again by jsonschema, whose errors carry the keyword
and the schema's value there, from which the problem messages are made. A schema that
jsonschema-rs cannot compile (a regex its engine lacks) is checked by jsonschema alone.
"""

from __future__ import annotations

import re
from typing import Any, cast

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

Problem = dict[str, str]  # {"pointer": JSON pointer into the request, "message": …}

_MESSAGES = {
    "type": "must be of type {}",
    "enum": "must be one of {}",
    "const": "must be {!r}",
    "minimum": "must be at least {}",
    "maximum": "must be at most {}",
    "exclusiveMinimum": "must be more than {}",
    "exclusiveMaximum": "must be less than {}",
    "minLength": "must have at least {} characters",
    "maxLength": "must have at most {} characters",
    "pattern": "must match the pattern {}",
    "format": "must be a valid {}",
    "minItems": "must have at least {} items",
    "maxItems": "must have at most {} items",
    "additionalProperties": "has properties the schema does not allow",
    "uniqueItems": "must not repeat items",
}


def pointer(*steps: object) -> str:
    return "/" + "/".join(str(s).replace("~", "~0").replace("/", "~1") for s in steps)


def _message(error: ValidationError) -> str:
    """What to send instead, from the schema: never the value sent, which may be a
    secret in the wrong field."""
    keyword, expected = str(error.validator), error.validator_value
    if keyword == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        missing = [name for name in cast(list[str], expected) if name not in present]
        return f"is missing the required properties {missing}"
    template = _MESSAGES.get(keyword)
    return template.format(expected) if template else f"does not satisfy '{keyword}'"


class SchemaCheck:
    __slots__ = ("_decide", "_explain")

    def __init__(self, schema: dict[str, Any], documents: OpenApiDocument | None = None) -> None:
        """``schema``, or a ``$ref`` into ``documents`` when given. Nothing is ever
        fetched: a ``$ref`` resolves inside the schema or the document, or not at all."""
        if documents is None:
            self._explain = Draft202012Validator(schema)
        else:
            self._explain = Draft202012Validator(schema, registry=documents.registry)
        try:
            self._decide: Any = jsonschema_rs.Draft202012Validator(
                schema,
                registry=documents.fast_registry if documents is not None else None,
                validate_formats=False,  # formats annotate in 2020-12, as in jsonschema
                offline=True,
            )
        except (ValueError, jsonschema_rs.ReferencingError):  # ValidationError is a ValueError
            self._decide = None

    def problems(self, value: Any, *at: object) -> list[Problem]:
        """Every violation by ``value``, each pointing below ``at``; empty if valid."""
        if self._decide is not None and self._decide.is_valid(value):
            return []
        try:
            found = [
                {"pointer": pointer(*at, *error.absolute_path), "message": _message(error)}
                for error in self._explain.iter_errors(value)
            ]
        except re.error:  # a pattern only ECMA-262 knows, such as \p{Lu}
            found = []
        if not found and self._decide is not None:  # the two disagree: the fast one rules
            found = [
                {
                    "pointer": pointer(*at, *error.instance_path),
                    "message": f"does not satisfy '{error.schema_path[-1]}'",
                }
                for error in self._decide.iter_errors(value)
            ]
        # jsonschema reports a 'required' miss once per missing name; say it once
        return list({(p["pointer"], p["message"]): p for p in found}.values())


class OpenApiDocument:
    """An imported OpenAPI document in both validators' registries, at ``uri``, so
    checks can be ``$ref``s into it (circular ones too)."""

    def __init__(self, uri: str, document: dict[str, Any]) -> None:
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(uri, resource)
        self.fast_registry = jsonschema_rs.Registry([(uri, document)])
