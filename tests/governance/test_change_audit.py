"""Every admin change is in the audit log: who, what, when, the document before and
after — through the admin API and through 'isthmus apply'."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from typer.testing import CliRunner

from isthmus.cli.main import app
from isthmus.settings import Settings
from isthmus.store import Store
from isthmus.store.audit import AuditFilter
from tests.gateway.conftest import Running
from tests.helpers import assert_problem, write_project

SYSTEM = {"kind": "System", "metadata": {"name": "erp", "owner": "finance"}}


async def test_admin_changes_are_recorded_with_before_and_after(running: Running) -> None:
    created = await running.admin_call("POST", "/admin/v1/systems", body=orjson.dumps(SYSTEM))
    assert created.status == 201
    changed = {**SYSTEM, "metadata": {"name": "erp", "owner": "controlling"}}
    await running.admin_call("PUT", "/admin/v1/systems/erp", body=orjson.dumps(changed))
    await running.admin_call("DELETE", "/admin/v1/systems/erp")
    log = await running.admin_call("GET", "/admin/v1/audit", query="target=system/erp")
    entries = list(reversed(log.json()["entries"]))
    assert [e["action"] for e in entries] == [
        "resource.create",
        "resource.update",
        "resource.delete",
    ]
    assert {e["actor"] for e in entries} == {"admin"}
    create, update, delete = (e["detail"] for e in entries)
    assert create["before"] is None
    assert create["after"]["metadata"]["owner"] == "finance"
    assert update["before"]["metadata"]["owner"] == "finance"
    assert update["after"]["metadata"]["owner"] == "controlling"
    assert delete["before"]["metadata"]["owner"] == "controlling"
    assert delete["after"] is None
    by_action = await running.admin_call("GET", "/admin/v1/audit", query="action=resource.")
    assert len(by_action.json()["entries"]) == 3


async def test_an_api_failing_the_lint_is_refused_by_the_admin_api(running: Running) -> None:
    api = {
        "kind": "Api",
        "metadata": {"name": "leaky"},
        "spec": {
            "versions": [
                {
                    "name": "v1",
                    "routes": [
                        {
                            "path": "/things",
                            "target": {"type": "proxy", "connection": "crm"},
                            "request": {"query": {"access_token": {"required": True}}},
                        }
                    ],
                }
            ]
        },
    }
    reply = await running.admin_call("POST", "/admin/v1/apis", body=orjson.dumps(api))
    body = assert_problem(reply, 422, "validation-failed")
    assert any("no-secret-in-query" in error["message"] for error in body["errors"])
    log = await running.admin_call("GET", "/admin/v1/audit", query="target=api/leaky")
    assert log.json()["entries"] == []


def test_isthmus_apply_records_each_change(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = write_project(
        tmp_path / "p", {"s.yaml": "kind: System\nmetadata: {name: erp, owner: finance}\n"}
    )
    result = CliRunner().invoke(app, ["apply", str(folder), "--home", str(home)])
    assert result.exit_code == 0, result.output

    async def entries() -> list[str]:
        async with Store.open(Settings(home=home).resolved_database_url()) as store:
            found = await store.audit.list(AuditFilter(target="system/erp"))
        return [f"{e.actor.split(':')[0]} {e.action}" for e in found]

    assert asyncio.run(entries()) == ["cli resource.create"]
