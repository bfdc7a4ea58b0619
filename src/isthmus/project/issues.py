"""A problem found in a project, located by file, line, column and field path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from isthmus.project.source import Location


def dotted(path: Sequence[str | int]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


@dataclass(frozen=True)
class Issue:
    location: Location
    path: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path else ""
        hint = f"\n    hint: {self.hint}" if self.hint else ""
        return f"{self.location}: {self.message}{where}{hint}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }
