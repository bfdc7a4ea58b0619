"""An Api version whose contract is an imported OpenAPI document: read from the project,
checked against the routes, enforced by the gateway and served back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from ruamel.yaml import YAML

from isthmus.project.validate import load_project
from tests.gateway.conftest import ISSUER, Backend, Running, publish
from tests.helpers import assert_problem, write_project

CONTRACT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Org chart", "version": "1"},
    "paths": {
        "/units/{unit}": {
            "parameters": [{"$ref": "#/components/parameters/Unit"}],
            "put": {
                "parameters": [
                    {
                        "name": "dryRun",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "boolean"},
                    },
                    {
                        "name": "X-Tenant",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Node"}}
                    },
                },
                "responses": {"200": {"$ref": "#/components/responses/Saved"}},
            },
        },
        "/units": {"post": {"responses": {"201": {"description": "made"}}}},
    },
    "components": {
        "parameters": {
            "Unit": {
                "name": "unit",
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            }
        },
        "schemas": {
            # circular: a unit holds units
            "Node": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                },
            }
        },
        "responses": {
            "Saved": {
                "description": "saved",
                "content": {
                    "application/json": {"schema": {"type": "object", "required": ["saved"]}}
                },
            }
        },
    },
}


def write_yaml(path: Path, data: Any) -> None:
    with path.open("w") as stream:
        YAML(typ="safe").dump(data, stream)


def version(document: Any = CONTRACT) -> dict[str, Any]:
    return {
        "name": "v1",
        "openapi": document,
        "validateResponses": True,
        "routes": [
            {
                "method": "PUT",
                "path": "/units/{unit}",
                "target": {"type": "proxy", "connection": "crm"},
            }
        ],
    }


async def test_the_document_is_enforced_before_any_backend_call(
    running: Running, backend: Backend
) -> None:
    await publish(running, "org", [version()])
    body = orjson.dumps({"name": "root", "children": [{"name": "a"}, {"children": []}]})
    reply = await running.call(
        "PUT",
        "/org/v1/units/0",
        running.key,
        body=body,
        headers={"Content-Type": "application/json"},
    )
    problem = assert_problem(reply, 422, "request-invalid")
    assert [e["pointer"] for e in problem["errors"]] == [
        "/path/unit",
        "/query/dryRun",
        "/headers/x-tenant",
        "/body/children/1",
    ]
    assert backend.seen == []
    # valid: reaches the backend, whose answer lacks 'saved' -> the response schema catches it
    reply = await running.call(
        "PUT",
        "/org/v1/units/3",
        running.key,
        body=orjson.dumps(
            {"name": "root", "children": [{"name": "a", "children": [{"name": "b"}]}]}
        ),
        query="dryRun=true",
        headers={"Content-Type": "application/json", "X-Tenant": "t1"},
    )
    assert len(backend.seen) == 1
    assert_problem(reply, 502, "upstream-contract-violation")


async def test_the_served_document_is_the_imported_one(running: Running) -> None:
    await publish(running, "org", [version()])
    served = (await running.get("/org/v1/openapi.json", running.key)).json()
    assert served["info"] == CONTRACT["info"]
    assert [s["url"] for s in served["servers"]] == [f"{ISSUER}/org/v1"]
    assert list(served["paths"]) == ["/units/{unit}"]  # /units has no route: not offered
    assert (
        served["paths"]["/units/{unit}"]["parameters"]
        == CONTRACT["paths"]["/units/{unit}"]["parameters"]
    )
    # its own schemas, and the gateway's problems it adds to each operation's answers
    schemas = served["components"]["schemas"]
    assert schemas.items() >= CONTRACT["components"]["schemas"].items()
    assert set(schemas) - set(CONTRACT["components"]["schemas"]) == {"Problem"}
    put = served["paths"]["/units/{unit}"]["put"]
    assert put["operationId"] == "put_units_unit"  # named as the gateway names its routes
    assert "Retry-After" in put["responses"]["429"]["headers"]
    assert set(served["components"]["securitySchemes"]) == {"apiKey", "oauth2"}


def api_file(openapi: str, route_path: str = "/units/{unit}") -> str:
    return f"""
        kind: Api
        metadata: {{name: org}}
        spec:
          versions:
            - name: v1
              openapi: {openapi}
              routes:
                - method: PUT
                  path: "{route_path}"
                  target: {{type: proxy, connection: crm}}
        """


def test_a_project_reads_the_document_from_its_file(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", {"apis/org.yaml": api_file("../contracts/org.yaml")})
    (root / "contracts").mkdir()
    write_yaml(root / "contracts" / "org.yaml", CONTRACT)
    project = load_project(root, known=[("Connection", "crm")])
    assert project.ok, [str(i) for i in project.issues]  # the contract file is no resource
    [api] = project.resources.values()
    assert api.spec.versions[0].openapi == CONTRACT  # stored whole, served without the file


def test_document_problems_cite_the_file_and_field(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    write_yaml(outside, CONTRACT)
    cases = {
        "../outside.yaml": "outside the project folder",
        "missing.yaml": "there is no file 'missing.yaml'",
        "broken.json": "is not valid YAML or JSON",
    }
    for name, message in cases.items():
        root = write_project(tmp_path / name.replace("/", "_"), {"org.yaml": api_file(name)})
        (root / "broken.json").write_text("{nope")
        project = load_project(root, known=[("Connection", "crm")])
        [issue] = project.issues
        assert message in str(issue)
        assert issue.path == "spec.versions[0].openapi"
        assert issue.location.line == 6  # the 'openapi:' line
    root = write_project(
        tmp_path / "unrouted", {"org.yaml": api_file("c.json", route_path="/teams")}
    )
    (root / "c.json").write_text(orjson.dumps(CONTRACT).decode())
    [issue] = load_project(root, known=[("Connection", "crm")]).issues
    assert "route PUT /teams is not in the version's OpenAPI document" in str(issue)
