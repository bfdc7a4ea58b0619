"""Writing resources out as a project folder that re-applies with an empty diff."""

from __future__ import annotations

from collections.abc import Iterable
from io import StringIO
from pathlib import Path

from ruamel.yaml import YAML

from isthmus.model import Resource


def resource_filename(resource: Resource) -> Path:
    env = f".{resource.environment}" if resource.environment else ""
    return Path(resource.plural) / f"{resource.metadata.name}{env}.yaml"


def to_yaml(resource: Resource) -> str:
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    buffer = StringIO()
    yaml.dump(resource.canonical(), buffer)
    return buffer.getvalue()


def export_project(resources: Iterable[Resource], root: Path) -> list[Path]:
    """One file per resource under ``root/<kind plural>/``; returns the files written."""
    written = []
    for resource in resources:
        path = root / resource_filename(resource)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(to_yaml(resource), encoding="utf-8")
        written.append(path)
    return written
