"""Loading a project folder into resources, reporting every problem at once."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from isthmus.model import Resource, ResourceKey, kinds
from isthmus.project.checks import literal_secrets, resource_checks
from isthmus.project.evolution import evolution_findings
from isthmus.project.hints import hint_for, message_for
from isthmus.project.includes import inline_includes
from isthmus.project.issues import Issue, dotted
from isthmus.project.lint import lint_issues
from isthmus.project.source import Document, Location, project_files, read_documents


@dataclass
class LoadedProject:
    resources: dict[ResourceKey, Resource] = field(default_factory=dict)
    origins: dict[ResourceKey, Location] = field(default_factory=dict)
    documents: dict[ResourceKey, Document] = field(default_factory=dict, repr=False)
    # (kind, name) of every resource declared, valid or not: a reference to an invalid
    # resource is reported once, at the resource, not again at every reference.
    declared: set[tuple[str, str]] = field(default_factory=set, repr=False)
    issues: list[Issue] = field(default_factory=list)
    # API lint errors (also among the issues) and warnings (shown; they stop nothing)
    lint_errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


def load_project(root: Path, known: Iterable[tuple[str, str]] = ()) -> LoadedProject:
    """Read every YAML file under ``root`` and validate the whole set.

    ``known`` adds (kind, name) pairs that references may also point at: what is already
    in the store, when a project is applied without pruning.
    """
    project = LoadedProject()
    project.declared.update(known)
    if not root.exists():
        project.issues.append(Issue(Location(str(root), 1, 1), "", "no such file or folder"))
        return project
    files = list(project_files(root))
    if not files:
        project.issues.append(
            Issue(Location(str(root), 1, 1), "", "no .yaml files found", "run 'isthmus init'")
        )
    base = root if root.is_dir() else root.parent
    for path in files:
        documents, problems = read_documents(path, str(path.relative_to(base)))
        project.issues += [Issue(p.location, "", p.message) for p in problems]
        for document in documents:
            if _is_included(document.data):
                continue  # a file a resource names (OpenAPI, connector spec): read then
            _load_document(project, document, path.parent, base)
    if files and not project.resources and not project.issues:
        # An empty project would make 'apply' delete everything: say so instead.
        project.issues.append(
            Issue(Location(str(root), 1, 1), "", "the project declares no resources")
        )
    project.issues += _reference_issues(project)
    if project.resources:
        project.lint_errors, project.warnings = lint_issues(project.resources, project.documents)
        project.issues += project.lint_errors
    project.issues.sort(key=lambda i: (i.location.file, i.location.line, i.location.column))
    return project


def _is_included(data: object) -> bool:
    if not isinstance(data, dict) or "kind" in data:
        return False
    return "openapi" in data or "connectorSpec" in data


def _load_document(project: LoadedProject, document: Document, folder: Path, root: Path) -> None:
    data = document.data
    here = document.locate(())
    if not isinstance(data, dict):
        project.issues.append(
            Issue(here, "", "a resource must be a mapping with kind, metadata, spec")
        )
        return
    kind = data.get("kind")
    cls = kinds().get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = sorted(kinds())
        close = difflib.get_close_matches(str(kind), known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known kinds: {', '.join(known)}"
        message = "missing 'kind'" if kind is None else f"unknown kind '{kind}'"
        project.issues.append(Issue(document.locate(("kind",)), "kind", message, hint))
        return
    name = (
        (data.get("metadata") or {}).get("name") if isinstance(data.get("metadata"), dict) else None
    )
    if isinstance(name, str):
        project.declared.add((cls.__name__, name))
    included = inline_includes(data, folder, root)
    for unreadable in included:
        project.issues.append(
            Issue(
                document.locate(unreadable.path),
                dotted(unreadable.path),
                unreadable.message,
                unreadable.hint,
            )
        )
    if included:
        return
    try:
        resource = cls.model_validate(data)
    except ValidationError as exc:
        reported = set()
        for error in exc.errors(include_url=False):
            loc = document.real_path(tuple(error["loc"]))
            reported.add(loc)
            at_key = error["type"] == "extra_forbidden"
            project.issues.append(
                Issue(
                    document.locate(loc, at_key=at_key),
                    dotted(loc),
                    message_for(error),
                    hint_for(cls, error),
                )
            )
        # A literal secret is worth knowing about at once, whatever else is wrong.
        labels = (data.get("metadata") or {}).get("labels") if isinstance(data, dict) else None
        for path, problem, advice in literal_secrets(data.get("spec"), ("spec",), labels):
            if path not in reported:
                project.issues.append(Issue(document.locate(path), dotted(path), problem, advice))
        return
    findings = list(resource_checks(resource, data))
    for path, problem, advice in findings:
        project.issues.append(Issue(document.locate(path), dotted(path), problem, advice))
    if findings:
        return
    first = project.origins.get(resource.key)
    if first is not None:
        project.issues.append(
            Issue(
                document.locate(("metadata", "name")),
                "metadata.name",
                f"{resource.key} is declared twice",
                f"the first is at {first}; rename or remove one",
            )
        )
        return
    project.resources[resource.key] = resource
    project.origins[resource.key] = here
    project.documents[resource.key] = document


def _reference_issues(project: LoadedProject) -> Iterable[Issue]:
    names: dict[str, set[str]] = {}
    for kind, name in project.declared:
        names.setdefault(kind, set()).add(name)
    for key, resource in project.resources.items():
        document = project.documents[key]
        for ref in resource.named():
            known = names.get(ref.kind, set())
            if ref.name in known:
                continue
            close = difflib.get_close_matches(ref.name, sorted(known), n=1)
            hint = (
                f"did you mean '{close[0]}'?"
                if close
                else f"declare a {ref.kind} named '{ref.name}'"
                + (f" (existing: {', '.join(sorted(known))})" if known else "")
            )
            yield Issue(
                document.locate(ref.path),
                dotted(ref.path),
                f"{ref.kind} '{ref.name}' does not exist",
                hint,
            )


def evolution_issues(project: LoadedProject, stored: Mapping[ResourceKey, Resource]) -> list[Issue]:
    """What the project changes that the store's versions forbid, located in its files."""
    found = []
    for key, resource in project.resources.items():
        document = project.documents[key]
        for path, problem, advice in evolution_findings(resource, stored.get(key)):
            found.append(Issue(document.locate(path), dotted(path), problem, advice))
    return found
