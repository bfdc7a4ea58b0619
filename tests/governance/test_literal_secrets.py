"""Literal secrets are refused wherever a resource carries them: by shape, by field name
and by randomness — with the file, line and the reference to write instead."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from isthmus.cli.main import app
from isthmus.governance.literals import entropy, literal_secrets, looks_random
from isthmus.project.validate import load_project
from tests.gateway.conftest import Running
from tests.helpers import assert_problem, write_project

SYSTEM = "kind: System\nmetadata: {name: crm, owner: a}\n---\n"
# Shapes of real credentials, assembled so the source holds no scannable token.
GITHUB = "ghp_" + "x7Yq2LmN9pQ4rS8tU1vW3zA5bC6dE0fG2hJ4"
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
JWT = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dBjftJeZ4CVPmB92K27uhbUJU1p1r"
PEM = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
RANDOM = "q8Zr3Kf9Lw2Xp7Vb4Nc6Md1Tg5Hs0Jy"


def connection(config: str) -> str:
    return SYSTEM + (
        "kind: Connection\n"
        "metadata: {name: crm, environment: sandbox}\n"
        "spec:\n"
        "  system: crm\n"
        "  connector: rest\n"
        "  config:\n" + config
    )


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (GITHUB, "GitHub token"),
        (AWS, "AWS access key"),
        (JWT, "JSON Web Token"),
        (PEM, "private key"),
        ("Bearer abcdefgh12345678", "Authorization header"),
        ("https://ops:hunter22@crm.example/api", "password in a URL"),
        ("https://crm.example/api?api_key=abcdef123456", "credential in a URL's query"),
        ("Server=db;User Id=sa;Password=Hunter2x;", "password in a connection string"),
        (RANDOM, "random-looking"),
    ],
)
def test_shapes_are_recognised_in_fields_with_innocent_names(value: str, what: str) -> None:
    found = list(literal_secrets({"config": {"note": value}}, ("spec",)))
    assert len(found) == 1
    assert found[0][0] == ("spec", "config", "note")
    assert what in found[0][1]


@pytest.mark.parametrize(
    "value",
    [
        "secret://crm-token",  # a reference
        "{config.token}",  # a declarative connector's placeholder
        "Bearer {config.token}",
        "https://crm.example/api?limit=10",
        "0f4c2a9b8e7d6c5b4a39281706f5e4d3c2b1a098",  # hex digests: at most 4 bits a char
        "550e8400-e29b-41d4-a716-446655440000",  # a UUID
        "customers_by_country_and_tier_v2",
        "/var/lib/isthmus/exports/customers",
    ],
)
def test_references_placeholders_and_ordinary_values_pass(value: str) -> None:
    assert list(literal_secrets({"config": {"note": value}})) == []


def test_randomness_counts_only_in_configuration() -> None:
    document = {
        "description": RANDOM,
        "versions": [{"routes": [{"examples": {"response": {"id": RANDOM}}}]}],
        "config": {"schema": {"default": RANDOM}, "region": RANDOM},
    }
    assert [path for path, _ in literal_secrets(document)] == [("config", "region")]
    # but a known shape is a secret even in an example
    assert list(literal_secrets({"examples": {"response": {"token": GITHUB}}}))


def test_entropy_measures_bits_per_character() -> None:
    assert entropy("aaaa") == 0
    assert entropy("abcd") == 2
    assert not looks_random("abcdefghijklmnopqrstuvwxyz")  # one kind of character
    assert looks_random(RANDOM)


def test_a_project_is_refused_with_the_line_and_the_reference_to_write(tmp_path: Path) -> None:
    text = connection(
        "    baseUrl: https://x.example\n"
        f"    headers: {{X-Tenant: {RANDOM}}}\n"
        f"    auth: {{type: bearer, token: '{JWT}'}}\n"
    )
    project = load_project(write_project(tmp_path, {"crm.yaml": text}))
    issues = {issue.path: issue for issue in project.issues}
    assert set(issues) == {"spec.config.headers.X-Tenant", "spec.config.auth.token"}
    tenant = issues["spec.config.headers.X-Tenant"]
    assert tenant.location.line == 11
    assert "random-looking" in tenant.message
    assert tenant.hint is not None
    assert "secret://headers-x-tenant" in tenant.hint
    for issue in project.issues:
        assert RANDOM not in str(issue)
        assert JWT not in str(issue)


def test_isthmus_apply_refuses_and_writes_nothing(tmp_path: Path) -> None:
    text = connection(f"    baseUrl: https://x.example\n    headers: {{X-Key-Id: {GITHUB}}}\n")
    folder = write_project(tmp_path / "p", {"crm.yaml": text})
    home = tmp_path / "home"
    result = CliRunner().invoke(app, ["apply", str(folder), "--home", str(home)])
    assert result.exit_code == 1
    assert "GitHub token" in result.output
    assert "crm.yaml:11" in result.output
    assert GITHUB not in result.output
    assert (
        not (home / "isthmus.db").exists()
        or GITHUB.encode() not in (home / "isthmus.db").read_bytes()
    )


async def test_the_admin_api_refuses_with_a_problem_naming_the_field(running: Running) -> None:
    connection_doc = {
        "kind": "Connection",
        "metadata": {"name": "leaky", "environment": "sandbox"},
        "spec": {
            "system": "crm",
            "connector": "rest",
            "config": {"baseUrl": f"https://ops:{RANDOM}@crm.example/"},
        },
    }
    reply = await running.admin_call(
        "POST", "/admin/v1/connections", body=orjson.dumps(connection_doc)
    )
    body = assert_problem(reply, 422, "validation-failed")
    [error] = body["errors"]
    assert error["path"] == "spec.config.baseUrl"
    assert "password in a URL" in error["message"]
    assert "secret://" in error["hint"]
    assert RANDOM not in reply.body.decode()
