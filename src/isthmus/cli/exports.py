"""``isthmus api export``: an Api version's contract as a file a low-code platform
imports — from a project folder (before it is applied, e.g. in CI) or from the store."""

from __future__ import annotations

from pathlib import Path

import typer

from isthmus.cli.common import HomeOption, bad, console, err, fail, ok, run, settings
from isthmus.errors import IsthmusError, NotFound
from isthmus.governance.exports import FORMATS, export_format, serialize
from isthmus.governance.exports.native import Environment, native_document, server_url
from isthmus.model import Api, EventType, Resource
from isthmus.project.validate import load_project
from isthmus.store import Store

apis = typer.Typer(help="Apis: their contracts as files to import.", no_args_is_help=True)


async def _stored(home: Path | None) -> list[Resource]:
    async with Store.open(settings(home).resolved_database_url()) as store:
        return await store.resources.list()


def _from_project(folder: Path) -> list[Resource]:
    project = load_project(folder)
    if not project.ok:
        for issue in project.issues:
            bad(str(issue))
        fail(f"{folder} has {len(project.issues)} problem(s); fix them to export from it")
        raise typer.Exit(1)
    return list(project.resources.values())


@apis.command("export")
def export(
    api: str = typer.Argument(..., help="The Api's name."),
    version: str = typer.Option(..., "--version", "-v", help="The version to export."),
    fmt: str = typer.Option("openapi-3.1", "--format", "-f", help=f"One of: {', '.join(FORMATS)}."),
    environment: str = typer.Option(
        "production", "--environment", "-e", help="Whose endpoint: production or sandbox."
    ),
    project: Path | None = typer.Option(
        None, "--project", "-p", help="Read this project folder instead of the store."
    ),
    issuer: str | None = typer.Option(
        None, "--issuer", help="The gateway's public URL (default: the hub's token issuer)."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="A file, or a folder to write the usual file name into."
    ),
    home: Path | None = HomeOption,
) -> None:
    """Write one Api version as OpenAPI 3.1 or 3.0, a Power Platform custom connector
    (Swagger 2.0) or a Postman collection (to standard output by default).

    Views are described from their planned shapes only by a running hub
    (GET /admin/v1/apis/API/versions/VERSION/export); here their records stay open."""
    if environment not in ("production", "sandbox"):
        fail(f"'{environment}' is not an Environment with an endpoint: production or sandbox")
        raise typer.Exit(1)
    where: Environment = "sandbox" if environment == "sandbox" else "production"
    resources = _from_project(project) if project is not None else run(_stored(home))
    base = (issuer or settings(home).issuer()).rstrip("/")
    try:
        chosen = export_format(fmt)
        found = next((r for r in resources if isinstance(r, Api) and r.metadata.name == api), None)
        if found is None:
            raise NotFound(
                f"No Api '{api}'.", remediation="Check the name with 'isthmus validate'."
            )
        event_types = {r.metadata.name: r for r in resources if isinstance(r, EventType)}
        native = native_document(found, version, base, event_types)
        document = serialize(chosen.render(native, server_url(base, api, version, where)))
    except IsthmusError as exc:
        fail(f"[{exc.code}] {exc.detail}")
        err.print(f"  what to do: {exc.remediation}")
        raise typer.Exit(1) from None
    if out is None:
        console.out(document.decode(), highlight=False)
        return
    target = out / chosen.filename(api, version, where) if out.is_dir() else out
    target.write_bytes(document + b"\n")
    ok(f"wrote {target} ({chosen.name}, {len(document):,} bytes)")
