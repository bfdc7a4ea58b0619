"""App: a consumer, usually a low-code application, with credentials and access."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from isthmus.model.base import Name, Ref, Resource, Spec
from isthmus.model.registry import register_kind


class AppSpec(Spec):
    platform: str | None = Field(
        default=None, description="What it is built with: 'Power Apps', 'Retool', 'n8n' …"
    )
    apis: list[Annotated[Name, Ref("Api")]] = Field(
        default_factory=list, description="The Apis this App may call."
    )
    plan: Annotated[Name, Ref("Plan")] | None = Field(
        default=None, description="Its rate-limit and quota tier."
    )


@register_kind
class App(Resource):
    kind: Literal["App"] = "App"
    spec: AppSpec = Field(default_factory=AppSpec)
