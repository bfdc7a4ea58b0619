"""The registry of resource kinds. Kinds add themselves; nothing else lists them."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from isthmus.model.base import Resource, ScopedMetadata

R = TypeVar("R", bound=type[Resource])

_KINDS: dict[str, type[Resource]] = {}


def register_kind(cls: R) -> R:
    """Class decorator: make a kind known to the loader, the store, the admin API and docs."""
    model: type[Resource] = cls
    kind = model.model_fields["kind"].default
    if not isinstance(kind, str):
        raise TypeError(f"{cls.__name__}.kind needs a default naming the kind")
    metadata = model.model_fields["metadata"].annotation
    cls.environment_scoped = isinstance(metadata, type) and issubclass(metadata, ScopedMetadata)
    _KINDS[kind] = cls
    if not cls.plural:
        cls.plural = kind.lower() + "s"
    return cls


def kinds() -> dict[str, type[Resource]]:
    """All registered kinds, by name. Importing :mod:`isthmus.model` registers the built-ins."""
    return dict(_KINDS)


def kind_of(name: str) -> type[Resource] | None:
    return _KINDS.get(name)


def kind_by_plural(plural: str) -> type[Resource] | None:
    return next((cls for cls in _KINDS.values() if cls.plural == plural), None)


def json_schemas() -> dict[str, Any]:
    """The JSON Schema of every kind, keyed by kind (for editors and docs)."""
    return {
        kind: TypeAdapter(cls).json_schema(by_alias=True, mode="validation")
        for kind, cls in sorted(_KINDS.items())
    }


def json_schema_document() -> dict[str, Any]:
    """One JSON Schema that accepts any resource, for YAML editors (yaml-language-server)."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (cls, "validation") for _, cls in sorted(_KINDS.items())
    ]
    refs, top = models_json_schema(models, by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Isthmus resource",
        "oneOf": [refs[model] for model in models],
        **top,
    }
