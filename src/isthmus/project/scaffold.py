"""``isthmus init``: a starter project that validates, applies and serves as it is."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

_STARTER = files("isthmus.project") / "templates" / "starter"


def scaffold(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for template in sorted(_STARTER.iterdir(), key=lambda t: t.name):
        if template.name.endswith(".yaml"):
            target = directory / template.name
            target.write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
            written.append(target)
    return written
