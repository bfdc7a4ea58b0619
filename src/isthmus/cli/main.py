"""The ``isthmus`` command."""

from __future__ import annotations

import typer

from isthmus import __version__
from isthmus.cli import (
    admin,
    audit,
    catalog,
    connections,
    events,
    exports,
    imports,
    lint,
    project,
    run,
    users,
)
from isthmus.cli.common import console

app = typer.Typer(
    name="isthmus",
    help="Isthmus: the integration hub for low-code applications.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(project.init)
app.command()(project.validate)
app.command()(project.diff)
app.command()(project.apply)
app.command()(project.export)
app.command()(project.schema)
app.command()(lint.lint)
app.command()(run.serve)
app.command()(run.demo)
app.command()(audit.audit)
app.add_typer(admin.keys, name="key")
app.add_typer(admin.secrets, name="secret")
app.add_typer(admin.signing_keys, name="signing-key")
app.add_typer(connections.connections, name="connection")
app.add_typer(imports.imports, name="import")
app.add_typer(events.events, name="events")
app.add_typer(exports.apis, name="api")
app.add_typer(catalog.catalog, name="catalog")
app.add_typer(users.users, name="user")


@app.command()
def connectors() -> None:
    """List the installed connector types."""
    from isthmus.connectors import registry

    for name in registry.names():
        console.print(f"{name:12} {registry.connector_type(name).summary}")


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


def main() -> None:
    app()
