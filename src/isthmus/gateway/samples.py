"""A sample value for a JSON Schema: what the sandbox's mock answers when a route has no
example of its own.

The same schema always gives the same sample, so what the portal's examples show is what
the sandbox answers. (jsf and similar fakers make random data through Faker: fine for
load tests, confusing in a sandbox a maker compares with the docs.) Values honour what
response validation checks: types, enums, consts, formats, patterns (a first matching
string from exrex), lengths and bounds.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import exrex

_MAX_DEPTH = 8
_FORMATS = {
    "date-time": "2026-01-15T09:30:00Z",
    "date": "2026-01-15",
    "time": "09:30:00Z",
    "email": "ada@example.com",
    "uuid": "3f1c2b9e-5d7a-4e8b-9c0d-1a2b3c4d5e6f",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "192.0.2.10",
    "ipv6": "2001:db8::10",
}


def sample(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A value ``schema`` accepts (``root`` resolves local ``$ref``s)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    if "$ref" in schema:
        return sample(_resolve(root, str(schema["$ref"])), root, depth + 1)
    for given in ("const", "example", "default"):
        if given in schema:
            return schema[given]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = sample(part, root, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    for choice in ("oneOf", "anyOf"):
        options = schema.get(choice)
        if isinstance(options, list) and options:
            # a value says more than null: the first branch that is not only null
            real = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            return sample((real or options)[0], root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    return _typed(str(kind), schema, root, depth)


def _typed(kind: str, schema: dict[str, Any], root: Any, depth: int) -> Any:
    if kind == "object":
        properties = schema.get("properties") or {}
        out = {name: sample(part, root, depth + 1) for name, part in properties.items()}
        extra = schema.get("additionalProperties")
        for name in schema.get("required") or []:
            if name not in out:  # required, but not described: what additional ones are
                out[name] = sample(extra if isinstance(extra, dict) else {}, root, depth + 1)
        return out
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        count = min(count, int(schema.get("maxItems", count)))
        items = [sample(schema.get("items", {}), root, depth + 1) for _ in range(count)]
        return _distinct(items) if schema.get("uniqueItems") else items
    if kind == "integer":
        return int(_number(schema, 1))
    if kind == "number":
        return float(_number(schema, 1.5))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema)


def _number(schema: dict[str, Any], fallback: float) -> float:
    low, high = schema.get("minimum"), schema.get("maximum")
    if isinstance(schema.get("exclusiveMinimum"), int | float):
        low = schema["exclusiveMinimum"] + 1
    if isinstance(schema.get("exclusiveMaximum"), int | float):
        high = schema["exclusiveMaximum"] - 1
    value = low if low is not None else fallback
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and step > 0:
        value = math.ceil(value / step) * step
    if high is not None and value > high:
        value = high
    return float(value)


def _distinct(items: list[Any]) -> list[Any]:
    """Items made different from each other the least visible way (uniqueItems)."""
    out: list[Any] = []
    for index, item in enumerate(items):
        if item in out and isinstance(item, str):
            item = f"{item}{index}"
        elif item in out and isinstance(item, int | float) and not isinstance(item, bool):
            item = item + index
        out.append(item)
    return out


def _string(schema: dict[str, Any]) -> str:
    shortest, longest = int(schema.get("minLength", 0)), schema.get("maxLength")
    if "pattern" in schema:
        fits = (
            t for t in itertools.islice(exrex.generate(schema["pattern"], limit=64), 4096)
            if len(t) >= shortest and (not isinstance(longest, int) or len(t) <= longest)
        )  # fmt: skip
        found = next(fits, None)
        if found is not None:
            return str(found)
        text = ""
    else:
        text = _FORMATS.get(str(schema.get("format", "")), "text")
    text = text.ljust(shortest, "x")
    return text[:longest] if isinstance(longest, int) else text


def _resolve(root: Any, reference: str) -> Any:
    if not reference.startswith("#"):
        return {}
    node = root
    for step in reference[1:].strip("/").split("/"):
        if not step:
            continue
        key = step.replace("~1", "/").replace("~0", "~")
        node = node.get(key) if isinstance(node, dict) else None
    return node
