"""Exports of a version whose imported document is OpenAPI 3.0 (GitHub's, narrowed to
40 routes, and a small one): the 3.1 file is 3.1, the 3.0 file keeps what 3.0 said;
and the Power Platform profile carries only the formats a connector may have."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from isthmus.governance.exports import (
    FORMATS,
    to_openapi30,
    to_openapi31,
    to_power_platform,
)
from isthmus.governance.exports.connector_formats import CONNECTOR_FORMATS
from isthmus.governance.exports.native import native_document
from isthmus.model import Api
from tests.governance.test_exports import DOCUMENTS, IDS, ISSUER, resource, schemas_of
from tests.services import fetched

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".cache/openapi/api.github.com.json"
URL = ISSUER + "/github/v1"
# The formats Microsoft's connector schema allows on a schema (microsoft/
# PowerPlatformConnectors, schemas/apiDefinition.swagger.schema.json), written out
# again here so the test does not take the module's word for it.
ALLOWED = {
    "int32",
    "int64",
    "float",
    "double",
    "byte",
    "binary",
    "date",
    "date-time",
    "password",
    "date-no-tz",
    "html",
    "uri",
}


def imported(openapi: dict[str, Any], routes: list[tuple[str, str]]) -> dict[str, Any]:
    api = resource(
        {
            "kind": "Api",
            "metadata": {"name": "github", "owner": "dev"},
            "spec": {
                "versions": [
                    {
                        "name": "v1",
                        "openapi": openapi,
                        "routes": [
                            {
                                "method": method.upper(),
                                "path": path,
                                "target": {"type": "proxy", "connection": "gh"},
                            }
                            for path, method in routes
                        ],
                    }
                ]
            },
        }
    )
    assert isinstance(api, Api)
    return native_document(api, "v1", ISSUER)


@pytest.fixture(scope="module")
def github() -> dict[str, Any]:
    """GitHub's document as the gateway serves it for its first 40 routes."""
    document = json.loads(fetched(GITHUB, "GitHub's OpenAPI document").read_text())
    routes = [
        (path, method)
        for path, item in document["paths"].items()
        for method in ("get", "post", "put", "patch", "delete")
        if method in item
    ][:40]
    return imported(document, routes)


def count(value: Any, key: str) -> int:
    if isinstance(value, dict):
        return (key in value) + sum(count(v, key) for v in value.values())
    if isinstance(value, list):
        return sum(count(v, key) for v in value)
    return 0


def typed_nullables(value: Any) -> int:
    """How many schemas say ``nullable: true`` beside a ``type``."""
    if isinstance(value, dict):
        here = value.get("nullable") is True and "type" in value
        return here + sum(typed_nullables(v) for v in value.values())
    if isinstance(value, list):
        return sum(typed_nullables(v) for v in value)
    return 0


# A 3.0 document with each construct 3.1 writes differently.
SMALL: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Small", "version": "1"},
    "paths": {
        "/items": {
            "get": {
                "parameters": [
                    {
                        "name": "after",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
                        "example": 3,
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The item",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Item"},
                                "example": {"name": "a"},
                            }
                        },
                    }
                },
            }
        }
    },
    "components": {
        "schemas": {
            "Owner": {"type": "object", "properties": {"login": {"type": "string"}}},
            "Item": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "nullable": True, "example": "a"},
                    "state": {"type": "string", "nullable": True, "enum": ["open", "closed"]},
                    "owner": {"nullable": True, "allOf": [{"$ref": "#/components/schemas/Owner"}]},
                    "size": {"type": "number", "maximum": 10, "exclusiveMaximum": True},
                    "plain": {"type": "integer", "nullable": False, "exclusiveMinimum": False},
                    "anything": {"nullable": True, "description": "Any value"},
                },
            },
        }
    },
}


def test_openapi31_up_converts_a_30_document() -> None:
    native = imported(SMALL, [("/items", "get")])
    assert native["openapi"] == "3.1.0"  # the gateway serves an imported 3.0 document as 3.1
    out = to_openapi31(native, URL)
    assert out["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(out).validate()
    item = out["components"]["schemas"]["Item"]["properties"]
    assert item["name"] == {"type": ["string", "null"], "examples": ["a"]}
    assert item["state"] == {"type": ["string", "null"], "enum": ["open", "closed", None]}
    assert item["owner"] == {
        "anyOf": [{"allOf": [{"$ref": "#/components/schemas/Owner"}]}, {"type": "null"}]
    }
    assert item["size"] == {"type": "number", "exclusiveMaximum": 10}
    assert item["plain"] == {"type": "integer"}
    assert item["anything"] == {"description": "Any value"}
    get = out["paths"]["/items"]["get"]
    assert get["parameters"][0]["schema"] == {"type": "integer", "exclusiveMinimum": 0}
    assert get["parameters"][0]["example"] == 3  # parameters keep `example` in 3.1
    assert SMALL["components"]["schemas"]["Item"]["properties"]["name"]["nullable"] is True
    # a 3.1 document passes as it is
    assert to_openapi31(DOCUMENTS[0][1], URL)["paths"] == DOCUMENTS[0][1]["paths"]


def test_openapi30_keeps_what_a_30_document_says() -> None:
    native = imported(SMALL, [("/items", "get")])
    out = to_openapi30(native, URL)
    validate(out)
    item = out["components"]["schemas"]["Item"]["properties"]
    assert item["name"] == {"type": "string", "nullable": True, "example": "a"}
    assert item["state"]["nullable"] is True
    assert item["size"] == {"type": "number", "maximum": 10, "exclusiveMaximum": True}


def test_github_openapi31_is_31(github: dict[str, Any]) -> None:
    typed = typed_nullables(json.loads(GITHUB.read_text()))
    assert typed > 1000
    assert github["openapi"] == "3.1.0"  # served up-converted
    out = to_openapi31(github, URL)
    assert out["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(out).validate()
    # every `nullable` of GitHub's schemas became a null type (those left are data of
    # GitHub's own x- extensions)
    assert count(out, "nullable") < 20
    assert json.dumps(out).count('"null"') >= typed
    assert FORMATS["openapi-3.1"].media_type.endswith("version=3.1")


def test_github_openapi30_keeps_nullable(github: dict[str, Any]) -> None:
    out = to_openapi30(github, URL)
    # the null types of the served 3.1 document are GitHub's nullables again
    assert count(out, "nullable") >= typed_nullables(json.loads(GITHUB.read_text()))


def formats_of(swagger: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (where, format) of a connector definition: schemas, non-body parameters,
    response headers and their items."""
    found = [(p, s["format"]) for p, s in schemas_of(swagger) if "format" in s]
    for path, item in swagger["paths"].items():
        for method, operation in item.items():
            simple = [
                *((p["name"], p) for p in operation["parameters"] if "schema" not in p),
                *(
                    (f"{status} {name}", header)
                    for status, response in operation["responses"].items()
                    for name, header in (response.get("headers") or {}).items()
                ),
            ]
            for name, node in simple:
                while isinstance(node, dict):
                    if "format" in node:
                        found.append((f"{method} {path} {name}", node["format"]))
                    node = node.get("items")
    return found


def test_connector_formats_are_microsofts_list() -> None:
    assert CONNECTOR_FORMATS == ALLOWED


@pytest.mark.parametrize(("name", "native"), DOCUMENTS, ids=IDS)
def test_power_platform_formats_are_allowed(name: str, native: dict[str, Any]) -> None:
    found = formats_of(to_power_platform(native, URL))
    assert [(where, f) for where, f in found if f not in ALLOWED] == [], name


def test_power_platform_formats_of_github_are_allowed(github: dict[str, Any]) -> None:
    assert "uri-template" in json.dumps(github)
    swagger = to_power_platform(github, URL)
    found = formats_of(swagger)
    assert [(where, f) for where, f in found if f not in ALLOWED] == []
    assert {f for _, f in found} >= {"uri", "date-time", "int64"}  # the allowed ones stay
    root = swagger["paths"]["/"]["get"]["responses"]["200"]["schema"]["properties"]
    assert root["current_user_url"]["description"] == "A URI template (RFC 6570)."


def test_power_platform_says_what_a_dropped_format_meant() -> None:
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Formats", "version": "1"},
        "paths": {
            "/people/{id}": {
                "get": {
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                        },
                        {
                            "name": "since",
                            "in": "query",
                            "description": "Changed after",
                            "schema": {
                                "type": "array",
                                "items": {"type": "string", "format": "time"},
                            },
                        },
                        {
                            "name": "n",
                            "in": "query",
                            "schema": {"type": "integer", "format": "int16"},
                        },
                        {
                            "name": "c",
                            "in": "query",
                            "schema": {"type": "string", "format": "x-colour"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "A person",
                            "headers": {
                                "X-Owner": {"schema": {"type": "string", "format": "email"}}
                            },
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "mail": {
                                                "type": "string",
                                                "format": "email",
                                                "description": "Where to write",
                                            },
                                            "home": {"type": "string", "format": "uri"},
                                            "bio": {"type": "string", "format": "html"},
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            }
        },
    }
    swagger = to_power_platform(document, URL)
    get = swagger["paths"]["/people/{id}"]["get"]
    by_name = {p["name"]: p for p in get["parameters"]}
    assert "format" not in by_name["id"]
    assert by_name["id"]["description"] == "A UUID."
    assert by_name["n"]["format"] == "int32"  # every int16 is an int32
    assert "format" not in by_name["c"]
    assert "description" not in by_name["c"]
    assert by_name["since"]["description"] == "Changed after"
    assert "format" not in by_name["since"]["items"]
    answer = get["responses"]["200"]
    assert answer["headers"]["X-Owner"] == {"type": "string", "description": "An e-mail address."}
    fields = answer["schema"]["properties"]
    assert fields["mail"]["description"] == "Where to write. An e-mail address."
    assert "format" not in fields["mail"]
    assert fields["home"]["format"] == "uri"
    assert fields["bio"]["format"] == "html"
