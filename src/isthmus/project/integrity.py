"""Checks of one resource against everything else in the store: what it names must
exist, and what is still named by others must not be deleted."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from isthmus.model import Resource, ResourceKey
from isthmus.project.checks import Finding


def _names(resources: Iterable[Resource]) -> set[tuple[str, str]]:
    return {(r.kind, r.metadata.name) for r in resources}


def missing_references(resource: Resource, others: Iterable[Resource]) -> Iterator[Finding]:
    known = _names(others) | {(resource.kind, resource.metadata.name)}
    for ref in resource.named():
        if (ref.kind, ref.name) not in known:
            yield (
                ref.path,
                f"{ref.kind} '{ref.name}' does not exist",
                f"create the {ref.kind} first",
            )


def dependents(key: ResourceKey, resources: Iterable[Resource]) -> list[ResourceKey]:
    """Resources that name ``key`` and would dangle without it.

    Environment-scoped resources are named without their environment, so deleting one
    Environment's copy leaves references intact while another copy remains.
    """
    everything = list(resources)
    remaining = _names(r for r in everything if r.key != key)
    if (key.kind, key.name) in remaining:
        return []
    return sorted(
        r.key
        for r in everything
        if r.key != key and any(ref.kind == key.kind and ref.name == key.name for ref in r.named())
    )
