"""Files a resource names instead of holding: an Api version's OpenAPI document, a
declarative Connection's connector spec.

``openapi: contracts/crm-v1.yaml`` in a version, ``spec: connectors/crm.yaml`` in a
Connection's config, is read here, relative to the YAML file that names it and never
outside the project folder, and put in its place, so the stored resource holds the
document itself (the hub uses it without the project at hand). One spec file can serve
the Connections of every Environment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from isthmus.project.source import UnsupportedValue, plain

MAX_BYTES = 20 * 1024 * 1024


class IncludeProblem(ValueError):
    def __init__(self, path: tuple[str | int, ...], message: str, hint: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.hint = hint


def inline_includes(data: dict[str, Any], folder: Path, root: Path) -> list[IncludeProblem]:
    """Replace each included file's name by its content, in place."""
    spec = data.get("spec")
    if not isinstance(spec, dict):
        return []
    found: list[tuple[dict[str, Any], str, tuple[str | int, ...]]] = []
    if data.get("kind") == "Api":
        versions = spec.get("versions")
        for index, version in enumerate(versions if isinstance(versions, list) else []):
            if isinstance(version, dict):
                found.append((version, "openapi", ("spec", "versions", index, "openapi")))
    if data.get("kind") == "Connection" and isinstance(spec.get("config"), dict):
        found.append((spec["config"], "spec", ("spec", "config", "spec")))
    problems = []
    for holder, key, where in found:
        if isinstance(holder.get(key), str):
            try:
                holder[key] = read_document(holder[key], folder, root)
            except IncludeProblem as exc:
                problems.append(IncludeProblem(where, exc.message, exc.hint))
    return problems


def read_document(name: str, folder: Path, root: Path) -> Any:
    """A YAML or JSON file under ``root``, as plain data."""
    path = (folder / name).resolve()
    if not path.is_relative_to(root.resolve()):
        raise IncludeProblem(
            (), f"'{name}' is outside the project folder", "keep it in the project"
        )
    if not path.is_file():
        raise IncludeProblem(
            (), f"there is no file '{name}'", "paths are relative to this YAML file"
        )
    if path.stat().st_size > MAX_BYTES:
        raise IncludeProblem((), f"'{name}' is larger than {MAX_BYTES // 2**20} MB")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        if path.suffix == ".json":
            return json.loads(text)
        return plain(YAML(typ="rt").load(text))
    except (ValueError, YAMLError, UnsupportedValue) as exc:
        raise IncludeProblem((), f"'{name}' is not valid YAML or JSON: {exc}") from None
