"""Requests checked against their route's contract before any backend is touched.

Every violation is reported at once, each with a JSON pointer into the request
(``/query/limit``, ``/body/items/0/name``) and what to send instead. Messages are built
from the schema, never from the value sent: it may be a secret in the wrong field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from isthmus.errors import BadRequest, FatalError, ValidationFailed
from isthmus.gateway.http import NOT_PARSED, GatewayRequest, GatewayResponse, header_value
from isthmus.gateway.schemas import Problem, SchemaCheck, pointer
from isthmus.model.api import RequestContract

MAX_JSON_DEPTH = 64


class ResponseInvalid(FatalError):
    status = 502
    code = "upstream-contract-violation"
    title = "The backend's answer does not match the Api's contract"
    remediation = (
        "Tell the owner of the Api: the backend changed or the route's response schema is "
        "wrong ('errors' says where)."
    )


class RequestInvalid(ValidationFailed):
    code = "request-invalid"
    title = "The request does not match the Api's contract"
    remediation = "Fix each entry of 'errors' (a JSON pointer into the request) and resend."


@dataclass(frozen=True)
class ParameterCheck:
    schema: SchemaCheck
    kind: str | None  # the JSON type text is converted to
    required: bool


@dataclass(frozen=True)
class CompiledContract:
    path: dict[str, ParameterCheck] = field(default_factory=dict)
    query: dict[str, ParameterCheck] = field(default_factory=dict)
    headers: dict[str, ParameterCheck] = field(default_factory=dict)  # lower-case names
    body: SchemaCheck | None = None
    additional_query: bool = True

    @property
    def reads_query(self) -> bool:
        return bool(self.query) or not self.additional_query


def compile_contract(contract: RequestContract) -> CompiledContract:
    def fields(part: dict[str, Any], lower: bool = False) -> dict[str, ParameterCheck]:
        return {
            (name.lower() if lower else name): ParameterCheck(
                SchemaCheck(p.schema_), _kind(p.schema_), p.required
            )
            for name, p in part.items()
        }

    return CompiledContract(
        fields(contract.path),
        fields(contract.query),
        fields(contract.headers, lower=True),
        SchemaCheck(contract.body) if contract.body is not None else None,
        contract.additional_query,
    )


def _kind(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    return kind if isinstance(kind, str) else None


def _convert(text: str, kind: str | None) -> Any:
    """Text from a path, query or header, as the type its schema names (if it parses)."""
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        return text
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    if kind == "array":
        return text.split(",") if text else []
    return text


def _check_fields(
    where: str, fields: dict[str, ParameterCheck], values: dict[str, str]
) -> list[Problem]:
    problems: list[Problem] = []
    for name, spec in fields.items():
        if name not in values:
            if spec.required:
                problems.append({"pointer": pointer(where, name), "message": "is required"})
            continue
        problems += spec.schema.problems(_convert(values[name], spec.kind), where, name)
    return problems


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def parse_json_body(request: GatewayRequest) -> Any:
    """The body as JSON (once per request), refusing what is not JSON or nested too deep."""
    if request.parsed_body is not NOT_PARSED:
        return request.parsed_body
    try:
        parsed = orjson.loads(request.body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(
            "The request body is not valid JSON.",
            remediation="Send a JSON body with 'Content-Type: application/json'.",
        ) from exc
    if _depth(parsed) > MAX_JSON_DEPTH:
        raise BadRequest(
            f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.",
            remediation="Flatten the body.",
        )
    request.parsed_body = parsed
    return parsed


def validate_request(
    contract: CompiledContract, request: GatewayRequest, params: dict[str, str]
) -> None:
    errors = _check_fields("path", contract.path, params) if contract.path else []
    if contract.reads_query:
        query = dict(parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True))
        errors += _check_fields("query", contract.query, query)
        if not contract.additional_query:
            errors += [
                {"pointer": pointer("query", name), "message": "is not a parameter of this route"}
                for name in query
                if name not in contract.query
            ]
    if contract.headers:
        headers = {}
        for name in contract.headers:
            value = header_value(request.headers, name.encode("latin-1"))
            if value is not None:
                headers[name] = value.decode("latin-1")
        errors += _check_fields("headers", contract.headers, headers)
    if contract.body is not None:
        if not request.body:
            errors.append({"pointer": "/body", "message": "a JSON body is required"})
        else:
            errors += contract.body.problems(parse_json_body(request), "body")
    if errors:
        raise RequestInvalid(
            f"The request has {len(errors)} problem(s); nothing was sent to the backend.",
            extensions={"errors": errors},
        )


def validate_response(check: SchemaCheck, response: GatewayResponse) -> None:
    """Check a successful JSON answer; a violation becomes a 502 for the caller."""
    if not 200 <= response.status < 300 or not response.body:
        return
    content_type = header_value(response.headers, b"content-type") or b""
    if b"json" not in content_type:
        return
    try:
        body = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        raise ResponseInvalid("The backend's answer is not valid JSON.") from None
    errors = check.problems(body, "body")
    if errors:
        raise ResponseInvalid(
            f"The backend's answer has {len(errors)} problem(s).", extensions={"errors": errors}
        )
