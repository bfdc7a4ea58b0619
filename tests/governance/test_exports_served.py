"""Where exports are fetched: the admin API's export endpoint, and ``isthmus api export``."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
from openapi_spec_validator import validate
from typer.testing import CliRunner

from isthmus.cli.main import app as cli
from tests.gateway.conftest import Running, backend, publish, running
from tests.governance.test_exports import DEMO, assert_profile, swagger_cli_says
from tests.helpers import Reply, asgi_call, assert_problem

__all__ = ["backend", "running"]  # the hub the control plane tests use

EXPORT = "/admin/v1/apis/{api}/versions/{version}/export"


async def export(running: Running, api: str, version: str, query: str) -> Reply:
    return await running.admin_call("GET", EXPORT.format(api=api, version=version), query=query)


async def test_power_platform_file_for_the_sandbox(running: Running, tmp_path: Path) -> None:
    reply = await export(running, "customers", "v2", "format=power-platform&environment=sandbox")
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["content-disposition"] == (
        'attachment; filename="customers-v2-sandbox.swagger.json"'
    )
    swagger = reply.json()
    issuer = running.hub.settings.issuer()
    assert f"{swagger['schemes'][0]}://{swagger['host']}" == issuer
    assert swagger["basePath"] == "/sandbox/customers/v2"
    assert swagger["securityDefinitions"]["oauth2"]["tokenUrl"] == f"{issuer}/oauth/token"
    status, output = swagger_cli_says(swagger, tmp_path)
    assert status == 0, output


async def test_openapi_files(running: Running) -> None:
    reply = await export(running, "stock", "v1", "format=openapi-3.0")
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    assert reply.headers["content-disposition"].endswith('filename="stock-v1.openapi-3.0.json"')
    document = reply.json()
    validate(document)
    assert document["openapi"] == "3.0.3"
    assert document["servers"] == [{"url": running.hub.settings.issuer() + "/stock/v1"}]
    reply = await export(running, "customers", "v1", "format=openapi-3.1")
    assert reply.status == 200
    assert reply.json()["openapi"] == "3.1.0"
    assert reply.json()["paths"]["/customers"]["get"]["deprecated"] is True
    reply = await export(running, "stock", "v1", "format=postman&environment=sandbox")
    assert reply.headers["content-disposition"].endswith(
        'filename="stock-v1-sandbox.postman_collection.json"'
    )
    assert len(reply.json()["item"]) == 4


async def test_unknown_names_are_problems(running: Running) -> None:
    assert_problem(await export(running, "nope", "v1", "format=openapi-3.1"), 404, "not-found")
    body = assert_problem(
        await export(running, "customers", "v9", "format=openapi-3.1"), 404, "not-found"
    )
    assert body["versions"] == ["v1", "v2", "v3", "v0"]
    body = assert_problem(
        await export(running, "customers", "v2", "format=raml"), 400, "export-format-unknown"
    )
    assert body["formats"] == ["openapi-3.1", "openapi-3.0", "power-platform", "postman"]
    body = assert_problem(
        await export(running, "customers", "v2", "format=openapi-3.1&environment=staging"),
        422,
        "validation-failed",
    )
    assert body["errors"][0]["path"] == "query.environment"
    assert_problem(await export(running, "customers", "v2", ""), 422, "validation-failed")


async def test_the_admin_token_is_required(running: Running) -> None:
    path = EXPORT.format(api="customers", version="v2")
    reply = await asgi_call(running.control, "GET", path, query="format=openapi-3.1")
    assert_problem(reply, 401, "unauthenticated")


async def test_too_large_for_power_platform(running: Running) -> None:
    target = {"type": "proxy", "connection": "crm"}
    routes = [{"path": f"/r{i}", "target": target} for i in range(257)]
    await publish(running, "wide", [{"name": "v1", "routes": routes}])
    body = assert_problem(
        await export(running, "wide", "v1", "format=power-platform"),
        422,
        "export-limit-exceeded",
    )
    assert body["limit"] == "operations"
    assert body["allowed"] == 256
    reply = await export(running, "wide", "v1", "format=openapi-3.0")  # others have no limit
    assert reply.status == 200


async def test_the_admin_api_documents_the_endpoint(running: Running) -> None:
    reply = await asgi_call(running.control, "GET", "/admin/openapi.json")
    operation = reply.json()["paths"]["/admin/v1/apis/{api}/versions/{version}/export"]["get"]
    assert operation["tags"] == ["Api"]
    [fmt] = [p for p in operation["parameters"] if p["name"] == "format"]
    assert fmt["schema"]["enum"] == ["openapi-3.1", "openapi-3.0", "power-platform", "postman"]


def test_cli_writes_a_connector_file_from_a_project(tmp_path: Path) -> None:
    args = ["api", "export", "customers", "--version", "v1", "--format", "power-platform"]
    args += ["--project", str(DEMO), "--environment", "sandbox", "--issuer", "https://hub.test"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = tmp_path / "customers-v1-sandbox.swagger.json"
    swagger = orjson.loads(written.read_bytes())
    assert swagger["host"] == "hub.test"
    assert swagger["basePath"] == "/sandbox/customers/v1"
    assert_profile(swagger, issuer="https://hub.test")
    status, output = swagger_cli_says(swagger, tmp_path)
    assert status == 0, output


def test_cli_prints_to_standard_output() -> None:
    args = ["api", "export", "crm-events", "-v", "v1", "-f", "openapi-3.0", "-p", str(DEMO)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    validate(json.loads(result.stdout))


def test_cli_refuses_an_unknown_format() -> None:
    args = ["api", "export", "customers", "-v", "v1", "-f", "wsdl", "-p", str(DEMO)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "export-format-unknown" in result.output
    assert "power-platform" in result.output
