"""An Api's CORS setting: which browser origins may call it through the gateway.

Low-code platforms mostly call the gateway from their servers, where CORS plays no part;
a page running in a browser (a Retool or Appsmith app calling the Api directly, an
internal single-page app) needs the gateway to say its origin may read the answers.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from isthmus.model.base import Spec

MAX_ORIGIN_LENGTH = 300  # scheme, host name (at most 253) and port
# An origin as browsers send it (RFC 6454): scheme, host and optional port; nothing else.
ORIGIN_PATTERN = r"^https?://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$"
HEADER_PATTERN = r"^[A-Za-z0-9-]{1,64}$"
# What browser code sends to the gateway besides the CORS-safelisted headers.
DEFAULT_ALLOW_HEADERS = ["X-Api-Key", "Authorization", "Content-Type", "X-Request-Id"]

Origin = Annotated[
    str,
    StringConstraints(pattern=ORIGIN_PATTERN, max_length=MAX_ORIGIN_LENGTH),
    Field(description="An origin as a browser sends it, e.g. 'https://apps.example.com'."),
]
HeaderName = Annotated[str, StringConstraints(pattern=HEADER_PATTERN)]


class Cors(Spec):
    """Browser origins allowed to call the Api, and what their preflights are told."""

    allow_origins: list[Origin] = Field(
        min_length=1,
        max_length=100,
        description="Origins whose pages may call the Api from a browser, exactly as the "
        "browser sends them (scheme, host, port; no path, no wildcard).",
    )
    allow_headers: list[HeaderName] = Field(
        default_factory=lambda: list(DEFAULT_ALLOW_HEADERS),
        max_length=50,
        description="Request headers a page may send (answered to preflights).",
    )
    max_age_seconds: int = Field(
        default=600,
        ge=0,
        le=86400,
        description="How long a browser may keep a preflight's answer.",
    )

    @field_validator("allow_origins")
    @classmethod
    def _default_ports_left_out(cls, origins: list[str]) -> list[str]:
        # a browser never sends a scheme's default port, so such an origin never matches
        default_port = {"https": ":443", "http": ":80"}
        for origin in origins:
            if origin.endswith(default_port[origin.partition(":")[0]]):
                raise ValueError(f"{origin}: leave out the scheme's default port")
        return origins
