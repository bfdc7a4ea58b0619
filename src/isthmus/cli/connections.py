"""``isthmus connection test``: open one Connection as the gateway would and run its
connector's health check, saying in plain words what failed and what to do."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer
from pydantic import ValidationError

from isthmus.cli.common import HomeOption, err, fail, ok, run, settings
from isthmus.connectors.base import ConnectorContext, Health
from isthmus.connectors.registry import connector_type
from isthmus.errors import IsthmusError, NotFound
from isthmus.governance.audit import AuditLog
from isthmus.governance.vault import Vault
from isthmus.model import Connection, ResourceKey
from isthmus.store import Store

connections = typer.Typer(help="Connections to Systems.", no_args_is_help=True)


@connections.command("test")
def connection_test(
    name: str = typer.Argument(..., help="The Connection."),
    environment: str = typer.Option("sandbox", "--environment", "-e"),
    home: Path | None = HomeOption,
) -> None:
    """Open the Connection and run its health check (exit status 1 when it fails)."""

    async def go() -> tuple[Health, float]:
        s = settings(home)
        async with Store.open(s.resolved_database_url()) as store:
            key = ResourceKey(Connection.__name__, name, environment)
            connection = await store.resources.get(key)
            if not isinstance(connection, Connection):
                raise NotFound(
                    f"No Connection '{name}' in Environment '{environment}'.",
                    remediation="Apply a project that declares it, or name its Environment "
                    "with --environment.",
                )
            vault = Vault.open(store.secrets, s)
            context = ConnectorContext(name, environment, vault, AuditLog(store.audit))
            kind = connector_type(connection.spec.connector)
            try:
                config = kind.config_model.model_validate(connection.spec.config)
            except ValidationError:
                return Health(False, "Its config does not validate; run 'isthmus validate'."), 0
            started = time.perf_counter()
            try:
                async with kind.open(config, context) as it:
                    health = await it.check()
            except IsthmusError as exc:
                health = Health(False, f"{exc.detail} {exc.remediation}")
            return health, time.perf_counter() - started

    health, seconds = run(go())
    if health.ok:
        ok(f"{name} ({environment}): {health.detail} in {seconds * 1000:.0f} ms")
        return
    fail(f"{name} ({environment}) failed its check: {health.detail}")
    raise typer.Exit(1)


@connections.command("authorize")
def connection_authorize(
    name: str = typer.Argument(..., help="A Connection whose spec uses an authorization code."),
    environment: str = typer.Option("sandbox", "--environment", "-e"),
    port: int = typer.Option(8765, help="The loopback port the System redirects back to."),
    wait_seconds: float = typer.Option(300, help="How long to wait for the consent."),
    home: Path | None = HomeOption,
) -> None:
    """Ask a person's consent (OAuth 2.0 with PKCE) and keep the refresh token in the vault."""
    import webbrowser

    from isthmus.connectors.declarative.config import DeclarativeConfig
    from isthmus.connectors.declarative.consent import authorize

    def show(address: str) -> None:
        err.print(f"Open this address, sign in and approve the access:\n  {address}")
        if sys.stdin.isatty():  # a person at a terminal: open it for them
            webbrowser.open(address)

    async def go() -> str:
        s = settings(home)
        async with Store.open(s.resolved_database_url()) as store:
            connection = await store.resources.get(
                ResourceKey(Connection.__name__, name, environment)
            )
            if not isinstance(connection, Connection):
                raise NotFound(f"No Connection '{name}' in Environment '{environment}'.")
            kind = connector_type(connection.spec.connector)
            config = kind.config_model.model_validate(connection.spec.config)
            spec = getattr(config, "spec", None) or getattr(config, "bound_spec", None)
            if not isinstance(config, DeclarativeConfig) or spec is None:
                raise NotFound(
                    f"Connection '{name}' is not a declarative one; nothing to authorize."
                )
            vault = Vault.open(store.secrets, s)
            return await authorize(
                spec,
                config,
                vault,
                port=port,
                show=show,
                environment=environment,
                wait_seconds=wait_seconds,
            )

    reference = run(go())
    ok(f"{name} ({environment}) is authorized; its refresh token is in {reference}")


@connections.command("outbox")
def connection_outbox(
    name: str = typer.Argument(..., help="A SQL Connection with an outbox trigger."),
    environment: str = typer.Option("sandbox", "--environment", "-e"),
    home: Path | None = HomeOption,
) -> None:
    """Print the CREATE TABLE of the Connection's outbox in its database's dialect."""
    from sqlalchemy.engine import make_url

    from isthmus.connectors.sql.config import SqlConfig
    from isthmus.connectors.sql.outbox import create_statement

    async def go() -> Connection:
        async with Store.open(settings(home).resolved_database_url()) as store:
            found = await store.resources.get(ResourceKey(Connection.__name__, name, environment))
        if not isinstance(found, Connection):
            raise NotFound(
                f"No Connection '{name}' in Environment '{environment}'.",
                remediation="Apply a project that declares it, or name its Environment "
                "with --environment.",
            )
        return found

    connection = run(go())
    tables = sorted({t.outbox.table for t in connection.spec.triggers if t.outbox is not None})
    if connection.spec.connector != "sql" or not tables:
        fail(f"{name} ({environment}) is not a SQL Connection with an outbox trigger.")
        raise typer.Exit(1)
    url = make_url(SqlConfig.model_validate(connection.spec.config).url)
    dialect = url.get_dialect()()
    for table in tables:
        sys.stdout.write(create_statement(table, dialect) + "\n")
