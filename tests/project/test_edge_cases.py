"""Odd inputs a project author will write sooner or later: each a clean, located issue."""

from __future__ import annotations

from pathlib import Path

import pytest

from isthmus.project.validate import load_project
from tests.helpers import write_project

SYSTEM = "kind: System\nmetadata: {name: crm, owner: a}\n---\n"


def only_issue(tmp_path: Path, text: str) -> tuple[int, int, str, str, str | None]:
    project = load_project(write_project(tmp_path, {"x.yaml": text}))
    assert len(project.issues) == 1, [str(i) for i in project.issues]
    [issue] = project.issues
    return issue.location.line, issue.location.column, issue.path, issue.message, issue.hint


def connection(config: str) -> str:
    return SYSTEM + (
        "kind: Connection\n"
        "metadata: {name: crm, environment: sandbox}\n"
        "spec:\n"
        "  system: crm\n"
        "  connector: rest\n"
        "  config:\n" + config
    )


def test_a_tag_that_is_also_a_field_name_is_not_in_the_path(tmp_path: Path) -> None:
    text = connection(
        "    baseUrl: https://x.example\n"
        "    auth: {type: header, header: X-Api-Key, value: hunter2}\n"
    )
    line, column, path, message, _ = only_issue(tmp_path, text)
    assert (line, path) == (11, "spec.config.auth.value")
    assert column == 52  # at 'hunter2', not at 'X-Api-Key'
    assert "literal secret" in message
    assert "hunter2" not in message


def test_config_typos_get_a_suggestion(tmp_path: Path) -> None:
    text = connection("    baseUrl: https://x.example\n    timeoutSecs: 5\n")
    _, _, path, message, hint = only_issue(tmp_path, text)
    assert (path, message, hint) == (
        "spec.config.timeoutSecs",
        "unknown field",
        "did you mean 'timeoutSeconds'?",
    )


def test_an_invalid_secret_name_is_not_called_a_literal(tmp_path: Path) -> None:
    text = connection(
        "    baseUrl: https://x.example\n    auth: {type: bearer, token: 'secret://Crm_Token'}\n"
    )
    _, _, _, message, hint = only_issue(tmp_path, text)
    assert message == "not a valid secret reference"
    assert hint is not None
    assert "lower-case" in hint


@pytest.mark.parametrize("header", ["Proxy-Authorization", "X-Authorization", "X-Auth-Token"])
def test_credential_headers_need_references(tmp_path: Path, header: str) -> None:
    text = connection(f"    baseUrl: https://x.example\n    headers: {{{header}: abc}}\n")
    _, _, path, message, _ = only_issue(tmp_path, text)
    assert path == f"spec.config.headers.{header}"
    assert "literal secret" in message


def test_operation_target_typo_gets_a_suggestion(tmp_path: Path) -> None:
    text = (
        "kind: Api\nmetadata: {name: a}\nspec:\n  versions:\n    - name: v1\n      routes:\n"
        "        - path: /x\n"
        "          target: {type: operation, connection: crm, operaton: x}\n"
    )
    project = load_project(write_project(tmp_path, {"x.yaml": text}))
    hints = {i.path: i.hint for i in project.issues}
    assert hints["spec.versions[0].routes[0].target.operaton"] == "did you mean 'operation'?"


@pytest.mark.parametrize(
    ("plan_spec", "path"),
    [
        ("rate: {requests: '10'}", "spec.rate.requests"),
        ("rate: {requests: 5, burst: true}", "spec.rate.burst"),
        ("dailyQuota: 1e3", "spec.dailyQuota"),
    ],
)
def test_no_silent_type_coercion(tmp_path: Path, plan_spec: str, path: str) -> None:
    text = f"kind: Plan\nmetadata: {{name: p}}\nspec: {{{plan_spec}}}\n"
    assert only_issue(tmp_path, text)[2] == path


def test_merge_keys_do_not_crash_and_are_located(tmp_path: Path) -> None:
    text = "kind: System\nmetadata:\n  <<: {name: crm, owner: a, ownr: b}\n"
    line, _, path, message, hint = only_issue(tmp_path, text)
    assert (line, path, message, hint) == (
        2,
        "metadata.ownr",
        "unknown field",
        "did you mean 'owner'?",
    )


def test_an_empty_value_is_located_at_its_key(tmp_path: Path) -> None:
    text = "kind: System\nmetadata: {name: crm, owner: a}\nspec:\n  category:\n  vendor: v\n"
    line, column, path, _, _ = only_issue(tmp_path, text)
    assert (line, column, path) == (4, 3, "spec.category")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!binary aGVsbG8=", "unsupported YAML value"),
        (".inf", "infinite"),
        ("!!set {a, b}", "unsupported YAML value"),
    ],
)
def test_values_json_cannot_hold_are_refused(tmp_path: Path, value: str, message: str) -> None:
    text = f"kind: System\nmetadata: {{name: crm, owner: a}}\nspec:\n  vendor: {value}\n"
    line, _, _, found, _ = only_issue(tmp_path, text)
    assert line == 4
    assert message in found


def test_a_project_of_empty_files_is_refused(tmp_path: Path) -> None:
    _, _, _, message, _ = only_issue(tmp_path, "")
    assert message == "the project declares no resources"


def test_route_path_mistakes_are_not_called_names(tmp_path: Path) -> None:
    text = (
        "kind: Api\nmetadata: {name: a}\nspec:\n  versions:\n    - name: v1\n      routes:\n"
        "        - {path: x, target: {type: proxy, connection: crm}}\n"
    )
    project = load_project(write_project(tmp_path, {"x.yaml": text}))
    issue = next(i for i in project.issues if i.path.endswith(".path"))
    assert issue.hint is None or "names use" not in issue.hint


def test_literal_secrets_are_reported_beside_schema_errors(tmp_path: Path) -> None:
    text = connection(
        "    baseUrl: https://x.example\n    timeoutSecs: 5\n    headers: {X-Api-Key: abc}\n"
    ).replace("system: crm", "system: crm\n  sytem: typo")
    project = load_project(write_project(tmp_path, {"x.yaml": text}))
    paths = sorted(i.path for i in project.issues)
    assert paths == ["spec.config.headers.X-Api-Key", "spec.sytem"]


def test_a_document_that_is_a_plain_value_is_located(tmp_path: Path) -> None:
    text = "kind: System\nmetadata: {name: crm, owner: a}\n---\n# a note\njust some text\n"
    line, column, _, message, _ = only_issue(tmp_path, text)
    assert (line, column) == (5, 1)
    assert "mapping" in message
