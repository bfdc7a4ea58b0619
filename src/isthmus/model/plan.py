"""Plan: a rate-limit and quota tier that Apps subscribe to."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from isthmus.model.base import Resource, Spec
from isthmus.model.registry import register_kind


class RateLimit(Spec):
    requests: int = Field(gt=0, description="Requests admitted per period.")
    period_seconds: int = Field(default=1, gt=0)
    burst: int | None = Field(default=None, gt=0, description="Extra requests allowed at once.")


class PlanSpec(Spec):
    rate: RateLimit | None = Field(default=None, description="Sustained request rate per App.")
    daily_quota: int | None = Field(default=None, gt=0, description="Requests per App per UTC day.")


@register_kind
class Plan(Resource):
    kind: Literal["Plan"] = "Plan"
    spec: PlanSpec = Field(default_factory=PlanSpec)
