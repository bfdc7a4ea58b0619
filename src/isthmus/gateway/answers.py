"""What the gateway answers on any route of any Api — its problems, its success headers,
its server, the names it gives operations — as both the generated and the imported
documents declare it."""

from __future__ import annotations

import re
from typing import Any

from isthmus.errors import Problem
from isthmus.gateway.declarations import ANSWER_HEADERS, header_refs
from isthmus.model import ApiVersion, Route

PROBLEM = {"$ref": "#/components/schemas/Problem"}
# What the gateway itself answers, on any route, as problems.
ERRORS = {
    "400": "The request cannot be read (a body that is not JSON, or nested too deep)",
    "401": "No valid API key or access token",
    "403": "The App is not granted this Api",
    "422": "The request does not match the contract; 'errors' lists each problem",
    "429": "The App's Plan is used up; see Retry-After",
    "500": "The hub failed; the problem's instance names the request for its operators",
    "502": "The backend failed or could not be reached",
    "503": "The backend is unavailable, or the route is not configured",
    "504": "The backend did not answer in time",
}


def problem_schema() -> dict[str, Any]:
    schema = Problem.model_json_schema()
    # every problem the hub answers is a client (4xx) or server (5xx) error
    schema["properties"]["status"].update(format="int32", minimum=400, maximum=599)
    return schema


def problem(status: str, description: str, schema: dict[str, Any] = PROBLEM) -> dict[str, Any]:
    names = (*ANSWER_HEADERS, "Retry-After") if status == "429" else ANSWER_HEADERS
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": schema}},
    }
    if status.startswith("4"):  # 5xx answers come before or without counting
        answer["headers"] = header_refs(names)
    return answer


def gateway_errors(schema: dict[str, Any] = PROBLEM) -> dict[str, Any]:
    return {status: problem(status, text, schema) for status, text in ERRORS.items()}


def success(description: str, content: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "headers": header_refs(ANSWER_HEADERS)}
    if content is not None:
        answer["content"] = content
    return answer


def operation_id(route: Route) -> str:
    if route.operation_id:
        return route.operation_id
    words = re.sub(r"[{}]", "", route.path).strip("/").replace("/", "_").replace("-", "_")
    return f"{route.method.lower()}_{words or 'root'}"


def server(issuer: str, name: str, version: ApiVersion) -> dict[str, Any]:
    return {
        "url": f"{issuer}/{name}/{version.name}",
        "description": "The Isthmus gateway, for every Environment (such as sandbox and "
        "production): the Environment of the key or token decides which systems a call "
        "reaches.",
        # for the Apps granted the Api, wherever they run: not an internal-only server
        "x-internal": False,
    }
