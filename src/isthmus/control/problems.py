"""Every error the control plane returns is RFC 9457 problem+json."""

from __future__ import annotations

import re
from functools import cache
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from isthmus.errors import (
    PROBLEM_CONTENT_TYPE,
    BadRequest,
    IsthmusError,
    MethodNotAllowed,
    NotFound,
    Problem,
    Unauthenticated,
    ValidationFailed,
    problem_bytes,
)
from isthmus.project.hints import message_for
from isthmus.project.issues import dotted
from isthmus.project.source import real_path

log = structlog.get_logger(__name__)

_BY_STATUS: dict[int, type[IsthmusError]] = {
    400: BadRequest,
    401: Unauthenticated,
    404: NotFound,
    405: MethodNotAllowed,
}


def _documented(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": schema}}}


# Declared on every admin operation, so the OpenAPI document says what clients will see.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("Malformed request"),
    401: _documented("Missing or wrong admin token"),
    404: _documented("No such resource"),
    409: _documented("Conflict: exists, still used, or changed meanwhile"),
    422: _documented("Did not validate; see 'errors'"),
    500: _documented("A fault in the hub"),
}


def problem(error: IsthmusError, request: Request) -> Response:
    return Response(
        problem_bytes(error.problem(instance=request.url.path)),
        status_code=error.status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=error.headers,
    )


def _field_errors(errors: Any, body: Any) -> list[dict[str, Any]]:
    """The same {path, message, hint} entries the resource checks produce.

    Body paths are given as in the resource (``spec.config.baseUrl``), query and path
    parameters as ``query.environment``. The submitted value is never echoed, in case a
    secret was typed into the wrong field.
    """
    out = []
    for error in errors:
        source, *rest = error.get("loc", ("body",))
        path: tuple[str | int, ...] = tuple(rest)
        if source == "body":
            path = real_path(body, path) if isinstance(body, dict) else path
        else:
            path = (source, *path)
        out.append({"path": dotted(path), "message": message_for(error), "hint": None})
    return out


def _generic(status: int) -> IsthmusError:
    """A problem for an HTTP status the hub has no own error class for (415, 413, …)."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"

    class HttpStatusError(IsthmusError):
        pass

    HttpStatusError.status = status
    HttpStatusError.code = "http-" + str(status)
    HttpStatusError.title = phrase
    HttpStatusError.remediation = "Correct the request as the status says and send it again."
    return HttpStatusError(f"The request failed with HTTP {status} ({phrase}).")


def document(app: FastAPI) -> None:
    """Add the Problem schema that every documented error response refers to."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["Problem"] = Problem.model_json_schema()
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _allowed_methods(request: Request) -> list[str]:
    """Every documented method at this path. (Starlette's own 'Allow' names only the first
    route matching the path, though several routes may share it.)"""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if _template_regex(template).fullmatch(request.url.path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


@cache
def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def install(app: FastAPI) -> None:
    @app.exception_handler(IsthmusError)
    async def _isthmus(request: Request, exc: IsthmusError) -> Response:
        return problem(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        error = ValidationFailed(
            "The request body or parameters did not validate.",
            extensions={"errors": _field_errors(exc.errors(), exc.body)},
        )
        return problem(error, request)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        cls = _BY_STATUS.get(exc.status_code)
        if cls is None:
            error: IsthmusError = _generic(exc.status_code)
        elif cls is MethodNotAllowed:
            allow = ", ".join(_allowed_methods(request))
            error = cls(f"{request.method} is not allowed here.", headers={"Allow": allow})
        elif cls is NotFound:
            error = cls(f"Nothing at '{request.url.path}'.")
        else:
            error = cls()
        return problem(error, request)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> Response:
        log.exception("control.unhandled", path=request.url.path)
        return problem(
            IsthmusError("The control plane failed while handling this request."), request
        )
