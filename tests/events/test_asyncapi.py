"""The AsyncAPI 3.0 export: valid against the official AsyncAPI schema (from the npm
registry, fetched by make test), with a channel per EventType, a message per version and
the routes that publish them; served by the admin API and written by the CLI."""

from __future__ import annotations

import asyncio
from pathlib import Path

import jsonschema
import orjson
import pytest
from typer.testing import CliRunner

from isthmus.cli.main import app
from tests.gateway.conftest import Running

SCHEMA = Path(__file__).parents[2] / ".cache" / "asyncapi" / "3.0.0.json"


def official() -> jsonschema.Draft7Validator:
    if not SCHEMA.exists():
        pytest.fail(f"{SCHEMA} is missing: run 'make test' (it fetches it with npm)", False)
    return jsonschema.Draft7Validator(orjson.loads(SCHEMA.read_bytes()))


async def test_the_export_is_valid_asyncapi_with_every_version(
    running: Running, events: object
) -> None:
    reply = await running.admin_call("GET", "/admin/v1/asyncapi")
    assert reply.status == 200
    document = reply.json()
    errors = [f"{list(e.path)}: {e.message}" for e in official().iter_errors(document)]
    assert errors == []
    channel = document["channels"]["customer-created"]
    assert channel["address"] == "{environment}.customer-created"
    assert "sandbox" in channel["parameters"]["environment"]["enum"]
    v1, v2 = channel["messages"]["v1"], channel["messages"]["v2"]
    assert v1["tags"][0]["name"] == "deprecated"
    payload = v2["payload"]["properties"]
    assert payload["type"] == {"const": "com.acme.crm.customer.created"}
    assert payload["dataschema"] == {"const": "urn:isthmus:eventtype:customer-created:v2"}
    data = document["components"]["schemas"][payload["data"]["$ref"].rsplit("/", 1)[1]]
    assert data["required"] == ["id", "name"]
    operation = document["operations"]["publish-customer-created"]
    assert operation["action"] == "send"
    assert "POST /crm-events/v1/customers" in operation["description"]
    # the CLI writes the same document from the same store
    out = running.hub.settings.home / "asyncapi.json"
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["events", "export", "--out", str(out), "--home", str(running.hub.settings.home)],
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(out.read_bytes()) == document


def test_the_official_schema_refuses_what_is_not_asyncapi() -> None:
    broken = {"asyncapi": "3.0.0", "info": {"title": "no version"}, "channels": {"x": 1}}
    assert list(official().iter_errors(broken))  # the check can fail


def test_schemas_with_local_references_stay_resolvable() -> None:
    from isthmus.events.asyncapi import asyncapi_document
    from isthmus.model import EventType

    tree = EventType.model_validate(
        {
            "kind": "EventType",
            "metadata": {"name": "org-changed", "owner": "hr"},
            "spec": {
                "versions": [
                    {
                        "version": 1,
                        "schema": {
                            "type": "object",
                            "properties": {
                                "unit": {"$ref": "#/$defs/unit"},
                                "parent": {"$ref": "#"},
                            },
                            "$defs": {"unit": {"type": "string"}},
                        },
                    }
                ]
            },
        }
    )
    document = asyncapi_document([tree], [], ["production"])
    assert list(official().iter_errors(document)) == []
    refs: list[str] = []

    def collect(node: object) -> None:
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref" and isinstance(v, str))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(document)
    for ref in refs:  # every local reference names something in the document
        target: object = document
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(target, dict), ref
            assert part in target, ref
            target = target[part]
    schemas = document["components"]["schemas"]
    assert schemas["org-changed.v1"]["properties"]["unit"] == {
        "$ref": "#/components/schemas/org-changed.v1.unit"
    }
    assert schemas["org-changed.v1"]["properties"]["parent"] == {
        "$ref": "#/components/schemas/org-changed.v1"
    }
