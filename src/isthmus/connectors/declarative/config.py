"""A Connection's config for a declarative connector: the spec (for the generic
``declarative`` type; prebuilt types bring their own), the values the spec asks for, and
the client's limits."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field, model_validator

from isthmus.connectors.base import ConnectorConfig, SecretResolver
from isthmus.connectors.declarative.spec import DeclarativeSpec
from isthmus.errors import ConfigurationError
from isthmus.model.base import SECRET_PATTERN

_SECRET = re.compile(SECRET_PATTERN)
Value = str | int | bool


class DeclarativeConfig(ConnectorConfig):
    bound_spec: ClassVar[DeclarativeSpec | None] = None  # a pre-built type's own spec

    spec: DeclarativeSpec | None = Field(
        default=None,
        description="The API's spec, inline or included from a file ('spec: crm.yaml' in a "
        "project). Prebuilt connector types bring their own.",
    )
    values: dict[str, Value] = Field(
        default_factory=dict, description="The values the spec declares under 'config'."
    )
    base_url: str | None = Field(
        default=None, description="Overrides the spec's base URL for this Connection."
    )
    allow_private_network: bool = False
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    read_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    max_connections: int = Field(default=20, ge=1, le=1000)
    max_response_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)

    @model_validator(mode="after")
    def _values_fit_the_spec(self) -> DeclarativeConfig:
        spec = self.spec or self.bound_spec
        if spec is not None:
            problems = value_problems(spec, self.values)
            if problems:
                raise ValueError("; ".join(problems))
        return self


def value_problems(spec: DeclarativeSpec, values: dict[str, Value]) -> list[str]:
    problems = [
        f"'{name}' is not a value the spec declares" for name in values if name not in spec.config
    ]
    for name, declared in spec.config.items():
        value = values.get(name, declared.default)
        if value is None:
            if declared.required:
                problems.append(f"'{name}' is required ({declared.description or declared.type})")
            continue
        if declared.type == "secret" and not (isinstance(value, str) and _SECRET.match(value)):
            problems.append(f"'{name}' must be a secret:// reference, not the secret itself")
        elif declared.type == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(f"'{name}' must be an integer")
        elif declared.type == "boolean" and not isinstance(value, bool):
            problems.append(f"'{name}' must be true or false")
    return problems


async def resolve_values(
    spec: DeclarativeSpec, values: dict[str, Value], secrets: SecretResolver
) -> dict[str, str]:
    """Every declared value as text, secrets read from the vault."""
    problems = value_problems(spec, values)
    if problems:
        raise ConfigurationError(
            "The Connection's values do not fit the spec: " + "; ".join(problems)
        )
    resolved: dict[str, str] = {}
    for name, declared in spec.config.items():
        value = values.get(name, declared.default)
        if value is None:
            continue
        if declared.type == "secret":
            resolved[name] = await secrets.resolve(str(value))
        elif isinstance(value, bool):
            resolved[name] = "true" if value else "false"
        else:
            resolved[name] = str(value)
    return resolved
