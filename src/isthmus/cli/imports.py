"""``isthmus import openapi``: a project to finish from an OpenAPI document — a System,
a sandbox Connection on a declarative connector spec, and a draft Api routing every
operation to it."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import typer
from ruamel.yaml import YAML

from isthmus.cli.common import err, fail, ok, warn
from isthmus.connectors.declarative.importer import import_openapi
from isthmus.connectors.declarative.spec import DeclarativeSpec
from isthmus.model.api import PATH_PATTERN
from isthmus.model.base import NAME_PATTERN
from isthmus.project.includes import IncludeProblem, read_document

imports = typer.Typer(help="Make resources from other descriptions.", no_args_is_help=True)


@imports.command("openapi")
def import_openapi_command(
    document: Path = typer.Argument(..., help="An OpenAPI 2.0, 3.0 or 3.1 file (YAML or JSON)."),
    system: str = typer.Option(..., "--system", help="The System's name (lower-case, '-')."),
    out: Path = typer.Option(Path("."), "--out", help="The project folder to write into."),
    owner: str = typer.Option("unassigned", "--owner", help="The System's owning team."),
) -> None:
    """Write a connector spec, a System, a sandbox Connection and a draft Api."""
    if not re.match(NAME_PATTERN, system):
        fail(f"'{system}' is not a name (lower-case letters, digits, '-')")
        raise typer.Exit(1)
    started = time.perf_counter()
    try:
        data = read_document(document.name, document.parent, document.parent)
    except IncludeProblem as problem:
        fail(problem.message)
        raise typer.Exit(1) from None
    try:
        result = import_openapi(data)
        DeclarativeSpec.model_validate(result.spec)  # what was written must load
    except ValueError as exc:
        fail(f"cannot import: {exc}")
        raise typer.Exit(1) from None
    (out / "connectors").mkdir(parents=True, exist_ok=True)
    (out / "contracts").mkdir(parents=True, exist_ok=True)
    spec_file = out / "connectors" / f"{system}.yaml"
    _write(spec_file, [result.spec])
    resources = _resources(system, owner, result.spec, data, out, result.todo)
    _write(out / f"{system}.yaml", resources)
    seconds = time.perf_counter() - started
    ok(
        f"{result.operations} operation(s), {result.streams} stream(s) from {document.name} "
        f"in {seconds:.1f} s → {spec_file} and {out / (system + '.yaml')}"
    )
    if owner == "unassigned":
        result.todo.append("the System's owner: --owner, or edit metadata.owner")
    if result.todo:
        warn(f"{len(result.todo)} thing(s) to finish by hand:")
        for item in result.todo:
            err.print(f"  - {item}")


def _resources(
    system: str,
    owner: str,
    spec: dict[str, Any],
    data: dict[str, Any],
    out: Path,
    todo: list[str],
) -> list[dict[str, Any]]:
    values = {
        name: (f"secret://{system}-{name.lower()}" if field.get("type") == "secret" else "")
        for name, field in (spec.get("config") or {}).items()
        if field.get("required", True)
    }
    connection = {
        "kind": "Connection",
        "metadata": {"name": system, "environment": "sandbox"},
        "spec": {
            "system": system,
            "connector": "declarative",
            "config": {"spec": f"connectors/{system}.yaml", "values": values},
        },
    }
    resources: list[dict[str, Any]] = [
        {
            "kind": "System",
            "metadata": {"name": system, "owner": owner},
            "spec": {"category": "saas"},
        },
        connection,
    ]
    documented = {
        (method.upper(), path)
        for path, item in (data.get("paths") or {}).items()
        if isinstance(item, dict)
        for method in item
    }
    routes = [
        {
            "method": operation["method"],
            "path": operation["path"],
            "target": {"type": "operation", "connection": system, "operation": name},
        }
        for name, operation in spec["operations"].items()
        # a route keeps the document's path: one whose parameters had to be renamed
        # (not identifiers) is left for a person to route
        if (operation["method"], operation["path"]) in documented
        and re.match(PATH_PATTERN, operation["path"])
    ]
    skipped = len(spec["operations"]) - len(routes)
    if skipped:
        todo.append(
            f"{skipped} operation(s) have path parameters that are not names; route them by hand"
        )
    version: dict[str, Any] = {"name": "v1", "status": "draft", "routes": routes}
    if "openapi" in data:  # 3.x: the version keeps the document as its contract
        contract = out / "contracts" / f"{system}.openapi.json"
        contract.write_text(json.dumps(data))
        version["openapi"] = f"contracts/{contract.name}"
    resources.append({"kind": "Api", "metadata": {"name": system}, "spec": {"versions": [version]}})
    return resources


def _write(path: Path, documents: list[dict[str, Any]]) -> None:
    yaml = YAML()
    yaml.width = 120
    with path.open("w", encoding="utf-8") as handle:
        yaml.dump_all(documents, handle)
