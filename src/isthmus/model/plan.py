"""Plan: a rate-limit and quota tier that Apps subscribe to."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from isthmus.model.base import Resource, Spec
from isthmus.model.registry import register_kind

# Far above any real Plan (a trillion requests), and what bounds the RateLimit headers
# the gateway sends: their numbers never have more digits than this one.
MAX_QUOTA = 1_000_000_000_000


class RateLimit(Spec):
    requests: int = Field(
        gt=0, le=MAX_QUOTA, description="Requests admitted in any period (moving window)."
    )
    period_seconds: int = Field(default=1, gt=0, le=86400)
    burst: int | None = Field(
        default=None,
        gt=0,
        le=MAX_QUOTA,
        description="At most this many in any one second, for periods longer than a second.",
    )

    @model_validator(mode="after")
    def _burst_fits(self) -> RateLimit:
        if self.burst is not None:
            if self.period_seconds == 1:
                raise ValueError(
                    "burst caps requests per second; with periodSeconds 1 use requests"
                )
            if self.burst > self.requests:
                raise ValueError("burst cannot exceed requests")
        return self


class PlanSpec(Spec):
    rate: RateLimit | None = Field(default=None, description="Sustained request rate per App.")
    daily_quota: int | None = Field(
        default=None, gt=0, le=MAX_QUOTA, description="Requests per App per UTC day."
    )


@register_kind
class Plan(Resource):
    kind: Literal["Plan"] = "Plan"
    spec: PlanSpec = Field(default_factory=PlanSpec)
