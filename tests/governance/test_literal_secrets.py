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
from tests.project.test_edge_cases import SYSTEM, connection

# Shapes of real credentials, assembled so the source holds no scannable token.
GITHUB = "ghp_" + "x7Yq2LmN9pQ4rS8tU1vW3zA5bC6dE0fG2hJ4"
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
JWT = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dBjftJeZ4CVPmB92K27uhbUJU1p1r"
PEM = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
RANDOM = "q8Zr3Kf9Lw2Xp7Vb4Nc6Md1Tg5Hs0Jy"


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


# Ordinary configuration values a project really holds: none may be refused.
ORDINARY = [
    ("baseUrl", "https://api.contoso.com/v2/customers?api-version=2024-01-01"),
    ("url", "postgresql+asyncpg://shop@db.internal:5432/shop"),
    ("expression", "$sum(Account.Order.Product.(Price*Quantity))"),
    ("id", "3F2B1C9E-8D7A-4B6C-9E5F-1A2B3C4D5E6F"),
    ("path", "C:\\Data\\Exports\\Invoices2024Q1Final"),
    ("object", "Opportunity_Line_Item_2024__c"),
    ("nodeId", "ns=2;s=Line1.Machine07.SpindleTemperature"),
    ("image", "ghcr.io/ContosoLtd/IntegrationWorker:v2024.10.1"),
    ("email", "Jane.Doe2024@ContosoPharma.com"),
    ("consumerGroup", "CRM-Sync-Worker-EU-West-2024"),
    ("sheet", "Sales_Report_Q3_2024_FINAL_v2"),
    ("sharepointSite", "ContosoSalesTeamSite2024Europe"),
    ("dataverseEntity", "cr7b2_SalesOrderLineItems"),
    ("nextToken", "$.meta.nextPageToken"),
    ("cursorToken", "response.body.next_token"),
    ("authorization", "none"),
    ("sessionToken", "header"),
    ("tokenUrl", "https://login.microsoftonline.com/contoso/oauth2/v2.0/token"),
    ("passwordSelector", "#ctl00_MainContent_txtPassword"),
    (
        "logo",
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    ),
]
# Credentials in the forms they take in configuration: every one refused.
LEAKED = [
    ("url", "redis://:S3cr3tPassw0rd@cache.internal:6379/0"),
    ("url", "https://contoso-fn.azurewebsites.net/api/Orders?code=q8Zx1kAaPz0bX7cVt3Nw"),
    ("url", "https://api.newsapi.org/v2/top?apiKey=4f9a2c7e1b8d4e6fa0c3b5d7e9f1a2c4"),
    ("url", "https://contoso.azure-api.net/orders?subscription-key=0123456789abcdef0123"),
    ("dsn", "host=db.internal port=5432 user=app password=hunter2xyz dbname=shop"),
    ("Ocp-Apim-Subscription-Key", "0123456789abcdef0123456789abcdef"),
    ("pwd", "Summer2024!"),
    ("webhook", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"),
    ("teams", "https://contoso.webhook.office.com/webhookb2/1a2b@3c4d/IncomingWebhook/5e6f/7a8b"),
    ("basic", "basic YWRtaW46aHVudGVyMg=="),
]


@pytest.mark.parametrize(("name", "value"), ORDINARY)
def test_ordinary_configuration_values_are_not_refused(name: str, value: str) -> None:
    assert list(literal_secrets({"config": {name: value}})) == []


@pytest.mark.parametrize(("name", "value"), LEAKED)
def test_credentials_in_their_usual_forms_are_refused(name: str, value: str) -> None:
    assert len(list(literal_secrets({"config": {name: value}}))) == 1


def test_examples_are_data_and_a_false_alarm_can_be_waived(tmp_path: Path) -> None:
    api = (
        "kind: Api\nmetadata: {name: users}\nspec:\n  versions:\n    - name: v1\n"
        "      routes:\n        - method: POST\n          path: /users\n"
        "          target: {type: proxy, connection: crm}\n"
        "          examples: {request: {name: Ada, password: correct-horse-battery}}\n"
    )
    project = load_project(write_project(tmp_path / "a", {"api.yaml": SYSTEM + api}))
    assert [i for i in project.issues if "literal secret" in i.message] == []

    text = connection(f"    baseUrl: https://x.example\n    headers: {{X-Tenant: {RANDOM}}}\n")
    flagged = load_project(write_project(tmp_path / "b", {"c.yaml": text}))
    assert [i.path for i in flagged.issues] == ["spec.config.headers.X-Tenant"]
    waived = text.replace(
        "metadata: {name: crm, environment: sandbox}",
        "metadata:\n  name: crm\n  environment: sandbox\n"
        "  labels: {isthmus.dev/not-a-secret: spec.config.headers.X-Tenant}",
    )
    assert load_project(write_project(tmp_path / "c", {"c.yaml": waived})).issues == []


def test_an_imported_document_is_judged_by_its_servers_not_its_examples(
    tmp_path: Path,
) -> None:
    example = {"application/json": {"example": {"token": GITHUB}}}  # a vendor's sample
    ok = {"200": {"description": "ok", "content": example}}
    document = orjson.dumps(
        {"openapi": "3.1.0", "info": {"title": "x", "version": "1"},
         "paths": {"/x": {"servers": [{"url": "https://ops:hunter2@erp.internal/api"}],
                          "get": {"responses": ok}}}}
    ).decode()  # fmt: skip
    api = (
        "kind: Api\nmetadata: {name: leaky}\nspec:\n  versions:\n    - name: v1\n"
        f"      openapi: {document}\n"
        "      routes: [{method: GET, path: /x, target: {type: proxy, connection: crm}}]\n"
    )
    project = load_project(write_project(tmp_path, {"api.yaml": SYSTEM + api}))
    found = [i for i in project.issues if "literal secret" in i.message]
    assert [i.path for i in found] == ["spec.versions[0].openapi.paths./x.servers[0].url"]
    assert "password in a URL" in found[0].message
