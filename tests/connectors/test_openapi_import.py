"""OpenAPI documents imported as declarative connector specs and draft projects."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from isthmus.cli.main import app
from isthmus.connectors.declarative.importer import import_openapi
from isthmus.connectors.declarative.spec import DeclarativeSpec

GITHUB = Path(os.environ.get("ISTHMUS_TEST_GITHUB_OPENAPI", ".cache/openapi/api.github.com.json"))
NODE = {"$ref": "#/components/schemas/Node"}
OPENAPI_31: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Helpdesk"},
    "servers": [
        {
            "url": "https://{tenant}.helpdesk.example/api",
            "variables": {"tenant": {"default": "acme"}},
        }
    ],
    "components": {
        "securitySchemes": {
            "oauth": {
                "type": "oauth2",
                "flows": {
                    "clientCredentials": {
                        "tokenUrl": "https://login.helpdesk.example/token",
                        "scopes": {"tickets.read": ""},
                    }
                },
            }
        },
        "schemas": {
            # circular: a node holds nodes
            "Node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": NODE}},
            },
            "Page": {
                "type": "object",
                "properties": {
                    "data": {"type": "array", "items": NODE},
                    "next": {"type": "string"},
                },
            },
        },
    },
    "paths": {
        "/tickets": {
            "get": {
                "operationId": "listTickets",
                "parameters": [{"name": "offset", "in": "query"}, {"name": "limit", "in": "query"}],
                "responses": {
                    "200": {
                        "content": {
                            "application/json": {"schema": {"type": "array", "items": NODE}}
                        }
                    }
                },
            },
            "post": {"operationId": "createTicket", "responses": {"201": {"description": "made"}}},
        },
        "/nodes": {
            "get": {
                "operationId": "listNodes",
                "responses": {
                    "200": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Page"}}
                        }
                    }
                },
            }
        },
        "/search": {
            "get": {
                "operationId": "search",
                "parameters": [
                    {"name": "q", "in": "query", "required": True},
                    {"name": "cursor", "in": "query"},
                ],
                "responses": {
                    "200": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "results": {"type": "array"},
                                        "nextCursor": {"type": "string"},
                                    },
                                }
                            }
                        }
                    }
                },
            }
        },
        "/tickets/{ticket-id}": {
            "delete": {"operationId": "deleteTicket", "responses": {"204": {"description": "gone"}}}
        },
    },
}
SWAGGER_2: dict[str, Any] = {
    "swagger": "2.0",
    "info": {"title": "Legacy"},
    "host": "legacy.example",
    "basePath": "/v1",
    "schemes": ["https"],
    "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}},
    "paths": {
        "/things": {
            "get": {
                "operationId": "listThings",
                "parameters": [
                    {"name": "page", "in": "query", "type": "integer"},
                    {"name": "per_page", "in": "query", "type": "integer"},
                ],
                "responses": {"200": {"schema": {"type": "array", "items": {"type": "object"}}}},
            }
        }
    },
}


def test_an_openapi_31_document_becomes_a_spec_that_loads() -> None:
    result = import_openapi(OPENAPI_31)
    spec = DeclarativeSpec.model_validate(result.spec)
    assert spec.base_url == "https://{config.tenant}.helpdesk.example/api"
    assert spec.config["tenant"].default == "acme"
    assert spec.auth is not None
    assert spec.auth.type == "oauth2-client-credentials"
    assert sorted(spec.operations) == [
        "createTicket",
        "deleteTicket",
        "listNodes",
        "listTickets",
        "search",
    ]
    assert spec.operations["deleteTicket"].path == "/tickets/{ticket_id}"
    assert spec.operations["search"].params == {"q": "{q}", "cursor": "{cursor}"}
    assert spec.operations["search"].optional == ["cursor"]
    streams = {
        name: s.model_dump(by_alias=True, exclude_none=True) for name, s in spec.streams.items()
    }
    assert streams["listTickets"]["records"] == "$"
    assert streams["listTickets"]["pagination"]["type"] == "offset"
    assert streams["listNodes"]["records"] == "data"
    assert streams["listNodes"]["pagination"] == {"type": "next-url", "url": "next"}
    assert streams["search"]["pagination"]["cursor"] == "nextCursor"
    assert result.todo == []


def test_a_swagger_20_document_and_what_is_left_to_finish() -> None:
    result = import_openapi(SWAGGER_2)
    spec = DeclarativeSpec.model_validate(result.spec)
    assert spec.base_url == "https://legacy.example/v1"
    assert spec.auth is not None
    assert spec.auth.type == "api-key"
    assert result.spec["streams"]["listThings"]["pagination"] == {
        "type": "page-number",
        "sizeParam": "per_page",
    }
    bare = import_openapi({"openapi": "3.0.3", "info": {}, "paths": {}})
    assert any("baseUrl" in item for item in bare.todo)
    assert any("no operations" in item for item in bare.todo)
    with pytest.raises(ValueError, match="not an OpenAPI document"):
        import_openapi({"kind": "System"})


def test_a_real_document_of_over_a_thousand_operations_imports_and_validates(
    tmp_path: Path,
) -> None:
    if not GITHUB.is_file():
        pytest.fail(
            f"{GITHUB} is missing: 'make test' fetches it (npm pack @octokit/openapi)",
            pytrace=False,
        )
    runner = CliRunner()
    made = runner.invoke(
        app,
        [
            "import",
            "openapi",
            str(GITHUB),
            "--system",
            "github",
            "--owner",
            "dev",
            "--out",
            str(tmp_path),
        ],
    )
    assert made.exit_code == 0, made.output
    count = int(made.output.split("operation(s)")[0].split()[-1])
    assert count > 500
    checked = runner.invoke(app, ["validate", str(tmp_path)])
    assert checked.exit_code == 0, checked.output[-2000:]
    assert "3 resources are valid" in checked.output


def test_the_cli_writes_a_project_that_validates(tmp_path: Path) -> None:
    document = tmp_path / "helpdesk.json"
    document.write_text(json.dumps(OPENAPI_31))
    runner = CliRunner()
    made = runner.invoke(
        app,
        ["import", "openapi", str(document), "--system", "helpdesk", "--out", str(tmp_path / "p")],
    )
    assert made.exit_code == 0, made.output
    assert "owner" in made.output  # left to finish, and said so
    checked = runner.invoke(app, ["validate", str(tmp_path / "p")])
    assert checked.exit_code == 0, checked.output
