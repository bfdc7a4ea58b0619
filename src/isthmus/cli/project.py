"""Project commands: init, validate, diff, apply, export, schema."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from isthmus.cli.common import HomeOption, console, err, run, settings
from isthmus.model import Resource, json_schema_document, json_schemas
from isthmus.project.diff import Diff, compute_diff
from isthmus.project.export import export_project, resource_filename
from isthmus.project.scaffold import scaffold
from isthmus.project.validate import LoadedProject, load_project
from isthmus.store import Store

ProjectDir = typer.Argument(Path("."), help="The project folder (or one YAML file).")


def init(
    directory: Path = typer.Argument(..., help="Folder to create the project in."),
    force: bool = typer.Option(False, help="Write into a folder that is not empty."),
) -> None:
    """Create a starter project: a System, a Connection, an Api, an App and a Plan."""
    if directory.exists() and any(directory.iterdir()) and not force:
        err.print(f"[red]error[/red] {directory} is not empty (use --force to write anyway)")
        raise typer.Exit(1)
    for path in scaffold(directory):
        console.print(f"  created {path}")
    console.print(
        f"\nNext: [bold]isthmus validate {directory}[/bold], then "
        f"[bold]isthmus apply {directory}[/bold]"
    )


def _report(project: LoadedProject, fmt: str) -> None:
    if fmt == "json":
        console.print_json(json.dumps([issue.as_dict() for issue in project.issues]))
        return
    for issue in project.issues:
        err.print(f"[red]✗[/red] {issue}", soft_wrap=True)
    if project.issues:
        err.print(f"\n{len(project.issues)} problem(s) found.")


def validate(
    directory: Path = ProjectDir,
    fmt: str = typer.Option("text", "--format", help="text or json"),
) -> None:
    """Check a project and report every problem with file:line:column."""
    project = load_project(directory)
    _report(project, fmt)
    if not project.ok:
        raise typer.Exit(1)
    if fmt == "text":
        console.print(f"[green]✓[/green] {len(project.resources)} resources are valid.")


def _print_diff(diff: Diff) -> None:
    symbols = {
        "create": "[green]+[/green]",
        "update": "[yellow]~[/yellow]",
        "delete": "[red]-[/red]",
    }
    for change in diff.changes:
        console.print(f"  {symbols[change.action]} {change.action} {change.key}")
        for field in diff.field_changes.get(change.key, ()):
            console.print(f"      {field}")
    counts = diff.counts()
    summary = ", ".join(f"{n} to {action}" for action, n in counts.items())
    console.print("No changes." if diff.empty else summary + ".")


async def _apply(directory: Path, home: Path | None, dry_run: bool, prune: bool) -> None:
    project = load_project(directory)
    if not project.ok:
        _report(project, "text")
        err.print("Nothing was applied.")
        raise typer.Exit(1)
    async with Store.open(settings(home).resolved_database_url()) as store:
        revision, current = await store.resources.snapshot()
        diff = compute_diff(project.resources, current, prune=prune)
        _print_diff(diff)
        if dry_run or diff.empty:
            return
        new_revision = await store.resources.apply(diff.changes, expect_revision=revision)
        console.print(f"[green]✓[/green] applied (store revision {new_revision}).")


def diff(
    directory: Path = ProjectDir,
    home: Path | None = HomeOption,
    prune: bool = typer.Option(True, help="Show deletes of resources not in the project."),
) -> None:
    """Show what 'apply' would change, without changing anything."""
    run(_apply(directory, home, dry_run=True, prune=prune))


def apply(
    directory: Path = ProjectDir,
    home: Path | None = HomeOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show the diff."),
    prune: bool = typer.Option(
        True, help="Delete resources that are in the store but not in the project."
    ),
) -> None:
    """Validate a project, show the diff and write it to the store in one transaction."""
    run(_apply(directory, home, dry_run, prune))


async def _stored_resources(home: Path | None) -> list[Resource]:
    async with Store.open(settings(home).resolved_database_url()) as store:
        return await store.resources.list()


def export(
    directory: Path = typer.Argument(..., help="Folder to write the project to."),
    home: Path | None = HomeOption,
    force: bool = typer.Option(False, help="Overwrite a folder that is not empty."),
) -> None:
    """Write every resource in the store back out as YAML files."""
    if not force and directory.exists() and any(directory.iterdir()):
        err.print(f"[red]error[/red] {directory} is not empty (use --force to overwrite)")
        raise typer.Exit(1)
    resources = run(_stored_resources(home))
    wanted = {directory / resource_filename(r) for r in resources}
    for folder in {(directory / resource_filename(r)).parent for r in resources}:
        for stale in folder.glob("*.yaml"):  # resources deleted since the last export
            if stale not in wanted:
                stale.unlink()
    written = export_project(resources, directory)
    console.print(f"[green]✓[/green] wrote {len(written)} resources to {directory}")


def schema(
    kind: str | None = typer.Option(None, help="Only this kind's schema."),
) -> None:
    """Print the JSON Schema of resources (one document accepting every kind).

    Point your editor's YAML language server at it for completion and checks."""
    if kind is None:
        typer.echo(json.dumps(json_schema_document(), indent=2))
        return
    schemas = json_schemas()
    if kind not in schemas:
        err.print(f"[red]error[/red] unknown kind '{kind}'; known: {', '.join(schemas)}")
        raise typer.Exit(1)
    typer.echo(json.dumps(schemas[kind], indent=2))
