"""Schema evolution for EventTypes: which changes between two JSON Schemas break whom.

``incompatibilities(reader, writer)`` lists, field by field, why an event valid under
``writer`` might be refused by ``reader``. The compatibility modes read it both ways:

* BACKWARD — consumers on the new version read events written with the old one
  (reader = new, writer = old): adding an optional field is fine, a new required field
  or a narrowed type is not;
* FORWARD — consumers still on the old version read events written with the new one
  (reader = old, writer = new): removing a field the old version required breaks them;
* FULL — both; the ``_TRANSITIVE`` forms check against every earlier version, the
  others against the one before; NONE checks nothing.

It understands the parts of JSON Schema event contracts use: ``type`` (``integer``
within ``number``, ``null`` for optional values), ``enum``/``const``, ``properties``,
``required``, ``additionalProperties``, ``items``, string, number and array bounds,
``pattern``, ``format`` and ``anyOf``/``oneOf``. Properties a version does not declare
are taken as absent from its events. Anything else that differs is reported as a
change it cannot judge, never passed in silence.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal

Mode = Literal[
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
]
_UNDERSTOOD = frozenset(
    {
        "type", "enum", "const", "properties", "required", "additionalProperties", "items",
        "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "minItems", "maxItems", "pattern", "format", "anyOf", "oneOf",
        # words that describe and never refuse
        "title", "description", "examples", "default", "deprecated", "$comment", "$schema",
        "readOnly", "writeOnly", "$id",
    }
)  # fmt: skip
_LOWER = ("minLength", "minimum", "exclusiveMinimum", "minItems")  # raising one narrows
_UPPER = ("maxLength", "maximum", "exclusiveMaximum", "maxItems")  # lowering one narrows


def incompatibilities(
    reader: Any, writer: Any, names: tuple[str, str] = ("the reader", "the writer")
) -> list[str]:
    """Why an instance valid under ``writer`` may be invalid under ``reader``; ``names``
    say what to call them in the reasons (``("v2", "v1")``)."""
    r, w = names
    return [reason.format(R=r, W=w) for reason in _walk(reader, writer, "/")]


def _walk(reader: Any, writer: Any, at: str) -> Iterator[str]:
    if reader is True or reader == {} or writer is False:
        return
    if reader is False:
        yield f"{at}: {{R}} refuses every value"
        return
    if writer is True or not isinstance(writer, dict):
        writer = {}
    for union in ("anyOf", "oneOf"):
        if union in writer:  # each thing the writer may write must still be read
            for branch in writer[union]:
                yield from _walk(reader, _merged(_without(writer, union), branch), at)
            return
    for union in ("anyOf", "oneOf"):
        if union in reader:
            rest = _without(reader, union)
            if all(list(_walk(_merged(rest, option), writer, at)) for option in reader[union]):
                yield f"{at}: matches none of {{R}}'s alternatives ({union})"
            return
    yield from _types(reader, writer, at)
    yield from _values(reader, writer, at)
    yield from _bounds(reader, writer, at)
    yield from _objects(reader, writer, at)
    if "items" in reader:
        yield from _walk(reader["items"], writer.get("items", {}), f"{at.rstrip('/')}/[]")
    unknown = sorted(
        k
        for k in set(reader) | set(writer)
        if k not in _UNDERSTOOD and reader.get(k) != writer.get(k)
    )
    for word in unknown:
        yield f"{at}: '{word}' differs between {{W}} and {{R}}, which this check cannot judge"


def _merged(base: dict[str, Any], branch: Any) -> dict[str, Any]:
    """A branch of an alternative together with what its schema says beside it: both
    apply, so required fields add up and properties combine."""
    if not isinstance(branch, dict):
        return base
    merged = {**base, **branch}
    if "required" in base and "required" in branch:
        merged["required"] = list(dict.fromkeys([*base["required"], *branch["required"]]))
    if "properties" in base and "properties" in branch:
        merged["properties"] = {**base["properties"], **branch["properties"]}
    return merged


def _without(schema: dict[str, Any], word: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != word}


def _type_set(schema: dict[str, Any]) -> set[str] | None:
    declared = schema.get("type")
    if declared is None:
        return None
    return {declared} if isinstance(declared, str) else set(declared)


def _types(reader: dict[str, Any], writer: dict[str, Any], at: str) -> Iterator[str]:
    read, written = _type_set(reader), _type_set(writer)
    if read is None:
        return
    if written is None:
        yield f"{at}: {{R}} accepts only {_names(read)}; {{W}} allows any value"
        return
    lost = {t for t in written if t not in read and not (t == "integer" and "number" in read)}
    if lost:
        sent = _names(written)
        yield f"{at}: type narrowed: {{R}} accepts only {_names(read)}, {{W}} sends {sent}"


def _names(types: set[str]) -> str:
    return " or ".join(sorted(types))


def _values(reader: dict[str, Any], writer: dict[str, Any], at: str) -> Iterator[str]:
    allowed = [reader["const"]] if "const" in reader else reader.get("enum")
    if allowed is None:
        return
    written = [writer["const"]] if "const" in writer else writer.get("enum")
    if written is None:
        yield f"{at}: {{R}} accepts only {allowed!r}; {{W}} allows any value"
        return
    removed = [v for v in written if v not in allowed]
    if removed:
        yield f"{at}: {{R}} no longer accepts {', '.join(repr(v) for v in removed)}"


def _bounds(reader: dict[str, Any], writer: dict[str, Any], at: str) -> Iterator[str]:
    for word in _LOWER:
        if word in reader and (word not in writer or reader[word] > writer[word]):
            yield f"{at}: {{R}} has {word} {reader[word]}, {{W}} {writer.get(word, 'none')}"
    for word in _UPPER:
        if word in reader and (word not in writer or reader[word] < writer[word]):
            yield f"{at}: {{R}} has {word} {reader[word]}, {{W}} {writer.get(word, 'none')}"
    for word in ("pattern", "format"):
        if word in reader and reader[word] != writer.get(word):
            yield f"{at}: {{R}} requires {word} {reader[word]!r}"


def _objects(reader: dict[str, Any], writer: dict[str, Any], at: str) -> Iterator[str]:
    base = at.rstrip("/")
    read_props = reader.get("properties", {})
    written_props = writer.get("properties", {})
    for name in reader.get("required", []):
        if name not in writer.get("required", []):
            yield f"{base}/{name}: required field: {{R}} requires it, events of {{W}} may lack it"
    for name, schema in read_props.items():
        if name in written_props:
            yield from _walk(schema, written_props[name], f"{base}/{name}")
    if reader.get("additionalProperties") is False:
        for name in written_props:
            if name not in read_props:
                yield f"{base}/{name}: {{R}} refuses it (no other fields allowed), {{W}} sends it"
        if writer.get("additionalProperties", True) is not False:
            yield f"{at}: {{R}} refuses fields it does not declare, {{W}} allows them"
    elif isinstance(reader.get("additionalProperties"), dict):
        for name, schema in written_props.items():
            if name not in read_props:
                yield from _walk(reader["additionalProperties"], schema, f"{base}/{name}")


def breaking_changes(
    mode: Mode, earlier: Sequence[tuple[int, dict[str, Any]]], new: tuple[int, dict[str, Any]]
) -> list[str]:
    """What makes version ``new`` incompatible with the ``earlier`` ones (oldest first),
    as (version, schema) pairs."""
    if mode == "NONE" or not earlier:
        return []
    compared = list(earlier) if mode.endswith("_TRANSITIVE") else [earlier[-1]]
    number, schema = new
    found: list[str] = []
    for old, before in compared:
        names = (f"v{number}", f"v{old}")
        if mode.startswith(("BACKWARD", "FULL")):  # v{new} consumers read v{old} events
            found += [f"{p} (BACKWARD)" for p in incompatibilities(schema, before, names)]
        if mode.startswith(("FORWARD", "FULL")):  # v{old} consumers read v{new} events
            reversed_names = (f"v{old}", f"v{number}")
            found += [f"{p} (FORWARD)" for p in incompatibilities(before, schema, reversed_names)]
    return list(dict.fromkeys(found))
