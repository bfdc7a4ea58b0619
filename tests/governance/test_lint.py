"""The API lint: each rule fires on a bad Api and stays quiet on a good one; apply
refuses on errors and shows warnings; ``isthmus lint`` exits by severity; the demo
Apis lint clean."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from isthmus.cli.main import app
from isthmus.governance.lint import RULES, LintReport, Severity, lint_api
from isthmus.governance.lint.context import VersionContext
from isthmus.governance.lint.nouns import is_plural
from isthmus.governance.lint.rules.credentials import looks_like_credential
from isthmus.model import Api, EventType
from isthmus.project.validate import load_project
from tests.fixtures import VALID_PROJECT
from tests.helpers import write_project

DEMO = Path(__file__).parents[2] / "src" / "isthmus" / "demo" / "project"

GOOD_ROUTE: dict[str, Any] = {
    "method": "GET",
    "path": "/customers/{id}",
    "operationId": "getCustomer",
    "summary": "Get one customer",
    "description": "One customer by id.",
    "target": {"type": "proxy", "connection": "crm"},
    "request": {"path": {"id": {"schema": {"type": "string"}, "example": "c-1"}}},
    "response": {"type": "object", "properties": {"id": {"type": "string"}}},
    "examples": {"response": {"id": "c-1"}},
}
GOOD_LIST: dict[str, Any] = {
    "method": "GET",
    "path": "/customers",
    "operationId": "listCustomers",
    "summary": "List customers",
    "description": "Customers, a page at a time.",
    "target": {"type": "proxy", "connection": "crm"},
    "collection": {"key": "id", "fields": {"id": {}, "tier": {}}},
    "examples": {"response": {"id": "c-1", "tier": "gold"}},
}
GOOD_POST: dict[str, Any] = {
    "method": "POST",
    "path": "/customers",
    "operationId": "createCustomer",
    "summary": "Create a customer",
    "description": "A new customer in the CRM.",
    "target": {"type": "proxy", "connection": "crm"},
    "request": {"body": {"type": "object"}},
    "response": {"type": "object"},
    "examples": {"request": {"name": "Ada"}, "response": {"id": "c-1"}},
}


def api(*routes: dict[str, Any], **version: Any) -> Api:
    return Api.model_validate(
        {
            "kind": "Api",
            "metadata": {"name": "crm", "description": "The CRM."},
            "spec": {"versions": [{"name": "v1", "routes": list(routes), **version}]},
        }
    )


def route(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def rules_hit(report: LintReport) -> set[tuple[str, Severity]]:
    return {(f.rule, f.severity) for f in report}


def test_a_well_described_api_has_no_findings() -> None:
    report = lint_api(api(GOOD_ROUTE, GOOD_LIST, GOOD_POST))
    assert list(report) == []
    assert report.ok


def test_every_rule_has_a_stable_id_and_a_title() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids)) == 9
    assert all(r.title for r in RULES)
    assert {
        "collection-plural-noun",
        "operation-id",
        "operation-summary",
        "operation-description",
        "operation-examples",
        "paging-parameters-consistent",
        "errors-problem-json",
        "rate-limit-429-retry-after",
        "no-secret-in-query",
    } == set(ids)


def test_a_route_named_after_its_path_is_a_warning_pointing_at_the_route() -> None:
    report = lint_api(api(route(GOOD_ROUTE, operationId=None)))
    [finding] = report
    assert (finding.rule, finding.severity) == ("operation-id", Severity.warning)
    assert "get_customers_id" in finding.message
    assert finding.path == ("spec", "versions", 0, "routes", 0, "operationId")
    assert finding.pointer == "/paths/~1customers~1{id}/get"
    assert finding.route == "GET /customers/{id}"
    assert finding.remediation


def imported(paths: dict[str, Any]) -> Api:
    """An Api whose version carries its own OpenAPI document, one route per operation."""
    document = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths}
    routes = [
        {"method": method.upper(), "path": path, "target": {"type": "proxy", "connection": "crm"}}
        for path, item in paths.items()
        for method in item
    ]
    return api(*routes, openapi=document)


def operation(**fields: Any) -> dict[str, Any]:
    return {
        "summary": "s",
        "description": "d",
        "responses": {"200": {"description": "ok"}},
        **fields,
    }


def test_an_imported_operationid_used_twice_is_an_error() -> None:
    report = lint_api(
        imported(
            {
                "/a": {"get": operation(operationId="same")},
                "/b": {"get": operation(operationId="same")},
            }
        )
    )
    assert [(f.rule, f.severity) for f in report if f.rule == "operation-id"] == [
        ("operation-id", Severity.error),
        ("operation-id", Severity.error),
    ]
    named = lint_api(imported({"/a": {"get": operation(operationId="getA")}}))
    assert not [f for f in named if f.rule == "operation-id"]


def test_an_operation_without_any_operationid_is_an_error() -> None:
    # a document from elsewhere (the gateway's own always names operations)
    owner = api(GOOD_ROUTE)
    document = {"openapi": "3.1.0", "paths": {"/x": {"get": operation()}}}
    context = VersionContext(owner, owner.spec.versions[0], 0, document)
    [rule] = [r for r in RULES if r.id == "operation-id"]
    [finding] = rule.run(context)
    assert finding.severity is Severity.error
    assert finding.pointer == "/paths/~1x/get/operationId"


def test_summary_and_description_missing_are_warnings_at_their_fields() -> None:
    report = lint_api(api(route(GOOD_ROUTE, summary=None, description=None)))
    assert rules_hit(report) == {
        ("operation-summary", Severity.warning),
        ("operation-description", Severity.warning),
    }
    paths = {f.rule: f.path for f in report}
    assert paths["operation-summary"][-1] == "summary"
    assert paths["operation-description"][-1] == "description"


def test_examples_missing_for_path_parameters_bodies_and_answers() -> None:
    bare = route(
        GOOD_ROUTE, examples=None, request={"path": {"id": {"schema": {"type": "string"}}}}
    )
    report = lint_api(api(bare, route(GOOD_POST, examples=None)))
    found = sorted((f.route, f.message.split(" of ")[0], f.path[-2:]) for f in report)
    assert found == [
        ("GET /customers/{id}", "path parameter 'id'", ("id", "example")),
        ("GET /customers/{id}", "the 200 answer", ("examples", "response")),
        ("POST /customers", "the 200 answer", ("examples", "response")),
        ("POST /customers", "the request body", ("examples", "request")),
    ]
    assert {f.severity for f in report} == {Severity.warning}


@pytest.mark.parametrize(
    ("path", "plural"),
    [
        ("/customer/{id}", False),
        ("/customers/{id}", True),
        ("/people/{id}", True),
        ("/status/{id}", False),
        ("/salesOrders/{id}/lineItems/{n}", True),
        ("/sales-order/{id}/line-items/{n}", False),
    ],
)
def test_collections_named_as_plural_nouns(path: str, plural: bool) -> None:
    params = {p: {"schema": {"type": "string"}, "example": "1"} for p in ("id", "n")}
    used = {k: v for k, v in params.items() if "{" + k + "}" in path}
    report = lint_api(api(route(GOOD_ROUTE, path=path, request={"path": used})))
    hits = [f for f in report if f.rule == "collection-plural-noun"]
    assert (not hits) == plural, [f.message for f in report]
    if hits:
        assert hits[0].severity is Severity.warning


def test_a_singular_list_route_is_flagged_but_an_action_is_not() -> None:
    single = lint_api(api(route(GOOD_LIST, path="/customer")))
    assert [f.rule for f in single] == ["collection-plural-noun"]
    action = route(GOOD_POST, path="/customer/refresh")  # not a list: not a collection name
    assert lint_api(api(action)).ok
    assert not [f for f in lint_api(api(action)) if f.rule == "collection-plural-noun"]


def test_plural_heuristic() -> None:
    assert [is_plural(w) for w in ("invoices", "data", "addresses", "customer_360")] == [
        True,
        True,
        True,
        False,
    ]
    assert [is_plural(w) for w in ("address", "analysis", "order", "bus")] == [False] * 4


def test_paging_of_its_own_is_a_warning_and_collections_are_quiet() -> None:
    offset = route(
        GOOD_ROUTE,
        path="/customers",
        request={
            "query": {
                "offset": {"schema": {"type": "integer"}},
                "limit": {"schema": {"type": "integer"}},
            }
        },
        response={"type": "array"},
    )
    [finding] = [f for f in lint_api(api(offset)) if f.rule == "paging-parameters-consistent"]
    assert finding.severity is Severity.warning
    assert "'offset', 'limit'" in finding.message
    assert finding.path[-3:] == ("request", "query", "offset")
    assert not [f for f in lint_api(api(GOOD_LIST)) if f.rule == "paging-parameters-consistent"]


def test_collections_of_different_page_sizes_are_advice() -> None:
    other = route(GOOD_LIST, path="/orders", operationId="listOrders")
    other["collection"] = {**other["collection"], "maxLimit": 100, "defaultLimit": 10}
    [finding] = [
        f for f in lint_api(api(GOOD_LIST, other)) if f.rule == "paging-parameters-consistent"
    ]
    assert finding.severity is Severity.info
    assert "100 (GET /orders)" in finding.message
    assert "1000 (GET /customers)" in finding.message


def test_errors_without_problem_json_are_an_error() -> None:
    plain = operation(
        operationId="getA",
        responses={
            "200": {"description": "ok"},
            "404": {"description": "no", "content": {"application/json": {}}},
        },
    )
    owner = api(GOOD_ROUTE)
    document = {"openapi": "3.1.0", "paths": {"/a": {"get": plain}}}
    context = VersionContext(owner, owner.spec.versions[0], 0, document)
    [rule] = [r for r in RULES if r.id == "errors-problem-json"]
    [finding] = rule.run(context)
    assert finding.severity is Severity.error
    # the gateway adds its problems to an imported document: then only the backend's own
    # 404 is left, a warning
    report = lint_api(imported({"/a": {"get": plain}}))
    assert rules_hit(report) == {("errors-problem-json", Severity.warning)}


def test_a_429_without_retry_after_is_an_error() -> None:
    owner = api(GOOD_ROUTE)
    [rule] = [r for r in RULES if r.id == "rate-limit-429-retry-after"]

    def run(responses: dict[str, Any]) -> list[str]:
        document = {"paths": {"/a": {"get": operation(operationId="a", responses=responses)}}}
        context = VersionContext(owner, owner.spec.versions[0], 0, document)
        return [f.message for f in rule.run(context) if f.severity is Severity.error]

    assert run({"200": {"description": "ok"}}) == [
        "GET /a does not declare 429, though the App's Plan limits it"
    ]
    assert run({"429": {"description": "slow down"}}) == [
        "the 429 answer of GET /a does not declare Retry-After"
    ]
    assert run({"429": {"description": "slow down", "headers": {"Retry-After": {}}}}) == []
    # the gateway's own documents declare it, on every operation
    assert not [f for f in lint_api(api(GOOD_ROUTE, GOOD_POST)) if f.rule.startswith("rate")]


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("api_key", True),
        ("apiKey", True),
        ("access_token", True),
        ("password", True),
        ("client-secret", True),
        ("key", True),
        ("sort_key", False),
        ("pageToken", False),
        ("monkey", False),
        ("tier", False),
    ],
)
def test_credential_names(name: str, credential: bool) -> None:
    assert looks_like_credential(name) is credential


@pytest.mark.parametrize(
    ("name", "credential"),
    [("key", False), ("sessionId", False), ("objectKey", False), ("apiKey", True),
     ("token", True), ("password", True)],
)  # fmt: skip
def test_in_a_path_only_unmistakable_credentials_count(name: str, credential: bool) -> None:
    assert looks_like_credential(name, "path") is credential


def test_a_credential_in_the_query_is_an_error_at_its_field() -> None:
    leaky = route(
        GOOD_ROUTE, request={"path": GOOD_ROUTE["request"]["path"], "query": {"token": {}}}
    )
    [finding] = lint_api(api(leaky))
    assert (finding.rule, finding.severity) == ("no-secret-in-query", Severity.error)
    assert finding.path[-3:] == ("request", "query", "token")
    assert "header" in finding.remediation


def test_the_odata_faces_api_key_is_the_declared_exception() -> None:
    owner = api(GOOD_ROUTE)
    [rule] = [r for r in RULES if r.id == "no-secret-in-query"]
    key = {"name": "api_key", "in": "query", "schema": {"type": "string"}}

    def run(path: str) -> int:
        document = {"paths": {path: {"get": operation(operationId="a", parameters=[key])}}}
        return len(list(rule.run(VersionContext(owner, owner.spec.versions[0], 0, document))))

    assert run("/odata/customers") == 0
    assert run("/customers") == 1


def test_event_routes_are_documented_from_their_event_type() -> None:
    event_type = EventType.model_validate(
        {
            "kind": "EventType",
            "metadata": {"name": "customer-created", "owner": "sales-ops"},
            "spec": {
                "type": "com.example.customer.created",
                "versions": [{"version": 1, "schema": {"type": "object"}}],
            },
        }
    )
    publish = {
        "method": "POST",
        "path": "/customer-created",
        "operationId": "publishCustomerCreated",
        "description": "Publish it.",
        "target": {"type": "event", "eventType": "customer-created"},
    }
    report = lint_api(api(publish), {"customer-created": event_type})
    [finding] = report  # the summary is made from the EventType; the 202 is the gateway's
    assert finding.rule == "operation-examples"
    assert finding.path[-2:] == ("examples", "request")
    publish["examples"] = {"request": {"id": "c-7"}}
    assert list(lint_api(api(publish), {"customer-created": event_type})) == []


def test_the_demo_apis_lint_without_errors() -> None:
    project = load_project(DEMO)
    assert project.ok, project.issues
    assert project.lint_errors == []
    # what is left, and why: the demo CRM pages with limit/offset (its route passes them
    # through); customer_360 is a View's name
    assert sorted(issue.message.split(":")[0] for issue in project.warnings) == [
        "[collection-plural-noun] insights v1",
        "[paging-parameters-consistent] customers v1",
    ]


runner = CliRunner()


def test_isthmus_lint_exits_by_severity(tmp_path: Path) -> None:
    result = runner.invoke(app, ["lint", str(DEMO), "--format", "json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["ok"] is True
    assert answer["counts"]["error"] == 0
    assert {f["rule"] for f in answer["findings"]} >= {"collection-plural-noun"}
    located = [f for f in answer["findings"] if f["api"] == "customers"]
    assert located[0]["location"].startswith("customers-api.yaml:")

    only = runner.invoke(app, ["lint", str(DEMO), "--format", "json", "--min-severity", "warning"])
    assert {f["severity"] for f in json.loads(only.output)["findings"]} == {"warning"}

    bad = write_project(tmp_path / "bad", {**VALID_PROJECT, "apis/customers.yaml": LEAKY})
    result = runner.invoke(app, ["lint", str(bad)], env={"COLUMNS": "250"})
    assert result.exit_code == 1
    assert "no-secret-in-query" in result.output
    assert "error" in result.output


LEAKY = """
    kind: Api
    metadata: {name: customers, owner: sales-ops}
    spec:
      versions:
        - name: v1
          routes:
            - method: GET
              path: /customers
              summary: List customers
              target: {type: proxy, connection: crm}
              request:
                query:
                  access_token: {schema: {type: string}}
    """


def test_apply_refuses_lint_errors_with_file_and_line(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "project", {**VALID_PROJECT, "apis/customers.yaml": LEAKY})
    result = runner.invoke(app, ["apply", str(folder), "--home", str(tmp_path / "home")])
    assert result.exit_code == 1
    assert "apis/customers.yaml:13:" in result.output  # the parameter's line
    assert "[no-secret-in-query]" in result.output
    assert "Nothing was applied." in result.output
    validate = runner.invoke(app, ["validate", str(folder)])
    assert validate.exit_code == 1


def test_apply_shows_warnings_and_goes_on(tmp_path: Path) -> None:
    # VALID_PROJECT's routes have no summaries, descriptions or names of their own
    folder = write_project(tmp_path / "project", VALID_PROJECT)
    result = runner.invoke(app, ["apply", str(folder), "--home", str(tmp_path / "home")])
    assert result.exit_code == 0, result.output
    assert "warning apis/customers.yaml:" in result.output
    assert "[operation-summary] customers v1" in result.output
    assert "applied (store revision" in result.output
