"""EventTypes in a project: an incompatible new version is refused at validate and apply
with every breaking change named at its file and line; an applied version keeps its
schema and is never removed; the admin API refuses the same."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from isthmus.cli.main import app
from tests.helpers import write_project

runner = CliRunner()

V1 = """
    kind: EventType
    metadata: {name: customer-created, owner: crm-team, description: A customer was created}
    spec:
      type: com.acme.crm.customer.created
      subject: /id
      versions:
        - version: 1
          schema:
            type: object
            required: [id, name]
            properties:
              id: {type: string}
              name: {type: string}
              tier: {enum: [gold, silver]}
"""
V2_BREAKING = (
    V1
    + """
        - version: 2
          schema:
            type: object
            required: [id, name, email]
            properties:
              id: {type: string}
              name: {type: string}
              email: {type: string}
              tier: {enum: [gold]}
"""
)
V2_COMPATIBLE = (
    V1
    + """
        - version: 2
          schema:
            type: object
            required: [id, name]
            properties:
              id: {type: string}
              name: {type: string}
              email: {type: string}
              tier: {enum: [gold, silver, bronze]}
"""
)


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_an_incompatible_version_is_refused_field_by_field(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"events.yaml": V2_BREAKING})
    code, out = cli("validate", str(project))
    assert code == 1
    flat = " ".join(out.split())
    assert "events.yaml:17" in flat  # the new version's schema
    assert "v2 breaks BACKWARD compatibility" in flat
    assert "/email: required field: v2 requires it, events of v1 may lack it" in flat
    assert "/tier: v2 no longer accepts 'silver'" in flat
    relaxed = V2_BREAKING.replace("versions:", "compatibility: NONE\n      versions:")
    write_project(project, {"events.yaml": relaxed})
    assert cli("validate", str(project))[0] == 0


def test_applied_versions_keep_their_schema(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    project = write_project(tmp_path / "p", {"events.yaml": V1})
    assert cli("apply", str(project), "--home", home)[0] == 0
    write_project(project, {"events.yaml": V2_COMPATIBLE})
    code, out = cli("apply", str(project), "--home", home)
    assert code == 0, out
    # v1 edited in place, even in a way v2 still reads: refused, and nothing applied
    edited = V2_COMPATIBLE.replace("id: {type: string}", "id: {type: string, minLength: 1}", 1)
    write_project(project, {"events.yaml": edited})
    code, out = cli("apply", str(project), "--home", home)
    assert code == 1
    assert "v1's schema differs from the one applied" in " ".join(out.split())
    assert "Nothing was applied." in out
    # v1 removed: refused too
    head, v2 = V1.split("      versions:")[0], V2_COMPATIBLE.split("[gold, silver]}")[1]
    only_v2 = head + "      versions:" + v2
    write_project(project, {"events.yaml": only_v2})
    code, out = cli("apply", str(project), "--home", home)
    assert code == 1, out
    assert "v1 was applied and cannot be removed" in " ".join(out.split())
