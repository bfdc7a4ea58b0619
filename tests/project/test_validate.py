"""Validation reports every problem at once, with file, line, column and field path."""

from __future__ import annotations

from pathlib import Path

from isthmus.model import ResourceKey
from isthmus.project.validate import load_project
from tests.fixtures import VALID_PROJECT
from tests.helpers import write_project


def issues_of(root: Path) -> list[tuple[str, int, str, str]]:
    project = load_project(root)
    return [(i.location.file, i.location.line, i.path, i.message) for i in project.issues]


def test_valid_project_loads_every_resource(tmp_path: Path) -> None:
    project = load_project(write_project(tmp_path, VALID_PROJECT))
    assert project.issues == []
    assert len(project.resources) == 7
    assert ResourceKey("Connection", "crm", "sandbox") in project.resources
    route = project.resources[ResourceKey("Api", "customers")].spec.versions[0].routes[1]
    assert route.method == "GET"  # written lower-case, normalised


def test_three_different_mistakes_are_all_reported_with_lines(tmp_path: Path) -> None:
    files = dict(VALID_PROJECT)
    # 1. unknown reference (line 10 of the api file), 2. wrong type (line 10 of apps.yaml),
    # 3. a literal secret (line 8 of connections.yaml)
    files["apis/customers.yaml"] = files["apis/customers.yaml"].replace(
        "connection: crm, path", "connection: crn, path"
    )
    files["apps.yaml"] = files["apps.yaml"].replace("requests: 100", "requests: lots")
    files["connections.yaml"] = files["connections.yaml"].replace(
        '"secret://crm-token"', "hunter2-plain"
    )
    found = issues_of(write_project(tmp_path, files))
    assert len(found) == 3, found
    by_file = {f: (line, path, message) for f, line, path, message in found}
    assert by_file["apis/customers.yaml"][:2] == (
        10,
        "spec.versions[0].routes[1].target.connection",
    )
    assert "Connection 'crn' does not exist" in by_file["apis/customers.yaml"][2]
    assert by_file["apps.yaml"][:2] == (10, "spec.rate.requests")
    assert by_file["connections.yaml"][:2] == (8, "spec.config.auth.token")


def test_hints_name_the_likely_fix(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "a.yaml": """
                kind: Sytem
                metadata: {name: crm, owner: x}
                """,
            "b.yaml": """
                kind: App
                metadata: {name: app}
                spec: {platfrom: Retool}
                """,
            "c.yaml": """
                kind: Api
                metadata: {name: customers}
                spec:
                  versions:
                    - name: v1
                      routes:
                        - path: /x
                          target: {type: proxy, connection: crm, pth: /y}
                """,
        },
    )
    issues = {i.location.file: i for i in load_project(root).issues}
    assert issues["a.yaml"].hint == "did you mean 'System'?"
    assert issues["b.yaml"].path == "spec.platfrom"
    assert issues["b.yaml"].hint == "did you mean 'platform'?"
    assert issues["c.yaml"].path == "spec.versions[0].routes[0].target.pth"
    assert issues["c.yaml"].hint == "did you mean 'path'?"
    assert (issues["c.yaml"].location.line, issues["c.yaml"].location.column) == (8, 50)


def test_duplicates_point_at_the_first_declaration(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "one.yaml": "kind: System\nmetadata: {name: crm, owner: a}\n",
            "two.yaml": "kind: Plan\nmetadata: {name: p}\n---\n"
            "kind: System\nmetadata: {name: crm, owner: b}\n",
        },
    )
    [issue] = load_project(root).issues
    assert (issue.location.file, issue.location.line) == ("two.yaml", 5)
    assert "declared twice" in issue.message
    assert issue.hint is not None
    assert "one.yaml:1" in issue.hint


def test_yaml_syntax_errors_and_non_mappings(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "broken.yaml": "kind: System\nmetadata: {name: crm\n",
            "list.yaml": "- just\n- a list\n",
            "dupkey.yaml": "kind: Plan\nkind: App\nmetadata: {name: x}\n",
        },
    )
    found = {i.location.file: i for i in load_project(root).issues}
    assert set(found) == {"broken.yaml", "list.yaml", "dupkey.yaml"}
    assert found["broken.yaml"].location.line >= 2
    assert "mapping" in found["list.yaml"].message
    assert found["dupkey.yaml"].location.line == 2


def test_environment_rules(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "c.yaml": """
                kind: System
                metadata: {name: crm, owner: x}
                ---
                kind: Connection
                metadata: {name: crm}
                spec: {system: crm, connector: memory}
                ---
                kind: Plan
                metadata: {name: p, environment: sandbox}
                """,
            "d.yaml": "kind: System\nmetadata: {name: erp}\n",
        },
    )
    found = sorted((i.path, i.message, i.hint) for i in load_project(root).issues)
    assert found == [
        (
            "metadata.environment",
            "required field is missing",
            "add metadata.environment: sandbox (or production)",
        ),
        (
            "metadata.environment",
            "unknown field",
            "only per-Environment kinds (Connection) have one; remove it",
        ),
        (
            "metadata.owner",
            "required field is missing",
            "add metadata.owner: the team accountable for it",
        ),
    ]


def test_connector_config_is_validated_by_the_connector_schema(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "c.yaml": """
                kind: System
                metadata: {name: crm, owner: x}
                ---
                kind: Connection
                metadata: {name: crm, environment: sandbox}
                spec:
                  system: crm
                  connector: rest
                  config:
                    baseUrl: ftp://files.example.com
                    timeoutSeconds: -1
                ---
                kind: Connection
                metadata: {name: crm, environment: production}
                spec: {system: crm, connector: soap}
                """,
        },
    )
    found = sorted((i.location.line, i.path) for i in load_project(root).issues)
    assert found == [
        (10, "spec.config.baseUrl"),
        (11, "spec.config.timeoutSeconds"),
        (15, "spec.connector"),
    ]


def test_a_missing_folder_or_empty_folder_is_an_issue(tmp_path: Path) -> None:
    assert not load_project(tmp_path / "nope").ok
    (tmp_path / "empty").mkdir()
    [issue] = load_project(tmp_path / "empty").issues
    assert issue.hint == "run 'isthmus init'"


def test_hidden_folders_are_ignored(tmp_path: Path) -> None:
    root = write_project(tmp_path, VALID_PROJECT)
    write_project(root / ".isthmus", {"junk.yaml": "not: a resource\n"})
    assert load_project(root).ok
