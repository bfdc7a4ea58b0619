"""Exports of an Api version: OpenAPI 3.0.3 that validates, and a Power Platform
connector definition that `swagger-cli validate` accepts and that follows the profile's
rules — for every demo Api version and for a test Api that uses what 3.1 allows."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from isthmus.governance.exports import (
    FORMATS,
    ExportLimitExceeded,
    UnknownExportFormat,
    export_format,
    serialize,
    to_openapi30,
    to_postman,
    to_power_platform,
)
from isthmus.governance.exports.native import native_document, server_url
from isthmus.model import Api, EventType, Resource, View, kind_of
from isthmus.project.validate import load_project
from isthmus.virtual.plans import Column
from isthmus.virtual.shapes import ViewShape
from tests.services import fetched

ROOT = Path(__file__).resolve().parents[2]
SWAGGER_CLI = ROOT / ".cache/npm/node_modules/.bin/swagger-cli"
DEMO = ROOT / "src/isthmus/demo/project"
ISSUER = "https://hub.example.test"

# What the demo Views give when planned (their SQL's columns), so their routes are
# described as the gateway describes them.
DEMO_COLUMNS = {
    "customers": "id:integer name company tier country",
    "invoices": "id:integer customer_id:integer issued:date amount:number status",
    "customer_360": "id:integer name company tier country invoices:integer billed:number "
    "outstanding:number machine last_reading:date-time temperature:number",
}


def resource(document: dict[str, Any]) -> Resource:
    cls = kind_of(document["kind"])
    assert cls is not None
    return cls.model_validate(document)


def demo() -> tuple[list[Api], dict[str, EventType], dict[str, ViewShape]]:
    project = load_project(DEMO)
    assert project.ok, project.issues
    resources = list(project.resources.values())
    views = {r.metadata.name: r for r in resources if isinstance(r, View)}
    shapes = {
        name: ViewShape(
            views[name],
            tuple(Column(*[*c.split(":"), "string"][:2]) for c in columns.split()),
        )
        for name, columns in DEMO_COLUMNS.items()
    }
    apis = [r for r in resources if isinstance(r, Api)]
    return apis, {r.metadata.name: r for r in resources if isinstance(r, EventType)}, shapes


def demo_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    apis, event_types, shapes = demo()
    for api in apis:
        for version in api.spec.versions:
            native = native_document(api, version.name, ISSUER, event_types, shapes)
            yield f"{api.metadata.name}/{version.name}", native


# --- a test Api that uses what OpenAPI 3.1 / JSON Schema 2020-12 allow -------------------

PERSON: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {
        "id": {"type": "integer", "exclusiveMinimum": 0},
        "name": {"type": "string", "examples": ["Ada"]},
        "kind": {"const": "person"},
        "email": {"type": ["string", "null"], "format": "email"},
        "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "tier": {"enum": ["gold", "silver", None]},
        "address": {"$ref": "#/$defs/Address"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "position": {"type": "array", "prefixItems": [{"type": "number"}] * 2, "items": False},
        "photo": {"type": "string", "contentEncoding": "base64"},
        "contact": {
            "oneOf": [
                {
                    "type": "object",
                    "required": ["phone"],
                    "properties": {"phone": {"type": "string"}},
                },
                {"type": "object", "properties": {"email": {"type": "string"}}},
            ]
        },
    },
    "$defs": {
        "Address": {
            "type": "object",
            "required": ["city"],
            "properties": {
                "street": {"type": ["string", "null"]},
                "city": {"type": "string"},
                "geo": {"$ref": "#/$defs/Geo"},
            },
        },
        "Geo": {
            "type": "object",
            "properties": {
                "lat": {"type": "number", "exclusiveMinimum": -90, "exclusiveMaximum": 90},
                "lon": {"type": "number", "minimum": -180, "maximum": 180},
            },
        },
    },
}
ADDRESS = PERSON["$defs"]["Address"]
PROXY = {"type": "proxy", "connection": "crm"}

THINGS: dict[str, Any] = {
    "openapi": "3.1.0",
    "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
    "info": {
        "title": "Things",
        "summary": "Things of the plant",
        "version": "2",
        "license": {"name": "MIT", "identifier": "MIT"},
    },
    "paths": {
        "/things": {
            "parameters": [{"$ref": "#/components/parameters/Tenant"}],
            "get": {
                "operationId": "listThings",
                "summary": "List things",
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                "responses": {
                    "200": {"$ref": "#/components/responses/Things"},
                    "4XX": {"$ref": "#/components/responses/Error"},
                },
            },
            "post": {
                "operationId": "create-thing",
                "requestBody": {"$ref": "#/components/requestBodies/NewThing"},
                "responses": {
                    "201": {
                        "description": "Created",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                        },
                    },
                    "4XX": {"$ref": "#/components/responses/Error"},
                    "5XX": {"$ref": "#/components/responses/Error"},
                },
            },
        },
        "/things/{thing}": {
            "get": {
                "parameters": [{"$ref": "#/components/parameters/Thing"}],
                "responses": {
                    "200": {
                        "description": "The thing",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                        },
                    }
                },
            },
            "put": {
                "parameters": [{"$ref": "#/components/parameters/Thing"}],
                "requestBody": {
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {
                                    "file": {
                                        "type": "string",
                                        "contentMediaType": "application/octet-stream",
                                    },
                                    "note": {"type": "string"},
                                },
                            }
                        }
                    }
                },
                "responses": {"204": {"description": "Stored"}},
            },
        },
        "/things/{thing}/tree": {
            "get": {
                # no parameter declared for {thing}: the export must add one
                "responses": {
                    "200": {
                        "description": "The thing's parts",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Tree"}}
                        },
                    }
                }
            }
        },
    },
    "webhooks": {
        "thingMoved": {"post": {"responses": {"200": {"description": "Taken"}}}},
    },
    "components": {
        "parameters": {
            "Tenant": {
                "name": "X-Tenant",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            },
            "Thing": {
                "name": "thing",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": "^[a-z0-9-]+$"},
            },
        },
        "requestBodies": {
            "NewThing": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/ThingBase"},
                        "example": {"name": "pump", "kind": "thing"},
                    }
                },
            }
        },
        "responses": {
            "Things": {
                "description": "A page of things",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}},
            },
            "Error": {
                "description": "Refused",
                "content": {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Error"}}
                },
            },
        },
        "schemas": {
            "ThingBase": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "examples": ["pump"]},
                    "kind": {"const": "thing"},
                    "weight": {"type": ["number", "null"], "exclusiveMaximum": 1000},
                    "meta": {"$ref": "#/components/schemas/ThingBase/$defs/Meta"},
                },
                "$defs": {"Meta": {"type": "object", "additionalProperties": {"type": "string"}}},
            },
            "Thing": {
                "allOf": [
                    {"$ref": "#/components/schemas/ThingBase"},
                    {
                        "type": "object",
                        "required": ["id"],
                        "properties": {"id": {"type": "string"}},
                    },
                ]
            },
            "Page": {
                "type": "object",
                "required": ["value"],
                "properties": {
                    "value": {"type": "array", "items": {"$ref": "#/components/schemas/Thing"}},
                    "nextLink": {"type": "string", "format": "uri"},
                },
            },
            "Tree": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "parts": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}},
                },
            },
            "Error": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "detail": {"type": ["string", "null"]}},
            },
        },
    },
}


def people_api() -> tuple[Api, dict[str, EventType]]:
    event_type = resource(
        {
            "kind": "EventType",
            "metadata": {"name": "person-moved", "owner": "people-team"},
            "spec": {
                "type": "com.example.person.moved",
                "versions": [
                    {
                        "version": 1,
                        "schema": {**PERSON["$defs"]["Address"], "$defs": PERSON["$defs"]},
                    }
                ],
            },
        }
    )
    assert isinstance(event_type, EventType)
    body = {k: v for k, v in PERSON.items() if k != "required"} | {"required": ["name"]}
    inner = {k: v for k, v in body.items() if k != "$defs"}
    patch = {"allOf": [inner, {"minProperties": 1}], "$defs": PERSON["$defs"]}
    api = resource(
        {
            "kind": "Api",
            "metadata": {"name": "people", "description": "People, as every tool sees them."},
            "spec": {
                "title": "People",
                "versions": [
                    {
                        "name": "v1",
                        "routes": [
                            {
                                "path": "/people",
                                "summary": "List people",
                                "target": PROXY,
                                "response": PERSON,
                                "collection": {
                                    "key": "id",
                                    "fields": {"id": {"type": "integer"}, "name": {}, "tier": {}},
                                },
                                "examples": {"response": {"id": 1, "name": "Ada"}},
                            },
                            {
                                "path": "/people/{id}",
                                "operationId": "get_person",
                                "target": PROXY,
                                "request": {
                                    "path": {"id": {"schema": {"type": "integer", "minimum": 1}}},
                                    "query": {
                                        "expand": {"schema": {"enum": ["address", "tags"]}},
                                        "fields": {
                                            "schema": {"type": "array", "items": {"type": "string"}}
                                        },
                                    },
                                    "headers": {
                                        "X-Request-Id": {
                                            "required": True,
                                            "description": "Trace it.",
                                        }
                                    },
                                },
                                "response": PERSON,
                            },
                            {
                                "method": "POST",
                                "path": "/people",
                                "summary": "Add a person. They get an id from the CRM, which "
                                "is returned in the answer together with everything stored.",
                                "target": PROXY,
                                "request": {"body": body},
                                "examples": {"request": {"name": "Ada"}},
                            },
                            {
                                "method": "PATCH",
                                "path": "/people/{id}",
                                "target": PROXY,
                                "request": {"body": patch},
                            },
                            {"method": "DELETE", "path": "/people/{id}", "target": PROXY},
                            {
                                "method": "POST",
                                "path": "/moves",
                                "target": {"type": "event", "eventType": "person-moved"},
                            },
                        ],
                    },
                    {
                        "name": "v2",
                        "openapi": THINGS,
                        "routes": [
                            {"method": m, "path": p, "target": PROXY}
                            for p, m in [
                                ("/things", "GET"),
                                ("/things", "POST"),
                                ("/things/{thing}", "GET"),
                                ("/things/{thing}", "PUT"),
                                ("/things/{thing}/tree", "GET"),
                            ]
                        ],
                    },
                ],
            },
        }
    )
    assert isinstance(api, Api)
    return api, {event_type.metadata.name: event_type}


def people(version: str) -> dict[str, Any]:
    api, event_types = people_api()
    return native_document(api, version, ISSUER, event_types)


def every_document() -> list[tuple[str, dict[str, Any]]]:
    return [*demo_documents(), ("people/v1", people("v1")), ("people/v2", people("v2"))]


DOCUMENTS = every_document()
IDS = [name for name, _ in DOCUMENTS]


# --- walking documents -------------------------------------------------------------------


def nodes(value: Any, pointer: str = "#") -> Iterator[tuple[str, Any]]:
    yield pointer, value
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from nodes(sub, f"{pointer}/{key}")
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from nodes(sub, f"{pointer}/{i}")


def schemas_of(swagger: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object of a Swagger 2.0 document, nested ones included."""

    def walk(schema: Any, pointer: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if not isinstance(schema, dict):
            return
        yield pointer, schema
        for name, sub in (schema.get("properties") or {}).items():
            yield from walk(sub, f"{pointer}/properties/{name}")
        for key in ("items", "additionalProperties"):
            yield from walk(schema.get(key), f"{pointer}/{key}")

    for name, schema in swagger.get("definitions", {}).items():
        yield from walk(schema, f"#/definitions/{name}")
    for path, item in swagger["paths"].items():
        for method, operation in item.items():
            where = f"#/paths/{path}/{method}"
            for parameter in operation["parameters"]:
                yield from walk(parameter.get("schema"), f"{where}/{parameter['name']}")
            for status, response in operation["responses"].items():
                yield from walk(response.get("schema"), f"{where}/responses/{status}")


def operations(swagger: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in swagger["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def swagger_cli() -> Path:
    return fetched(SWAGGER_CLI, "swagger-cli")


def swagger_cli_says(document: dict[str, Any], folder: Path) -> tuple[int, str]:
    file = folder / "apiDefinition.swagger.json"
    file.write_bytes(serialize(document))
    done = subprocess.run(
        [str(swagger_cli()), "validate", str(file)], capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout + done.stderr


# --- OpenAPI 3.0 -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "native"), DOCUMENTS, ids=IDS)
def test_openapi30_validates(name: str, native: dict[str, Any]) -> None:
    converted = to_openapi30(native, "https://hub.example.test/sandbox/x/v1")
    assert converted["openapi"] == "3.0.3"
    validate(converted)
    assert converted["servers"] == [{"url": "https://hub.example.test/sandbox/x/v1"}]
    for pointer, node in nodes(converted):
        if isinstance(node, dict) and pointer.split("/")[-1] in ("schema", "items"):
            assert not isinstance(node.get("type"), list), pointer
            assert not {"const", "$defs", "prefixItems"} & set(node), pointer


def test_openapi30_says_the_same_things() -> None:
    converted = to_openapi30(people("v1"), ISSUER)
    page = converted["paths"]["/people"]["get"]["responses"]["200"]["content"]
    person = page["application/json"]["schema"]["properties"]["value"]["items"]
    fields = person["properties"]
    assert fields["email"] == {"type": "string", "format": "email", "nullable": True}
    assert fields["nickname"] == {"type": "string", "nullable": True}
    assert fields["kind"] == {"enum": ["person"]}
    assert fields["tier"] == {"enum": ["gold", "silver", None], "nullable": True}
    assert fields["id"] == {"type": "integer", "minimum": 0, "exclusiveMinimum": True}
    assert fields["name"]["example"] == "Ada"
    assert fields["photo"] == {"type": "string", "format": "byte"}
    assert fields["position"]["items"] == {"type": "number"}
    assert fields["position"]["maxItems"] == 2
    assert len(fields["contact"]["oneOf"]) == 2
    # the nested definitions became components, and the references follow them
    assert fields["address"] == {"$ref": "#/components/schemas/Address"}
    schemas = converted["components"]["schemas"]
    assert schemas["Address"]["properties"]["geo"] == {"$ref": "#/components/schemas/Geo"}
    assert schemas["Geo"]["properties"]["lat"] == {
        "type": "number",
        "minimum": -90,
        "exclusiveMinimum": True,
        "maximum": 90,
        "exclusiveMaximum": True,
    }
    responses = converted["paths"]["/people"]["get"]["responses"]
    assert "4XX" in responses  # status ranges exist in 3.0 too


def test_openapi30_of_an_imported_document() -> None:
    # The gateway serves no backend webhooks; a 3.1 document that has some still
    # converts (3.0 has no place for them).
    native = {**people("v2"), "webhooks": THINGS["webhooks"]}
    assert native["info"]["license"]["identifier"] == "MIT"
    converted = to_openapi30(native, ISSUER)
    assert "webhooks" not in converted
    assert "jsonSchemaDialect" not in converted
    assert converted["info"]["license"] == {"name": "MIT"}
    assert "summary" not in converted["info"]
    schemas = converted["components"]["schemas"]
    assert schemas["ThingBase"]["properties"]["meta"] == {"$ref": "#/components/schemas/Meta"}
    assert schemas["Meta"]["additionalProperties"] == {"type": "string"}
    assert schemas["ThingBase"]["properties"]["weight"] == {
        "type": "number",
        "nullable": True,
        "maximum": 1000,
        "exclusiveMaximum": True,
    }
    upload = converted["paths"]["/things/{thing}"]["put"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"


# --- Power Platform ----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "native"), DOCUMENTS, ids=IDS)
@pytest.mark.parametrize("environment", ["production", "sandbox"])
def test_power_platform_passes_swagger_cli(
    name: str, native: dict[str, Any], environment: str, tmp_path: Path
) -> None:
    api, version = name.split("/")
    url = server_url(ISSUER, api, version, environment)  # type: ignore[arg-type]
    swagger = to_power_platform(native, url)
    status, output = swagger_cli_says(swagger, tmp_path)
    assert status == 0, output
    validate(swagger)  # and the Swagger 2.0 schema, by a second validator
    assert swagger["swagger"] == "2.0"
    assert swagger["host"] == "hub.example.test"
    assert swagger["schemes"] == ["https"]
    prefix = "/sandbox" if environment == "sandbox" else ""
    assert swagger["basePath"] == f"{prefix}/{api}/{version}"
    assert_profile(swagger)


def assert_profile(swagger: dict[str, Any], issuer: str = ISSUER) -> None:
    """The rules the connector designer holds a definition to."""
    ids = [op["operationId"] for _, _, op in operations(swagger)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9]*", i) for i in ids), ids
    for path, method, operation in operations(swagger):
        assert 0 < len(operation["summary"]) <= 80
        assert not operation["summary"].endswith(".")
        assert operation["description"]
        for parameter in operation["parameters"]:
            assert parameter["x-ms-summary"], (path, method, parameter)
            if parameter["required"]:
                assert parameter["x-ms-visibility"] == "important"
            assert parameter["in"] != "body" or method not in ("get", "head")
        for status, response in operation["responses"].items():
            assert re.fullmatch(r"[0-9]{3}|default", status)
            ref = (response.get("schema") or {}).get("$ref")
            # one level of reference, to a shared error body, never for success bodies
            assert ref is None or (ref.startswith("#/definitions/") and not status.startswith("2"))
    for pointer, schema in schemas_of(swagger):
        assert not isinstance(schema.get("type"), list), pointer
        assert not {"nullable", "oneOf", "anyOf", "allOf", "const", "$defs"} & set(schema), pointer
        if "$ref" in schema:  # only as a whole error body
            assert re.fullmatch(r"#/paths/.+/responses/(default|[13-5][0-9]{2})", pointer), pointer
        if re.search(r"/properties/[^/]+$", pointer):
            assert schema.get("x-ms-summary"), pointer
    for name, definition in swagger.get("definitions", {}).items():
        assert not any(
            k == "$ref" for p, n in nodes(definition) if isinstance(n, dict) for k in n
        ), name
    first = next(iter(swagger["securityDefinitions"].values()))
    assert first == {"type": "apiKey", "in": "header", "name": "X-Api-Key"}
    assert swagger["securityDefinitions"]["oauth2"] == {
        "type": "oauth2",
        "flow": "application",
        "scopes": swagger["securityDefinitions"]["oauth2"]["scopes"],
        "tokenUrl": f"{issuer}/oauth/token",
    }


def test_power_platform_collections_are_pageable() -> None:
    swagger = to_power_platform(people("v1"), ISSUER + "/people/v1")
    listing = swagger["paths"]["/people"]["get"]
    assert listing["x-ms-pageable"] == {"nextLinkName": "nextLink", "itemName": "value"}
    cursor = next(p for p in listing["parameters"] if p["name"] == "cursor")
    assert cursor["x-ms-visibility"] == "advanced"
    assert cursor["x-ms-summary"] == "Cursor"
    assert "x-ms-pageable" not in swagger["paths"]["/people/{id}"]["get"]
    imported = to_power_platform(people("v2"), ISSUER + "/people/v2")
    assert "x-ms-pageable" in imported["paths"]["/things"]["get"]
    apis, event_types, shapes = demo()
    insights = next(a for a in apis if a.metadata.name == "insights")
    views = to_power_platform(native_document(insights, "v1", ISSUER, event_types, shapes), ISSUER)
    assert all("x-ms-pageable" in item["get"] for item in views["paths"].values())
    record = views["paths"]["/invoices"]["get"]["responses"]["200"]["schema"]
    assert record["properties"]["value"]["items"]["properties"]["amount"] == {
        "type": "number",
        "description": "Invoice total in EUR",
        "x-ms-summary": "Amount",
    }


def test_power_platform_flattens_and_labels() -> None:
    swagger = to_power_platform(people("v1"), ISSUER + "/people/v1")
    get = swagger["paths"]["/people/{id}"]["get"]
    assert get["operationId"] == "GetPerson"
    assert get["summary"] == "Get person"
    person = get["responses"]["200"]["schema"]
    address = person["properties"]["address"]  # the $ref, written in place
    assert address["properties"]["geo"]["properties"]["lat"]["exclusiveMinimum"] is True
    assert address["x-ms-summary"] == "Address"
    assert person["properties"]["email"] == {  # no `email` format in a connector
        "type": "string",
        "description": "An e-mail address.",
        "x-ms-summary": "Email",
    }
    assert person["properties"]["tier"]["enum"] == ["gold", "silver"]
    contact = person["properties"]["contact"]
    assert set(contact["properties"]) == {"phone", "email"}
    assert "required" not in contact
    by_name = {p["name"]: p for p in get["parameters"]}
    assert by_name["id"] == {
        "name": "id",
        "in": "path",
        "required": True,
        "type": "integer",
        "minimum": 1,
        "x-ms-summary": "ID",
        "x-ms-visibility": "important",
        "x-ms-url-encoding": "single",
    }
    assert by_name["X-Request-Id"]["x-ms-visibility"] == "important"
    assert by_name["fields"]["items"] == {"type": "string"}
    assert by_name["expand"]["enum"] == ["address", "tags"]
    post = swagger["paths"]["/people"]["post"]
    assert len(post["summary"]) <= 80
    assert post["summary"].endswith("…")
    [body] = post["parameters"]
    assert body["in"] == "body"
    assert body["schema"]["example"] == {"name": "Ada"}
    assert body["schema"]["properties"]["name"]["x-ms-visibility"] == "important"
    patch = swagger["paths"]["/people/{id}"]["patch"]["parameters"][-1]["schema"]
    assert patch["minProperties"] == 1
    assert "name" in patch["properties"]
    moves = swagger["paths"]["/moves"]["post"]
    assert moves["responses"]["202"]["schema"]["required"] == ["id", "type", "dataschema"]
    assert moves["parameters"][0]["schema"]["required"] == ["city"]
    assert swagger["definitions"]["Problem"]["properties"]["code"]["type"] == "string"
    assert swagger["paths"]["/people"]["get"]["responses"]["default"]["schema"] == {
        "$ref": "#/definitions/Problem"
    }


def test_power_platform_of_an_imported_document() -> None:
    swagger = to_power_platform(people("v2"), ISSUER + "/people/v2")
    things = swagger["paths"]["/things"]
    assert [p["name"] for p in things["get"]["parameters"]] == ["X-Tenant", "limit"]
    assert things["get"]["operationId"] == "ListThings"
    assert things["post"]["operationId"] == "CreateThing"
    created = things["post"]["responses"]["201"]["schema"]
    assert created["required"] == ["name", "id"]
    assert "kind" in created["properties"]
    assert created["properties"]["meta"]["additionalProperties"] == {"type": "string"}
    assert things["post"]["responses"]["default"]["schema"] == {"$ref": "#/definitions/Error"}
    assert "[4XX] [5XX]" in things["post"]["responses"]["default"]["description"]
    upload = swagger["paths"]["/things/{thing}"]["put"]
    assert upload["consumes"] == ["multipart/form-data"]
    by_name = {p["name"]: p for p in upload["parameters"]}
    assert by_name["file"]["type"] == "file"
    assert by_name["file"]["in"] == "formData"
    assert by_name["thing"]["pattern"] == "^[a-z0-9-]+$"
    tree = swagger["paths"]["/things/{thing}/tree"]["get"]
    assert tree["parameters"][0]["name"] == "thing"
    parts = tree["responses"]["200"]["schema"]["properties"]["parts"]["items"]
    assert parts["type"] == "object"
    assert "properties" not in parts


def test_swagger_cli_refuses_what_the_profile_avoids(tmp_path: Path) -> None:
    """The check has teeth: a status range, as 3.x writes it, fails validation."""
    swagger = to_power_platform(people("v1"), ISSUER + "/people/v1")
    responses = swagger["paths"]["/people"]["get"]["responses"]
    responses["4XX"] = responses.pop("default")
    status, output = swagger_cli_says(swagger, tmp_path)
    assert status != 0
    assert "responses" in output


def many_routes(count: int, description: str = "") -> dict[str, Any]:
    routes = [{"path": f"/r{i}", "target": PROXY, "description": description} for i in range(count)]
    api = resource(
        {
            "kind": "Api",
            "metadata": {"name": "big"},
            "spec": {"versions": [{"name": "v1", "routes": routes}]},
        }
    )
    assert isinstance(api, Api)
    return native_document(api, "v1", ISSUER)


def test_limits_refuse_too_many_operations() -> None:
    assert len(to_power_platform(many_routes(256), ISSUER)["paths"]) == 256
    with pytest.raises(ExportLimitExceeded) as refused:
        to_power_platform(many_routes(257), ISSUER)
    problem = refused.value.problem()
    assert problem["status"] == 422
    assert problem["code"] == "export-limit-exceeded"
    assert problem["limit"] == "operations"
    assert problem["actual"] == 257
    assert "Split" in problem["remediation"]


def test_limits_refuse_a_file_over_one_megabyte() -> None:
    with pytest.raises(ExportLimitExceeded) as refused:
        to_power_platform(many_routes(2, description="x" * 600_000), ISSUER)
    problem = refused.value.problem()
    assert problem["limit"] == "bytes"
    assert problem["actual"] >= 1_000_000
    assert problem["allowed"] == 999_999


def test_registry() -> None:
    assert list(FORMATS) == ["openapi-3.1", "openapi-3.0", "power-platform", "postman"]
    with pytest.raises(UnknownExportFormat) as refused:
        export_format("raml")
    assert refused.value.problem()["formats"] == list(FORMATS)
    assert refused.value.status == 400
    chosen = export_format("power-platform")
    assert chosen.filename("people", "v1", "sandbox") == "people-v1-sandbox.swagger.json"
    assert export_format("openapi-3.1").filename("people", "v1") == "people-v1.openapi-3.1.json"
    native = people("v1")
    same = FORMATS["openapi-3.1"].render(native, ISSUER + "/sandbox/people/v1")
    assert same["servers"] == [{"url": ISSUER + "/sandbox/people/v1"}]
    assert native["servers"][0]["url"] == ISSUER + "/people/v1"  # the source is untouched


def test_postman_collection() -> None:
    collection = to_postman(people("v1"), ISSUER + "/sandbox/people/v1")
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    variables = {v["key"]: v["value"] for v in collection["variable"]}
    assert variables == {"baseUrl": ISSUER + "/sandbox/people/v1", "apiKey": ""}
    assert collection["auth"]["apikey"][1] == {
        "key": "value",
        "value": "{{apiKey}}",
        "type": "string",
    }
    requests = {
        (i["request"]["method"], i["request"]["url"]["raw"].split("?")[0]): i
        for i in collection["item"]
    }
    assert len(requests) == 6
    get = requests[("GET", "{{baseUrl}}/people/:id")]["request"]
    assert get["url"]["variable"][0]["key"] == "id"
    assert {h["key"]: h["disabled"] for h in get["header"]} == {"X-Request-Id": False}
    post = requests[("POST", "{{baseUrl}}/people")]["request"]
    assert post["body"]["raw"].replace(" ", "").replace("\n", "") == '{"name":"Ada"}'
    moves = requests[("POST", "{{baseUrl}}/moves")]["request"]
    assert '"city"' in moves["body"]["raw"]  # no example: a skeleton from the schema
