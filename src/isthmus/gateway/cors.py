"""CORS for the Apis that set ``spec.cors``: browser pages of the allowed origins may call them.

A browser asks first (a preflight: ``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``, and never with the page's credentials), so preflights
are answered here, before authentication — but only for an allowed origin; any other is
refused with a problem. Every other answer on such an Api's paths, problems included,
says ``Vary: Origin`` and, when the request's ``Origin`` is allowed, names that origin in
``Access-Control-Allow-Origin`` and exposes the headers a page needs to read (RateLimit,
Retry-After, X-Request-Id, the lifecycle headers). Answers never name another origin,
never ``*``, and never allow credentials: the gateway takes keys and tokens in headers,
not cookies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from isthmus.errors import Forbidden
from isthmus.gateway.http import GatewayRequest, GatewayResponse, Headers
from isthmus.model.cors import Cors

# What a preflight may ask for: the methods routes take (the route still decides).
METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE"
EXPOSED = b"RateLimit, RateLimit-Policy, Retry-After, X-Request-Id, Deprecation, Sunset, Link"
_PREFLIGHT_VARY = b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


class OriginNotAllowed(Forbidden):
    code = "cors-origin-not-allowed"
    title = "This origin may not call the Api from a browser"
    remediation = (
        "Ask the Api's owner to add the page's origin to the Api's 'cors.allowOrigins', "
        "or call the Api from a server."
    )


@dataclass(frozen=True)
class CorsPolicy:
    """One Api's ``cors`` setting, ready for the hot path."""

    origins: frozenset[bytes]
    allow_headers: bytes
    max_age: bytes

    @classmethod
    def of(cls, cors: Cors) -> CorsPolicy:
        return cls(
            frozenset(origin.encode() for origin in cors.allow_origins),
            ", ".join(cors.allow_headers).encode(),
            str(cors.max_age_seconds).encode(),
        )


def api_of(path: str) -> str:
    """The Api a gateway path belongs to: its first segment (``/{api}/{version}/…``)."""
    return path.split("/", 2)[1] if path.startswith("/") else ""


def apply(request: GatewayRequest, policies: Mapping[str, CorsPolicy]) -> GatewayResponse | None:
    """The answer to a preflight, or None after adding to ``request.response_headers``
    what the request's answer (whatever it is) must carry for CORS."""
    if not policies:
        return None
    policy = policies.get(api_of(request.path))
    if policy is None:
        return None
    origin = request.header(b"origin")
    allowed = origin is not None and origin in policy.origins
    if request.method == "OPTIONS" and request.header(b"access-control-request-method"):
        if not allowed:
            raise OriginNotAllowed(
                "The Api does not allow calls from this origin's pages.",
                headers={"Vary": _PREFLIGHT_VARY.decode()},
            )
        assert origin is not None
        return GatewayResponse(204, b"", _preflight_headers(origin, policy))
    request.response_headers.append((b"vary", b"Origin"))
    if allowed:
        assert origin is not None
        request.response_headers += [
            (b"access-control-allow-origin", origin),
            (b"access-control-expose-headers", EXPOSED),
        ]
    return None


def _preflight_headers(origin: bytes, policy: CorsPolicy) -> Headers:
    return [
        (b"access-control-allow-origin", origin),
        (b"access-control-allow-methods", METHODS),
        (b"access-control-allow-headers", policy.allow_headers),
        (b"access-control-max-age", policy.max_age),
        (b"vary", _PREFLIGHT_VARY),
    ]
