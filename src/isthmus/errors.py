"""One exception root for the hub, and its mapping to RFC 9457 problem details.

Every error a plane returns is built from an :class:`IsthmusError`: a stable
``code`` (part of the public contract), a short ``title``, a ``detail`` written
for the caller, and a ``remediation`` saying what to do next. Nothing else from
the exception (its cause, its traceback, any SQL or host name) reaches the wire.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://isthmus.dev/problems/"
# The most characters each problem field holds: longer texts are cut when the body is
# made (problem_body), so a detail that quotes something long stays a bounded answer
# and the published Problem schema can say so.
MAX_TITLE_LENGTH = 200
MAX_DETAIL_LENGTH = 2000
MAX_REMEDIATION_LENGTH = 1000
MAX_CODE_LENGTH = 100
MAX_TYPE_LENGTH = len(PROBLEM_TYPE_BASE) + MAX_CODE_LENGTH
MAX_INSTANCE_LENGTH = 2000


class Problem(BaseModel):
    """An RFC 9457 problem, as every error of the hub is answered."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(max_length=MAX_TYPE_LENGTH)
    title: str = Field(max_length=MAX_TITLE_LENGTH)
    status: int
    detail: str = Field(max_length=MAX_DETAIL_LENGTH)
    code: str = Field(max_length=MAX_CODE_LENGTH, description="Stable: program against it.")
    remediation: str = Field(
        max_length=MAX_REMEDIATION_LENGTH, description="What the caller should do."
    )
    instance: str | None = Field(default=None, max_length=MAX_INSTANCE_LENGTH)


class IsthmusError(Exception):
    """Root of every error the hub raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"
    remediation: ClassVar[str] = (
        "Retry later; if it persists, give the request id to the hub's operators."
    )
    retriable: ClassVar[bool] = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        remediation: str | None = None,
        extensions: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.title
        if remediation is not None:
            self.remediation = remediation  # type: ignore[misc]
        self.extensions = extensions or {}
        self.headers = headers or {}
        super().__init__(self.detail)

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """The RFC 9457 body for this error."""
        return problem_body(
            status=self.status,
            code=self.code,
            title=self.title,
            detail=self.detail,
            remediation=self.remediation,
            instance=instance,
            extensions=self.extensions,
        )


class RetriableError(IsthmusError):
    """A failure that may succeed if tried again later (timeouts, 503s, lost connections)."""

    retriable = True


class FatalError(IsthmusError):
    """A failure that will repeat until something is changed (bad config, bad input)."""


def problem_body(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    remediation: str,
    instance: str | None = None,
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    code = cut(code, MAX_CODE_LENGTH)
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": cut(title, MAX_TITLE_LENGTH),
        "status": status,
        "detail": cut(detail, MAX_DETAIL_LENGTH),
        "code": code,
        "remediation": cut(remediation, MAX_REMEDIATION_LENGTH),
    }
    if instance:
        body["instance"] = cut(instance, MAX_INSTANCE_LENGTH)
    for key, value in (extensions or {}).items():
        body.setdefault(key, value)
    return body


def cut(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its start and an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def problem_bytes(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


# --- the errors themselves, grouped by who must act -------------------------------------


class BadRequest(FatalError):
    status = 400
    code = "bad-request"
    title = "Bad request"
    remediation = "Correct the request as the detail says and send it again."


class ValidationFailed(FatalError):
    status = 422
    code = "validation-failed"
    title = "The request did not validate"
    remediation = "Fix each field listed in 'errors' and send the request again."


class Unauthenticated(FatalError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"
    remediation = (
        "Send the App's API key in the 'X-Api-Key' header, or 'Authorization: Bearer' with "
        "the key or an access token from /oauth/token. An administrator issues keys with "
        "'isthmus key create APP'."
    )


class Forbidden(FatalError):
    status = 403
    code = "forbidden"
    title = "Not allowed"
    remediation = "Ask the owner of the resource for access."


class NotFound(FatalError):
    status = 404
    code = "not-found"
    title = "Not found"
    remediation = "Check the address; list what exists and use one of those names."


class MethodNotAllowed(FatalError):
    status = 405
    code = "method-not-allowed"
    title = "Method not allowed"
    remediation = "Use one of the methods named in the 'Allow' header."


class Conflict(FatalError):
    status = 409
    code = "conflict"
    title = "Conflict"
    remediation = "Read the current state of the resource and retry against it."


class PayloadTooLarge(FatalError):
    status = 413
    code = "payload-too-large"
    title = "Request body too large"
    remediation = "Send a smaller body, or split the request."


class ConfigurationError(FatalError):
    """The hub's own configuration (a resource, a setting) prevents serving this."""

    status = 503
    code = "not-configured"
    title = "Not configured"
    remediation = "An administrator must complete the configuration named in the detail."


class UpstreamUnreachable(RetriableError):
    status = 502
    code = "upstream-unreachable"
    title = "The backend system could not be reached"
    remediation = "Retry with backoff; if it persists, tell the owner of the backend system."


class UpstreamFailed(RetriableError):
    status = 502
    code = "upstream-error"
    title = "The backend system failed"
    remediation = "Retry with backoff; if it persists, tell the owner of the backend system."


class UpstreamUnavailable(RetriableError):
    status = 503
    code = "upstream-unavailable"
    title = "The backend system is unavailable"
    remediation = "Wait for the seconds in 'Retry-After' (if given), then retry."


class UpstreamResponseTooLarge(FatalError):
    status = 502
    code = "upstream-response-too-large"
    title = "The backend's answer is too large"
    remediation = (
        "Ask for less (filters, a smaller page), or raise the Connection's maxResponseBytes."
    )


class UpstreamTimeout(RetriableError):
    status = 504
    code = "upstream-timeout"
    title = "The backend system did not answer in time"
    remediation = "Retry later, or ask for a narrower result (filters, smaller page)."


class OutboundBlocked(FatalError):
    status = 502
    code = "outbound-blocked"
    title = "Outbound address refused"
    remediation = (
        "The Connection points at a private, loopback or metadata address. If that is "
        "intended, set 'allowPrivateNetwork: true' in the Connection's config."
    )


class StoreUnavailable(RetriableError):
    status = 503
    code = "store-unavailable"
    title = "The hub's store is unavailable"
    remediation = "Retry shortly; operators should check the database behind the hub."
