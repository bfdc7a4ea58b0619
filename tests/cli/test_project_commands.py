"""The project commands end to end, in-process: init, validate, apply, diff, export, schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from typer.testing import CliRunner

from isthmus.cli.main import app
from tests.fixtures import VALID_PROJECT
from tests.helpers import write_project

runner = CliRunner()


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_init_scaffolds_a_project_that_validates_and_applies(tmp_path: Path) -> None:
    code, out = cli("init", str(tmp_path / "proj"))
    assert code == 0, out
    code, out = cli("validate", str(tmp_path / "proj"))
    assert code == 0, out
    assert "5 resources are valid" in out
    code, out = cli("apply", str(tmp_path / "proj"), "--home", str(tmp_path / "home"))
    assert code == 0, out
    assert "5 to create" in out
    code, out = cli("init", str(tmp_path / "proj"))
    assert code == 1
    assert "not empty" in out


def test_validate_reports_each_problem_with_file_and_line(tmp_path: Path) -> None:
    files = dict(VALID_PROJECT)
    files["apps.yaml"] = files["apps.yaml"].replace("plan: gold", "plan: platinum")
    files["systems.yaml"] = files["systems.yaml"].replace("category: saas", "category: cloud")
    files["extra.yaml"] = "kind: Widget\nmetadata: {name: w}\n"
    code, out = cli("validate", str(write_project(tmp_path, files)))
    assert code == 1
    assert "apps.yaml:5:9: Plan 'platinum' does not exist (spec.plan)" in out
    assert "systems.yaml:6:13:" in out
    assert "(spec.category)" in out
    assert "extra.yaml:1:7: unknown kind 'Widget'" in out
    assert "3 problem(s) found" in out
    code, out = cli("validate", str(tmp_path), "--format", "json")
    assert code == 1
    assert {(i["file"], i["line"]) for i in json.loads(out)} == {
        ("apps.yaml", 5),
        ("systems.yaml", 6),
        ("extra.yaml", 1),
    }


def test_apply_export_apply_is_an_empty_diff(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    project = write_project(tmp_path / "project", VALID_PROJECT)
    code, out = cli("apply", str(project), "--home", home)
    assert code == 0, out
    assert "7 to create, 0 to update, 0 to delete" in out
    code, out = cli("export", str(tmp_path / "exported"), "--home", home)
    assert code == 0, out
    assert (tmp_path / "exported" / "connections" / "crm.sandbox.yaml").exists()
    code, out = cli("apply", str(tmp_path / "exported"), "--home", home)
    assert code == 0, out
    assert "No changes." in out
    # and the exported files alone validate
    code, out = cli("validate", str(tmp_path / "exported"))
    assert code == 0, out


def test_diff_shows_field_changes_and_prunes(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    project = write_project(tmp_path / "p", VALID_PROJECT)
    assert cli("apply", str(project), "--home", home)[0] == 0
    (project / "apps.yaml").write_text(
        (project / "apps.yaml").read_text().replace("requests: 100", "requests: 200")
    )
    (project / "systems.yaml").write_text(
        "kind: System\nmetadata: {name: crm, owner: sales-ops}\nspec: {category: saas}\n"
    )
    conns = (project / "connections.yaml").read_text().split("---")[0]
    (project / "connections.yaml").write_text(conns)
    code, out = cli("diff", str(project), "--home", home)
    assert code == 0, out
    assert "~ update Plan/gold" in out
    assert "spec.rate.requests" in out
    assert "- delete Connection/stock@sandbox" in out
    assert "- delete System/stock" in out
    assert "0 to create, 1 to update, 2 to delete" in out
    # diff changed nothing: the same diff again
    assert cli("diff", str(project), "--home", home)[1] == out
    code, out = cli("apply", str(project), "--home", home, "--no-prune")
    assert "0 to create, 1 to update, 0 to delete" in out


def test_an_invalid_project_applies_nothing(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    files = dict(VALID_PROJECT)
    files["apps.yaml"] = files["apps.yaml"].replace("[customers]", "[custmers]")
    code, out = cli("apply", str(write_project(tmp_path / "p", files)), "--home", home)
    assert code == 1
    assert "Nothing was applied" in out
    code, out = cli("export", str(tmp_path / "out"), "--home", home)
    assert "wrote 0 resources" in out


def test_schema_describes_every_kind_and_validates_documents(tmp_path: Path) -> None:
    code, out = cli("schema")
    assert code == 0
    document = json.loads(out)
    titles = {d.get("title") for d in document["$defs"].values()}
    assert {"System", "Connection", "Api", "App", "Plan"} <= titles
    validator = jsonschema.Draft202012Validator(document)
    good = {
        "kind": "App",
        "metadata": {"name": "portal"},
        "spec": {"apis": ["customers"], "plan": "gold"},
    }
    assert list(validator.iter_errors(good)) == []
    bad = {"kind": "App", "metadata": {"name": "Portal!"}, "spec": {"apis": "customers"}}
    assert list(validator.iter_errors(bad))
    code, out = cli("schema", "--kind", "Plan")
    assert json.loads(out)["title"] == "Plan"
    assert cli("schema", "--kind", "Nope")[0] == 1


def test_keys_and_secrets_commands(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    assert cli("apply", str(write_project(tmp_path / "p", VALID_PROJECT)), "--home", home)[0] == 0
    result = runner.invoke(app, ["key", "create", "portal", "--home", home, "--label", "ci"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("isk_sandbox_")
    code, out = cli("key", "list", "portal", "--home", home)
    assert "ci" in out
    assert key not in out
    code, out = cli("key", "create", "nobody", "--home", home)
    assert code == 1
    assert "No App 'nobody'" in out
    result = runner.invoke(app, ["secret", "set", "crm-token", "--home", home], input="tok-123\n")
    assert result.exit_code == 0, result.output
    assert "secret://crm-token" in cli("secret", "list", "--home", home)[1]
    assert (tmp_path / "home" / "master.key").stat().st_mode & 0o077 == 0
    assert b"tok-123" not in (tmp_path / "home" / "isthmus.db").read_bytes()


def test_user_text_is_printed_as_written(tmp_path: Path) -> None:
    files = {"a.yaml": 'kind: "[/foo]"\nmetadata: {name: x}\n'}
    code, out = cli("validate", str(write_project(tmp_path / "[bold]p", files)))
    assert code == 1
    assert "unknown kind '[/foo]'" in out
    code, out = cli("key", "create", "nope", "--home", str(tmp_path / "h"))
    assert "[not-found] No App 'nope'." in out


def test_no_prune_lets_references_point_into_the_store(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    assert cli("init", str(tmp_path / "starter"))[0] == 0
    assert cli("apply", str(tmp_path / "starter"), "--home", home)[0] == 0
    extra = write_project(
        tmp_path / "extra",
        {
            "app.yaml": "kind: App\nmetadata: {name: second}\n"
            "spec: {apis: [items], plan: standard}\n"
        },
    )
    code, out = cli("apply", str(extra), "--home", home)
    assert code == 1  # pruning would delete the Api the App needs
    code, out = cli("apply", str(extra), "--home", home, "--no-prune")
    assert code == 0, out
    assert "1 to create, 0 to update, 0 to delete" in out


def test_export_force_removes_files_of_deleted_resources(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    project = write_project(tmp_path / "p", VALID_PROJECT)
    assert cli("apply", str(project), "--home", home)[0] == 0
    assert cli("export", str(tmp_path / "out"), "--home", home)[0] == 0
    (project / "apps.yaml").write_text("kind: Plan\nmetadata: {name: gold}\n")
    (project / "apis" / "customers.yaml").unlink()
    assert cli("apply", str(project), "--home", home)[0] == 0
    assert cli("export", str(tmp_path / "out"), "--home", home)[0] == 1  # not empty
    code, out = cli("export", str(tmp_path / "out"), "--home", home, "--force")
    assert code == 0, out
    assert not (tmp_path / "out" / "apis" / "customers.yaml").exists()
    assert not (tmp_path / "out" / "apps" / "portal.yaml").exists()
    assert "No changes." in cli("diff", str(tmp_path / "out"), "--home", home)[1]


def test_paths_and_names_are_checked_before_anything_is_written(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    for command in (("init", str(afile)), ("export", str(afile))):
        code, out = cli(*command)
        assert code == 1
        assert "is a file, not a folder" in out
    home = str(tmp_path / "home")
    assert cli("apply", str(write_project(tmp_path / "p", VALID_PROJECT)), "--home", home)[0] == 0
    code, out = cli("key", "create", "portal", "-e", "Bad Env", "--home", home)
    assert code == 1
    assert "not an Environment name" in out
    result = runner.invoke(app, ["key", "create", "portal", "-e", "prodution", "--home", home])
    assert result.exit_code == 0
    assert "no Connection is declared for Environment 'prodution'" in result.output


def test_an_unusable_store_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    write_project(tmp_path / "p", VALID_PROJECT)
    result = runner.invoke(
        app,
        ["apply", str(tmp_path / "p")],
        env={"ISTHMUS_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"},
    )
    assert result.exit_code == 1
    assert "[store-unavailable] The store could not be opened" in result.output
    assert "Traceback" not in result.output


def test_signing_key_commands(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    assert cli("apply", str(write_project(tmp_path / "p", VALID_PROJECT)), "--home", home)[0] == 0
    code, out = cli("signing-key", "rotate", "--home", home)
    assert code == 0, out
    assert "new signing key" in out
    code, out = cli("signing-key", "list", "--home", home)
    assert code == 0
    assert out.count("ES256") == 1  # the first key is made when a hub starts; rotate made one


def test_a_secret_from_standard_input_keeps_all_its_lines(tmp_path: Path) -> None:
    import asyncio

    from isthmus.governance.vault import Vault
    from isthmus.settings import Settings
    from isthmus.store import Store

    home = tmp_path / "home"
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\nkqhkiG9w0BAQEF\n-----END PRIVATE KEY-----"
    result = runner.invoke(app, ["secret", "set", "key", "--home", str(home)], input=pem + "\n")
    assert result.exit_code == 0, result.output

    async def stored() -> str:
        database = f"sqlite+aiosqlite:///{home / 'isthmus.db'}"
        async with Store.open(database) as store:
            return await Vault.open(store.secrets, Settings(home=home)).resolve("secret://key")

    assert asyncio.run(stored()) == pem
