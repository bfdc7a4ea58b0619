"""``isthmus catalog``: search the catalog and export it for Backstage — from a project
folder (before it is applied, e.g. in CI) or from the store."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from isthmus.cli.common import HomeOption, bad, console, fail, ok, run, settings
from isthmus.governance.catalog import CATALOGUED, Catalog, Filters, build_entries
from isthmus.governance.catalog.backstage import HubComponent, backstage_entities, backstage_yaml
from isthmus.model import Resource
from isthmus.project.validate import load_project
from isthmus.store import Store
from isthmus.store.access import Grant

catalog = typer.Typer(
    help="The catalog: Apis, EventTypes, Views, Systems and Apps.", no_args_is_help=True
)

ProjectOption = typer.Option(
    None, "--project", "-p", help="Read this project folder instead of the store."
)


async def _stored(home: Path | None) -> tuple[list[Resource], list[Grant]]:
    async with Store.open(settings(home).resolved_database_url()) as store:
        _, resources = await store.resources.snapshot()
        return resources, await store.access.grants()


def _read(project: Path | None, home: Path | None) -> tuple[list[Resource], list[Grant]]:
    """The resources (and, from the store, the grants of approved access requests)."""
    if project is None:
        return run(_stored(home))
    loaded = load_project(project)
    if not loaded.ok:
        for issue in loaded.issues:
            bad(str(issue))
        fail(f"{project} has {len(loaded.issues)} problem(s); fix them to read its catalog")
        raise typer.Exit(1)
    return list(loaded.resources.values()), []


@catalog.command("search")
def search(
    query: str = typer.Argument("", help="Words to find; the last may be the start of a word."),
    kind: list[str] = typer.Option([], "--kind", "-k", help=f"One of {', '.join(CATALOGUED)}."),
    owner: list[str] = typer.Option([], "--owner", help="Owned by this team or person."),
    system: list[str] = typer.Option([], "--system", help="Touching this System."),
    lifecycle: list[str] = typer.Option(
        [], "--lifecycle", help="experimental, production or deprecated."
    ),
    tag: list[str] = typer.Option([], "--tag", help="Tagged so."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
    project: Path | None = ProjectOption,
    home: Path | None = HomeOption,
) -> None:
    """Find catalog entries by words and filters (each filter may be repeated: any of
    its values will do), best matches first."""
    resources, grants = _read(project, home)
    filters = Filters(kind=kind, owner=owner, system=system, lifecycle=lifecycle, tag=tag)
    found = Catalog(build_entries(resources, grants)).search(query, filters, limit=limit)
    if not found.hits:
        console.print("Nothing in the catalog matches.")
        raise typer.Exit(0)
    table = Table(box=None, pad_edge=False)
    for column in ("kind", "name", "owner", "lifecycle"):
        table.add_column(column, no_wrap=True)
    table.add_column("systems", overflow="fold")
    table.add_column("description", overflow="fold")
    for hit in found.hits:
        entry = hit.entry
        table.add_row(
            entry.kind,
            entry.name,
            entry.owner or "-",
            entry.lifecycle,
            ", ".join(entry.systems) or "-",
            entry.title or entry.description or "",
        )
    console.print(table)
    shown = f"{len(found.hits)} of {found.total}" if found.total > len(found.hits) else "all"
    console.print(f"{found.total} found ({shown} shown).")


@catalog.command("export")
def export(
    fmt: str = typer.Option("backstage", "--format", "-f", help="backstage (the only one)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file."),
    issuer: str | None = typer.Option(
        None, "--issuer", help="The gateway's public URL (default: the hub's token issuer)."
    ),
    owner: str = typer.Option(
        HubComponent.owner, "--owner", help="Owner of the hub's Component and unowned entries."
    ),
    project: Path | None = ProjectOption,
    home: Path | None = HomeOption,
) -> None:
    """Write the catalog as Backstage entities: one multi-document catalog-info.yaml
    (to standard output by default). Views' columns are left open here; a running hub
    describes them (GET /admin/v1/catalog/backstage)."""
    if fmt != "backstage":
        fail(f"'{fmt}' is not a catalog export format: use backstage")
        raise typer.Exit(1)
    resources, grants = _read(project, home)
    base = issuer or settings(home).issuer()
    entities = backstage_entities(
        build_entries(resources, grants), resources, base, hub=HubComponent(owner=owner)
    )
    text = backstage_yaml(entities)
    if out is None:
        console.out(text, highlight=False, end="")
        return
    out.write_text(text, encoding="utf-8")
    ok(f"wrote {out} ({len(entities)} entities)")
