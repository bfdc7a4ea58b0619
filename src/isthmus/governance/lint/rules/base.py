"""A lint rule: a stable id, its usual severity, and a check over one version."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from isthmus.governance.lint.context import Operation, VersionContext
from isthmus.governance.lint.findings import Finding, ResourcePath, Severity, pointer


@dataclass(frozen=True)
class Hit:
    """One thing a check found. ``at`` continues the operation's pointer into the
    document; ``field`` continues the route's path in the Api resource (ignored for
    operations the author did not write as routes)."""

    operation: Operation | None
    message: str
    remediation: str
    at: tuple[str | int, ...] = ()
    field: ResourcePath = ()
    severity: Severity | None = None  # when not the rule's usual one


Check = Callable[[VersionContext], Iterator[Hit]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str
    check: Check

    def run(self, context: VersionContext) -> Iterator[Finding]:
        for hit in self.check(context):
            yield self._finding(context, hit)

    def _finding(self, context: VersionContext, hit: Hit) -> Finding:
        op = hit.operation
        if op is None:
            where, route, path = pointer(*hit.at), None, context.source
        else:
            where = op.pointer + pointer(*hit.at)
            route = op.label
            path = (*op.source, *hit.field) if op.declared else op.source
        return Finding(
            rule=self.id,
            severity=hit.severity or self.severity,
            message=hit.message,
            remediation=hit.remediation,
            api=context.api.metadata.name,
            version=context.version.name,
            pointer=where,
            route=route,
            path=path,
        )


def rule(id: str, severity: Severity, title: str) -> Callable[[Check], Rule]:
    """Make a check function a :class:`Rule`."""

    def wrap(check: Check) -> Rule:
        return Rule(id, severity, title, check)

    return wrap
