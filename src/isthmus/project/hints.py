"""Error messages and hints for pydantic errors, in the words of a project author."""

from __future__ import annotations

import difflib
from typing import Any, get_args

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from isthmus.model.base import NAME_PATTERN, SECRET_PATTERN

SECRET_HINT = (
    "store the value with 'isthmus secret set NAME' and write 'secret://NAME' here; "
    "literal credentials never go into resources"
)
LITERAL_SECRET = "a literal secret where a secret:// reference belongs"


def message_for(error: ErrorDetails | dict[str, Any]) -> str:
    """The error in a project author's words, never repeating the value given: it may
    be a secret typed into the wrong field (the location points at it anyway)."""
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if _secret_pattern(error):
        value = error.get("input")
        if isinstance(value, str) and value.startswith("secret://"):
            return "not a valid secret reference"
        return LITERAL_SECRET
    if error["type"] == "missing":
        return "required field is missing"
    if error["type"] == "union_tag_invalid":
        expected = (error.get("ctx") or {}).get("expected_tags", "")
        return f"unknown 'type'; expected one of {expected}"
    message = str(error["msg"])
    given = error.get("input")
    if isinstance(given, str | int | float) and not isinstance(given, bool) and str(given):
        message = message.replace(f"'{given}'", "the value given").replace(str(given), "…")
    return message


def hint_for(cls: type[BaseModel], error: ErrorDetails) -> str | None:
    kind, loc = error["type"], tuple(error["loc"])
    if kind == "string_pattern_mismatch":
        pattern = str((error.get("ctx") or {}).get("pattern", ""))
        if _secret_pattern(error):
            value = error.get("input")
            if isinstance(value, str) and value.startswith("secret://"):
                return "secret names use lower-case letters, digits, '.', '_', '-' and '/'"
            return SECRET_HINT
        if pattern == NAME_PATTERN:
            return "names use lower-case letters, digits and '-' (e.g. 'billing-db')"
    if loc == ("metadata", "environment"):
        if kind == "missing":
            return "add metadata.environment: sandbox (or production)"
        if kind == "extra_forbidden":
            return "only per-Environment kinds (Connection) have one; remove it"
    if loc == ("metadata", "owner") and kind == "missing":
        return "add metadata.owner: the team accountable for it"
    if kind == "extra_forbidden" and loc:
        allowed = _fields_at(cls, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        if close:
            return f"did you mean '{close[0]}'?"
        if allowed:
            return f"allowed here: {', '.join(allowed)}"
    if kind == "missing" and loc:
        return f"add '{loc[-1]}'"
    return None


def _fields_at(cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names (YAML spelling) the model accepts at ``loc``, if it can be told."""
    current: Any = cls
    for step in loc:
        if isinstance(step, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        tag = current.model_fields.get("type")
        if tag is not None and step in get_args(tag.annotation):
            continue  # the union tag pydantic adds, even where a field shares its name
        by_alias = {(f.alias or n): f for n, f in current.model_fields.items()}
        info = by_alias.get(str(step))
        if info is None:
            continue  # a union tag such as 'proxy'
        current = _model_in(info.annotation, str(step), loc)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [(f.alias or n) for n, f in current.model_fields.items()]
    return []


def _model_in(annotation: Any, step: str, loc: tuple[Any, ...]) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    models = [a for a in _flatten(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    for model in models:  # a tagged union: pick the member whose tag is in the path
        tag = model.model_fields.get("type")
        if tag is not None and set(get_args(tag.annotation)) & {str(s) for s in loc}:
            return model
    return models[0] if len(models) == 1 else None


def _flatten(annotation: Any) -> list[Any]:
    args = get_args(annotation)
    if not args:
        return [annotation]
    return [leaf for arg in args for leaf in _flatten(arg)]


def _secret_pattern(error: ErrorDetails | dict[str, Any]) -> bool:
    pattern = str((error.get("ctx") or {}).get("pattern", ""))
    return error["type"] == "string_pattern_mismatch" and pattern == SECRET_PATTERN
