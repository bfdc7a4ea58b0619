"""Finds bus types through the ``isthmus.buses`` entry point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from isthmus.errors import ConfigurationError
from isthmus.events.base import BusType

GROUP = "isthmus.buses"


class UnknownBus(ConfigurationError):
    code = "unknown-bus"
    title = "Unknown bus type"
    remediation = "Use one of the installed bus types, or install the package providing it."


def names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=GROUP))


@cache
def bus_type(name: str) -> BusType:
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            instance: BusType = ep.load()()
            return instance
    raise UnknownBus(f"No bus type '{name}' is installed; installed: {', '.join(names())}.")
