"""Api: a versioned contract published through the gateway.

Each version lists routes; each route binds an HTTP method and path template to a
target. Targets are a discriminated union on ``type`` so later patterns add their own
(a View, a Flow, an event publish) as new members without touching the gateway core.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from isthmus.model.base import Name, Ref, Resource, Spec
from isthmus.model.registry import register_kind

PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SEGMENT = r"([A-Za-z0-9._~\-]+|\{[A-Za-z_][A-Za-z0-9_]*\})"
PATH_PATTERN = rf"^/{_SEGMENT}?(/{_SEGMENT})*$"

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
VersionName = Annotated[str, Field(pattern=r"^v[0-9]+(\.[0-9]+)?$")]


def path_params(template: str) -> list[str]:
    return PATH_PARAM.findall(template)


class ProxyTarget(Spec):
    """Forward the request to a REST Connection, path parameters substituted."""

    type: Literal["proxy"]
    connection: Annotated[Name, Ref("Connection")]
    path: str | None = Field(
        default=None,
        pattern=PATH_PATTERN,
        description="Path on the backend, '{param}' filled from the route; default: the route's.",
    )
    forward_query: bool = Field(default=True, description="Pass the query string through.")


class OperationTarget(Spec):
    """Call a connector operation; its input is the path parameters, query and JSON body."""

    type: Literal["operation"]
    connection: Annotated[Name, Ref("Connection")]
    operation: str = Field(min_length=1)


Target = Annotated[ProxyTarget | OperationTarget, Field(discriminator="type")]


class Route(Spec):
    method: Method = "GET"
    path: str = Field(pattern=PATH_PATTERN, description="Template such as '/customers/{id}'.")
    summary: str | None = None
    target: Target

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _params_known(self) -> Route:
        if isinstance(self.target, ProxyTarget) and self.target.path:
            unknown = set(path_params(self.target.path)) - set(path_params(self.path))
            if unknown:
                raise ValueError(
                    f"target path uses {sorted(unknown)} which the route path "
                    f"'{self.path}' does not capture"
                )
        return self


class ApiVersion(Spec):
    name: VersionName
    status: Literal["draft", "published", "deprecated", "retired"] = "published"
    routes: list[Route] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_routes(self) -> ApiVersion:
        seen: set[tuple[str, str]] = set()
        for route in self.routes:
            shape = (route.method, PATH_PARAM.sub("{}", route.path))
            if shape in seen:
                raise ValueError(f"two routes answer {route.method} {route.path}")
            seen.add(shape)
        return self


class ApiSpec(Spec):
    title: str | None = None
    versions: list[ApiVersion] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_versions(self) -> ApiSpec:
        names = [v.name for v in self.versions]
        if len(names) != len(set(names)):
            raise ValueError("version names must be unique")
        return self


@register_kind
class Api(Resource):
    kind: Literal["Api"] = "Api"
    spec: ApiSpec
