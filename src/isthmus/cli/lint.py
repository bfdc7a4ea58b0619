"""``isthmus lint``: the API design lint over a project's Apis, without a store."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from isthmus.cli.common import bad, console, err, ok
from isthmus.governance.lint import Finding, LintReport, Severity, lint_resources
from isthmus.project.issues import dotted
from isthmus.project.validate import LoadedProject, load_project


class LintFormat(StrEnum):
    text = "text"
    json = "json"


_STYLE = {Severity.error: "red", Severity.warning: "yellow", Severity.info: "cyan"}


def lint(
    directory: Path = typer.Argument(Path("."), help="The project folder (or one YAML file)."),
    fmt: LintFormat = typer.Option(LintFormat.text, "--format", help="Report format."),
    min_severity: Severity = typer.Option(
        Severity.info, "--min-severity", help="Leave out findings below this severity."
    ),
) -> None:
    """Check the project's Apis for low-code consumption; exit 1 on any error.

    Every rule runs over each Api version's OpenAPI document as the gateway serves it.
    Errors also stop 'isthmus apply'; warnings are shown there and the apply goes on."""
    project = load_project(directory)
    # the lint's own errors are reported below, not as the project's problems
    problems = [i for i in project.issues if i not in project.lint_errors]
    if problems:
        for issue in problems:
            bad(str(issue))
        err.print(f"\n{len(problems)} problem(s) found; fix them before linting.")
        raise typer.Exit(1)
    reports = lint_resources(project.resources.values())
    everything = LintReport([f for report in reports.values() for f in report])
    shown = everything.at_least(min_severity)
    if fmt == LintFormat.json:
        console.print_json(json.dumps(_as_json(project, shown, everything)))
    else:
        _print_table(project, shown)
        counts = everything.counts()
        summary = ", ".join(f"{n} {severity}(s)" for severity, n in counts.items())
        if everything.ok:
            ok(f"{len(reports)} Api(s) linted: {summary}.")
        else:
            err.print(f"{len(reports)} Api(s) linted: {summary}.")
    if not everything.ok:
        raise typer.Exit(1)


def _where(project: LoadedProject, finding: Finding) -> str:
    for key, document in project.documents.items():
        if key.kind == "Api" and key.name == finding.api:
            return str(document.locate(finding.path))
    return ""


def _print_table(project: LoadedProject, report: LintReport) -> None:
    if not len(report):
        return
    table = Table(show_lines=False)
    for column in ("severity", "rule", "where", "route", "finding", "what to do"):
        table.add_column(column, overflow="fold")
    for finding in sorted(report, key=lambda f: (-f.severity.rank, f.api, f.version)):
        table.add_row(
            Text(str(finding.severity), style=_STYLE[finding.severity]),
            finding.rule,
            _where(project, finding),
            f"{finding.api} {finding.version} {finding.route or ''}".strip(),
            finding.message,
            finding.remediation,
        )
    console.print(table)


def _as_json(project: LoadedProject, shown: LintReport, everything: LintReport) -> object:
    findings = []
    for finding in shown:
        entry = finding.as_dict()
        entry["location"] = _where(project, finding)
        entry["field"] = dotted(finding.path)
        findings.append(entry)
    return {"ok": everything.ok, "counts": everything.counts(), "findings": findings}
