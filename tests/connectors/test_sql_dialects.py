"""The databases the SQL connector reaches through extras, without a live server here:
their configs, the guard in their dialects, the SQL their streams compile to, and the
drivers that are installed really being used (they fail to connect, as they should).
PostgreSQL, MariaDB and SQLite are tested for real in test_sql_connector.py."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects import mssql, oracle

from isthmus.connectors.base import Filter, StreamQuery
from isthmus.connectors.registry import connector_type
from isthmus.connectors.sql.config import DRIVERS, SqlConfig
from isthmus.connectors.sql.guard import Grants, Schema, StatementRefused, check
from isthmus.connectors.sql.streams import select_for
from isthmus.errors import ConfigurationError, UpstreamUnreachable
from isthmus.testing import ConnectorCase

URLS = {
    "mssql+pymssql": "mssql+pymssql://reports@127.0.0.1:1/sales",
    "oracle+oracledb": "oracle+oracledb://reports@127.0.0.1:1/?service_name=sales",
    "db2+ibm_db": "db2+ibm_db://reports@db2.example.com:50000/sales",
    "snowflake": "snowflake://reports@acme-xy12345/sales/public?warehouse=reporting",
    "bigquery": "bigquery://acme-project/sales",
    "databricks": "databricks://token@adb-1.azuredatabricks.net?http_path=/sql/1.0/w/1",
}
SCHEMA = Schema({"orders": frozenset({"id", "customer", "total"})})


def test_every_driver_names_an_extra_the_package_declares() -> None:
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    extras = project["project"]["optional-dependencies"]
    for name, driver in DRIVERS.items():
        assert driver.extra == "" or driver.extra in extras, name


@pytest.mark.parametrize("driver", sorted(URLS))
def test_configs_validate_and_the_cost_guard_is_off_where_no_planner_is_read(
    driver: str,
) -> None:
    config = SqlConfig.model_validate({"url": URLS[driver]})
    assert config.driver.threaded
    assert config.cost_limit is None  # the default limit applies only where it is read
    with pytest.raises(ValidationError, match="cost guard reads the planner"):
        SqlConfig.model_validate({"url": URLS[driver], "maxCost": 1000.0})
    assert SqlConfig.model_validate({"url": URLS[driver], "maxCost": None}).cost_limit is None


@pytest.mark.parametrize("parser", sorted({d.parser for d in DRIVERS.values()}))
def test_the_guard_holds_in_every_dialect(parser: str) -> None:
    grants = Grants({})
    for sql in [
        "DROP TABLE orders",
        "SELECT id FROM orders WHERE id = 1; DELETE FROM orders",
        "DELETE FROM orders",
        "SELECT secret FROM orders",
        "SELECT id FROM payroll",
    ]:
        with pytest.raises(StatementRefused):
            check(sql, parser, SCHEMA, grants)
    checked = check("SELECT id, total FROM orders WHERE customer = :c", parser, SCHEMA, grants)
    assert checked.parameters == ("c",)
    assert ":c" in checked.sql  # bound by the driver, never spliced in


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (mssql.dialect(), "SELECT TOP __[POSTCOMPILE_param_1]"),
        (oracle.dialect(), "FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY"),
    ],
)
def test_streams_compile_to_each_dialects_own_limit(dialect: sa.Dialect, expected: str) -> None:
    table = sa.Table(
        "orders",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("total", sa.Numeric),
    )
    query = StreamQuery(filters=(Filter("total", "gt", 100),), fields=("id",), limit=5)
    compiled = select_for(table, query, 1000, None).compile(dialect=dialect)
    assert expected in str(compiled)
    assert "100" not in str(compiled)  # the filter's value is a bound parameter
    assert 100 in compiled.params.values()


@pytest.mark.parametrize("driver", ["mssql+pymssql", "oracle+oracledb"])
async def test_installed_drivers_are_really_used(driver: str) -> None:
    """Their drivers are installed here: opening one connects for real, and a closed
    port is the connector's plain 'could not be reached'."""
    connection = ConnectorCase(
        connector_type("sql"), {"url": URLS[driver], "allowPrivateNetwork": True}
    )
    with pytest.raises(UpstreamUnreachable, match="could not be reached"):
        async with connection.open():
            pass


@pytest.mark.parametrize("driver", ["snowflake", "bigquery", "databricks", "db2+ibm_db"])
async def test_a_driver_not_installed_names_its_extra(driver: str) -> None:
    connection = ConnectorCase(connector_type("sql"), {"url": URLS[driver]})
    with pytest.raises(ConfigurationError) as refused:
        async with connection.open():
            pass
    assert f"isthmus[{DRIVERS[driver].extra}]" in refused.value.remediation
