"""A View's schema is checked on apply: planned against the Connections it reads (a
memory Connection here, opened for the check), its key and columns held to its SQL."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from isthmus.cli.main import app
from tests.helpers import write_project

runner = CliRunner()

BASE = {
    "crm.yaml": """\
kind: System
metadata: {name: crm, owner: sales}
---
kind: Connection
metadata: {name: crm, environment: sandbox}
spec:
  system: crm
  connector: memory
  config:
    collections:
      customers:
        records:
          - {id: 1, name: Ada, tier: gold}
          - {id: 2, name: Grace, tier: silver}
""",
}


def apply(tmp_path: Path, view: str) -> tuple[int, str]:
    project = write_project(tmp_path / "project", {**BASE, "view.yaml": view})
    result = runner.invoke(app, ["apply", str(project), "--home", str(tmp_path / "home")])
    return result.exit_code, result.output


def test_a_view_that_fits_its_sources_applies(tmp_path: Path) -> None:
    code, out = apply(
        tmp_path,
        """\
kind: View
metadata: {name: gold_customers}
spec:
  sql: SELECT id, name FROM crm.customers WHERE tier = 'gold'
  key: [id]
  columns:
    id: {type: integer}
""",
    )
    assert code == 0, out
    assert "3 to create" in out


def test_a_view_whose_sql_does_not_fit_is_refused_where_it_is_written(tmp_path: Path) -> None:
    code, out = apply(
        tmp_path,
        """\
kind: View
metadata: {name: gold_customers}
spec:
  sql: SELECT id, colour FROM crm.customers
""",
    )
    assert code == 1
    assert "view.yaml:4:" in out
    assert "colour" in out
    assert "Nothing was applied." in out


def test_declared_keys_and_types_are_held_to_the_sql(tmp_path: Path) -> None:
    code, out = apply(
        tmp_path,
        """\
kind: View
metadata: {name: gold_customers}
spec:
  sql: SELECT id, name FROM crm.customers
  key: [customer_id]
  columns:
    name: {type: integer}
""",
    )
    assert code == 1
    assert "key column 'customer_id' is not a column of the View" in out
    assert "column 'name' is declared integer but the SQL gives string" in out


def test_a_view_over_a_view_that_reads_itself_is_refused(tmp_path: Path) -> None:
    code, out = apply(
        tmp_path,
        """\
kind: View
metadata: {name: first}
spec: {sql: SELECT * FROM second}
---
kind: View
metadata: {name: second}
spec: {sql: SELECT * FROM first}
""",
    )
    assert code == 1
    assert "circle" in out
