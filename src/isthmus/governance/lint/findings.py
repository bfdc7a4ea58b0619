"""What the API lint reports: findings with a severity, and the report of one run.

A finding names its rule (a stable id, like a problem's ``code``), says what is wrong
and what to do about it, and points twice: into the OpenAPI document low-code tools
import (a JSON pointer) and into the Api resource the author edits (a field path, which
a project turns into file:line).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

ResourcePath = tuple[str | int, ...]


class Severity(StrEnum):
    """``error`` refuses an apply; ``warning`` is shown and the apply goes on; ``info``
    is advice, shown where asked for (``isthmus lint --min-severity info``)."""

    error = "error"
    warning = "warning"
    info = "info"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_RANKS = {Severity.info: 0, Severity.warning: 1, Severity.error: 2}


def pointer(*steps: str | int) -> str:
    """An RFC 6901 JSON pointer: ``pointer("paths", "/a/{b}", "get")`` is
    ``/paths/~1a~1{b}/get``."""
    return "".join("/" + str(s).replace("~", "~0").replace("/", "~1") for s in steps)


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    remediation: str
    api: str
    version: str
    pointer: str  # into the version's OpenAPI document
    route: str | None = None  # "GET /customers", where the finding is about one route
    path: ResourcePath = ()  # into the Api resource: where to fix it

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": str(self.severity),
            "api": self.api,
            "version": self.version,
            "route": self.route,
            "message": self.message,
            "remediation": self.remediation,
            "pointer": self.pointer,
            "path": list(self.path),
        }


@dataclass
class LintReport:
    findings: list[Finding] = field(default_factory=list)

    def extend(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.warning]

    @property
    def ok(self) -> bool:
        """No errors: what an apply needs."""
        return not self.errors

    def at_least(self, severity: Severity) -> LintReport:
        return LintReport([f for f in self.findings if f.severity.at_least(severity)])

    def counts(self) -> dict[str, int]:
        found = Counter(str(f.severity) for f in self.findings)
        return {str(s): found.get(str(s), 0) for s in Severity}

    def as_dict(self) -> dict[str, Any]:
        return {"counts": self.counts(), "findings": [f.as_dict() for f in self.findings]}
