"""The resource envelope shared by every kind: ``kind``, ``metadata``, ``spec``.

A kind is a pydantic model registered with :func:`register_kind`; the registry is the
only place that knows all kinds, so a new kind is one new module and nothing else.
YAML uses camelCase field names (``baseUrl``), Python uses snake_case.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

API_VERSION = "isthmus.dev/v1"

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
Name = Annotated[
    str,
    StringConstraints(pattern=NAME_PATTERN),
    Field(description="Lower-case letters, digits and '-', at most 63 characters."),
]

SECRET_PATTERN = r"^secret://[a-z0-9]([a-z0-9._/-]{0,126}[a-z0-9])?$"
SecretRef = Annotated[
    str,
    StringConstraints(pattern=SECRET_PATTERN),
    Field(
        description="A reference to a secret in the vault, 'secret://NAME'. Literal secrets "
        "are refused: store the value with 'isthmus secret set NAME'.",
        json_schema_extra={"format": "secret-ref"},
    ),
]


@dataclass(frozen=True)
class Ref:
    """Marks a string field as naming another resource of ``kind``."""

    kind: str


class Spec(BaseModel):
    """Base of every ``spec`` and nested part: camelCase in YAML, unknown fields refused,
    and no type coercion (strict), so ``requests: "10"`` or ``burst: true`` is an error
    rather than a silent guess."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, strict=True
    )


Lifecycle = Literal["experimental", "production", "deprecated"]
TAG_PATTERN = r"^[a-z0-9][a-z0-9+#-]{0,62}$"  # Backstage's tag rule, so exports stay valid


class Metadata(Spec):
    name: Name
    owner: str | None = Field(default=None, description="Team or person accountable for it.")
    description: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    tags: list[Annotated[str, StringConstraints(pattern=TAG_PATTERN)]] = Field(
        default_factory=list,
        description="Words the catalog finds it by: lower-case letters, digits, '-', '+', '#'.",
    )
    lifecycle: Lifecycle | None = Field(
        default=None,
        description="Where it stands: experimental, production or deprecated (the catalog "
        "filters by it).",
    )
    docs: str | None = Field(
        default=None,
        max_length=100_000,
        description="Documentation in Markdown, shown on its page in the developer portal.",
    )


class OwnedMetadata(Metadata):
    """Metadata of kinds that must name who is accountable (a System)."""

    owner: str = Field(min_length=1, description="Team or person accountable for it.")


class ScopedMetadata(Metadata):
    """Metadata of per-Environment kinds (a Connection): the Environment is part of the
    identity, so the same name is declared once per Environment."""

    environment: Name = Field(description="The Environment it serves: 'sandbox', 'production' …")


class Resource(Spec):
    """A declared resource. Subclasses set ``kind`` (a Literal) and ``spec``."""

    api_version: Literal["isthmus.dev/v1"] = Field(default="isthmus.dev/v1", alias="apiVersion")
    kind: str
    metadata: Metadata
    spec: Any

    # Set by the registry from the metadata model: is metadata.environment part of the key?
    environment_scoped: ClassVar[bool] = False
    plural: ClassVar[str] = ""
    name_pattern: ClassVar[str] = NAME_PATTERN  # a kind whose names are identifiers differs

    @property
    def environment(self) -> str | None:
        return getattr(self.metadata, "environment", None)

    @property
    def key(self) -> ResourceKey:
        return ResourceKey(self.kind, self.metadata.name, self.environment)

    def named(self) -> Iterator[Reference]:
        """Every other resource this one names (kinds with names outside fields, such as
        a View's SQL, add theirs)."""
        return references(self)

    def canonical(self) -> dict[str, Any]:
        """The resource as plain JSON data, defaults omitted: what is stored and exported."""
        body = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        return {"apiVersion": API_VERSION, "kind": self.kind, **body}


@dataclass(frozen=True, order=True)
class ResourceKey:
    """Identity of a resource: kind, name and (for scoped kinds) environment."""

    kind: str
    name: str
    environment: str | None = None

    def __str__(self) -> str:
        env = f"@{self.environment}" if self.environment else ""
        return f"{self.kind}/{self.name}{env}"


@dataclass(frozen=True)
class Reference:
    """One field of a resource that names another resource."""

    path: tuple[str | int, ...]
    kind: str
    name: str


def _ref_in(annotation: Any, metadata: list[Any]) -> Ref | None:
    for item in metadata:
        if isinstance(item, Ref):
            return item
    if get_origin(annotation) is Annotated:
        args = get_args(annotation)
        return _ref_in(args[0], list(args[1:]))
    if get_origin(annotation) in (Union, UnionType):  # Optional[Annotated[str, Ref(...)]]
        found = (_ref_in(arg, []) for arg in get_args(annotation))
        return next((ref for ref in found if ref is not None), None)
    return None


def _element_annotation(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    return args[0] if args else None


def references(model: BaseModel, path: tuple[str | int, ...] = ()) -> Iterator[Reference]:
    """Every :class:`Ref`-annotated value inside ``model``, with its YAML path."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if value is None:
            continue
        here = (*path, info.alias or name)
        ref = _ref_in(info.annotation, list(info.metadata))
        if isinstance(value, BaseModel):
            yield from references(value, here)
        elif isinstance(value, list | tuple):
            inner = _ref_in(_element_annotation(info.annotation), [])
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from references(item, (*here, index))
                elif inner and isinstance(item, str):
                    yield Reference((*here, index), inner.kind, item)
        elif ref and isinstance(value, str):
            yield Reference(here, ref.kind, value)
