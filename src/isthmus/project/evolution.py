"""Changes to a resource that its stored version forbids: what was applied once and
others now rely on (an EventType's published versions)."""

from __future__ import annotations

from collections.abc import Iterator

from isthmus.model import EventType, Resource
from isthmus.project.checks import Finding

_NEW_VERSION = "Add the change as a new version; mark an old one 'deprecated: true'."


def evolution_findings(new: Resource, stored: Resource | None) -> Iterator[Finding]:
    """Why ``new`` may not replace ``stored``: an EventType's applied versions are kept,
    each with the schema it was applied with (events already published follow it)."""
    if not isinstance(new, EventType) or not isinstance(stored, EventType):
        return
    after = {v.version: (i, v) for i, v in enumerate(new.spec.versions)}
    for old in stored.spec.versions:
        if old.version not in after:
            yield (
                ("spec", "versions"),
                f"v{old.version} was applied and cannot be removed: events of it exist",
                _NEW_VERSION,
            )
            continue
        index, version = after[old.version]
        if version.data_schema != old.data_schema:
            yield (
                ("spec", "versions", index, "schema"),
                f"v{old.version}'s schema differs from the one applied; published events "
                "follow that one",
                _NEW_VERSION,
            )
