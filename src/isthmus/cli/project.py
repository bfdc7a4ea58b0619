"""Project commands: init, validate, diff, apply, export, schema."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer
from rich.text import Text

from isthmus.cli.common import (
    HomeOption,
    bad,
    cli_actor,
    console,
    err,
    fail,
    folder_or_exit,
    ok,
    run,
    settings,
    warn,
)
from isthmus.governance.changes import change_entry
from isthmus.governance.vault import Vault
from isthmus.model import (
    Connection,
    EventType,
    Resource,
    View,
    json_schema_document,
    json_schemas,
    kinds,
)
from isthmus.project.diff import Diff, compute_diff
from isthmus.project.export import export_project, resource_filename
from isthmus.project.issues import Issue, dotted
from isthmus.project.scaffold import scaffold
from isthmus.project.validate import LoadedProject, evolution_issues, load_project
from isthmus.store import Store
from isthmus.virtual.check import check_views


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


ProjectDir = typer.Argument(Path("."), help="The project folder (or one YAML file).")


def init(
    directory: Path = typer.Argument(..., help="Folder to create the project in."),
    force: bool = typer.Option(False, help="Write into a folder that is not empty."),
) -> None:
    """Create a starter project: a System, a Connection, an Api, an App and a Plan."""
    folder_or_exit(directory, force=force)
    for path in scaffold(directory):
        console.print(f"  created {path}")
    console.print(f"\nNext: isthmus validate {directory}, then isthmus apply {directory}")


def _report(project: LoadedProject, fmt: str) -> None:
    if fmt == "json":
        console.print_json(json.dumps([issue.as_dict() for issue in project.issues]))
        return
    for issue in project.issues:
        bad(str(issue))
    if project.issues:
        err.print(f"\n{len(project.issues)} problem(s) found.")


def _warn(project: LoadedProject) -> None:
    """API lint warnings: shown, and the command goes on."""
    for issue in project.warnings:
        warn(str(issue))


def validate(
    directory: Path = ProjectDir,
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Report format."),
) -> None:
    """Check a project and report every problem with file:line:column."""
    project = load_project(directory)
    _report(project, fmt)
    if not project.ok:
        raise typer.Exit(1)
    if fmt == "text":
        _warn(project)
        ok(f"{len(project.resources)} resources are valid.")


def _print_diff(diff: Diff) -> None:
    symbols = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}
    for change in diff.changes:
        symbol, colour = symbols[change.action]
        console.print(
            Text("  ") + Text(symbol, style=colour) + Text(f" {change.action} {change.key}")
        )
        for field in diff.field_changes.get(change.key, ()):
            console.print(f"      {field}")
    counts = diff.counts()
    summary = ", ".join(f"{n} to {action}" for action, n in counts.items())
    console.print("No changes." if diff.empty else summary + ".")


async def _apply(directory: Path, home: Path | None, dry_run: bool, prune: bool) -> None:
    async with Store.open(settings(home).resolved_database_url()) as store:
        revision, current = await store.resources.snapshot()
        # Without pruning, what the store holds stays, so references may point at it.
        known = () if prune else [(r.kind, r.metadata.name) for r in current]
        project = load_project(directory, known=known)
        project.issues += evolution_issues(project, {r.key: r for r in current})
        if not project.ok:
            _report(project, "text")
            err.print("Nothing was applied.")
            raise typer.Exit(1)
        diff = compute_diff(project.resources, current, prune=prune)
        project.issues += await _view_issues(project, current, diff, store, home)
        if not project.ok:
            _report(project, "text")
            err.print("Nothing was applied.")
            raise typer.Exit(1)
        _warn(project)
        _print_diff(diff)
        if dry_run or diff.empty:
            return
        new_revision = await store.resources.apply(diff.changes, expect_revision=revision)
        before = {r.key: r for r in current}
        who = cli_actor()
        await store.audit.append([change_entry(who, c, before.get(c.key)) for c in diff.changes])
        ok(f"applied (store revision {new_revision}).")


async def _view_issues(
    project: LoadedProject, current: list[Resource], diff: Diff, store: Store, home: Path | None
) -> list[Issue]:
    """The changed Views planned against their Connections (opened for it): what does
    not fit, located in the project's files; warnings for what could not be checked."""
    changed = [c.key.name for c in diff.changes if c.action != "delete" and c.key.kind == "View"]
    if not changed:
        return []
    everything = {r.key: r for r in current} | dict(project.resources)
    views = {r.metadata.name: r for r in everything.values() if isinstance(r, View)}
    config = settings(home)
    vault = Vault.open(store.secrets, config)
    report = await check_views(
        views,
        changed,
        [r for r in everything.values() if isinstance(r, Connection)],
        {r.metadata.name: r for r in everything.values() if isinstance(r, EventType)},
        vault,
        store.series,
    )
    for warning in report.unchecked:
        err.print(f"warning: {warning}")
    issues = []
    for key, path, message in report.problems:
        document = project.documents[key]
        issues.append(Issue(document.locate(path), dotted(path), message))
    return issues


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
    folder_or_exit(directory, force=force)
    resources = run(_stored_resources(home))
    wanted = {directory / resource_filename(r) for r in resources}
    for cls in kinds().values():  # files of resources deleted since the last export
        for stale in (directory / cls.plural).glob("*.yaml"):
            if stale not in wanted:
                stale.unlink()
    written = export_project(resources, directory)
    ok(f"wrote {len(written)} resources to {directory}")


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
        fail(f"unknown kind '{kind}'; known: {', '.join(schemas)}")
        raise typer.Exit(1)
    typer.echo(json.dumps(schemas[kind], indent=2))
