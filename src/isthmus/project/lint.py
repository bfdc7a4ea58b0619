"""The API lint on a project: its findings as issues located in the project's files.

Errors join the project's issues (so validate and apply refuse it); warnings are kept
apart, to be shown while the apply goes on. Info findings are left to ``isthmus lint``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from isthmus.governance.lint import Finding, Severity, lint_resources
from isthmus.model import Resource, ResourceKey
from isthmus.project.issues import Issue, dotted
from isthmus.project.source import Document


def finding_issue(finding: Finding, document: Document) -> Issue:
    return Issue(
        document.locate(finding.path),
        dotted(finding.path),
        f"[{finding.rule}] {finding.api} {finding.version}: {finding.message}",
        finding.remediation,
    )


def lint_issues(
    resources: Mapping[ResourceKey, Resource],
    documents: Mapping[ResourceKey, Document],
    others: Iterable[Resource] = (),
) -> tuple[list[Issue], list[Issue]]:
    """``(errors, warnings)`` of the project's Apis, located in their files. ``others``
    are resources already stored that the project's may use (EventTypes, Views)."""
    everything = {r.key: r for r in others} | dict(resources)
    errors: list[Issue] = []
    warnings: list[Issue] = []
    names = {key.name: key for key in resources if key.kind == "Api"}
    for name, report in lint_resources(everything.values()).items():
        key = names.get(name)
        if key is None:
            continue  # stored, not in the project: linted when it was applied
        for finding in report:
            if finding.severity is Severity.error:
                errors.append(finding_issue(finding, documents[key]))
            elif finding.severity is Severity.warning:
                warnings.append(finding_issue(finding, documents[key]))
    return errors, warnings
