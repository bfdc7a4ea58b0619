"""The difference between a project (desired) and the store (current)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from isthmus.model import Resource, ResourceKey
from isthmus.project.issues import dotted
from isthmus.store import Change


@dataclass(frozen=True)
class Diff:
    changes: tuple[Change, ...]
    field_changes: Mapping[ResourceKey, tuple[str, ...]]

    @property
    def empty(self) -> bool:
        return not self.changes

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "update": 0, "delete": 0}
        for change in self.changes:
            out[change.action] += 1
        return out


def compute_diff(
    desired: Mapping[ResourceKey, Resource],
    current: Iterable[Resource],
    *,
    prune: bool = True,
) -> Diff:
    """Creates, updates and (with ``prune``) deletes that make the store equal the project."""
    existing = {r.key: r for r in current}
    changes: list[Change] = []
    fields: dict[ResourceKey, tuple[str, ...]] = {}
    for key in sorted(desired):
        want = desired[key]
        have = existing.get(key)
        if have is None:
            changes.append(Change("create", key, want))
            continue
        changed = tuple(changed_paths(have.canonical(), want.canonical()))
        if changed:
            changes.append(Change("update", key, want))
            fields[key] = changed
    if prune:
        changes += [Change("delete", key, None) for key in sorted(existing) if key not in desired]
    return Diff(tuple(changes), fields)


def changed_paths(old: Any, new: Any, path: tuple[str | int, ...] = ()) -> Iterator[str]:
    """Dotted paths where ``new`` differs from ``old`` (the deepest differing level)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            yield from changed_paths(old.get(key), new.get(key), (*path, key))
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from changed_paths(a, b, (*path, index))
    elif old != new:
        yield dotted(path)
