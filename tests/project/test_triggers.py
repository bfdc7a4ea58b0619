"""Triggers in a project: each names one source and an EventType that exists; an outbox
belongs to a SQL Connection; ``isthmus connection outbox`` prints the table to create
(the outbox tests run that statement on PostgreSQL and MariaDB)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from isthmus.cli.main import app
from tests.helpers import write_project
from tests.project.test_event_types import V1

runner = CliRunner()

SYSTEM = """
    kind: System
    metadata: {name: shop, owner: sales-ops}
"""


def connection(connector: str, config: str, triggers: str) -> str:
    return f"""
    kind: Connection
    metadata: {{name: shop, environment: sandbox}}
    spec:
      system: shop
      connector: {connector}
      config: {config}
      triggers:
{triggers}
"""


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())


def test_triggers_are_checked_where_they_are_declared(tmp_path: Path) -> None:
    two_sources = connection(
        "rest",
        "{baseUrl: 'https://shop.example.com'}",
        "        - {name: hooks, eventType: customer-created, outbox: {},"
        " webhook: {secret: 'secret://hook'}}\n",
    )
    files = {"events.yaml": V1, "system.yaml": SYSTEM, "shop.yaml": two_sources}
    project = write_project(tmp_path / "p", files)
    code, out = cli("validate", str(project))
    assert code == 1
    assert "shop.yaml:8:7" in out  # the trigger's line
    assert "give exactly one source: 'outbox', 'webhook' or 'poll'" in out
    misplaced = connection(
        "rest",
        "{baseUrl: 'https://shop.example.com'}",
        "        - {name: orders, eventType: customer-created, outbox: {}}\n"
        "        - {name: later, eventType: order-shipped, poll: {stream: orders}}\n",
    )
    write_project(project, {"shop.yaml": misplaced})
    code, out = cli("validate", str(project))
    assert code == 1
    assert "an outbox is a table in a SQL database; connector 'rest' has none" in out
    unknown = connection(
        "rest",
        "{baseUrl: 'https://shop.example.com'}",
        "        - {name: later, eventType: order-shipped, poll: {stream: orders}}\n",
    )
    write_project(project, {"shop.yaml": unknown})
    code, out = cli("validate", str(project))
    assert code == 1
    assert "EventType 'order-shipped' does not exist" in out


def test_the_outbox_table_is_printed_in_the_connections_dialect(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    for url, expected in [
        ("postgresql+asyncpg://shop@127.0.0.1/shop", "id BIGSERIAL NOT NULL"),
        ("mysql+aiomysql://shop@127.0.0.1/shop", "id BIGINT NOT NULL AUTO_INCREMENT"),
    ]:
        shop = connection(
            "sql",
            f"{{url: '{url}', allowPrivateNetwork: true}}",
            "        - {name: orders, eventType: customer-created,"
            " outbox: {table: sales.events_out}}\n",
        )
        project = write_project(
            tmp_path / "p", {"events.yaml": V1, "system.yaml": SYSTEM, "shop.yaml": shop}
        )
        assert cli("apply", str(project), "--home", home)[0] == 0
        code, out = cli("connection", "outbox", "shop", "--home", home)
        assert code == 0, out
        assert "CREATE TABLE sales.events_out (" in out
        assert expected in out
        assert "CREATE INDEX ix_sales_events_out_event_type ON sales.events_out (event_type)" in out
    code, out = cli("connection", "outbox", "nowhere", "--home", home)
    assert code == 1
    assert "No Connection 'nowhere' in Environment 'sandbox'" in out
