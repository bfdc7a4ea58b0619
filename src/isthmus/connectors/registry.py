"""Finds connector types through the ``isthmus.connectors`` entry point group.

Built-ins register the same way third-party packages do (see ``pyproject.toml``). An
entry point is imported only when its connector is first asked for, so a missing
optional driver fails for that connector alone, with the extra to install named.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from isthmus.connectors.base import ConnectorType
from isthmus.errors import ConfigurationError

GROUP = "isthmus.connectors"


class UnknownConnector(ConfigurationError):
    code = "unknown-connector"
    title = "Unknown connector type"
    remediation = "Use one of the installed connector types ('isthmus connectors' lists them)."


class ConnectorUnavailable(ConfigurationError):
    code = "connector-unavailable"
    title = "Connector cannot be loaded"
    remediation = "Install the extra the detail names, e.g. pip install 'isthmus[postgres]'."


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def names() -> list[str]:
    return sorted(_entry_points())


@cache
def connector_type(name: str) -> ConnectorType:
    ep = _entry_points().get(name)
    if ep is None:
        raise UnknownConnector(
            f"No connector type '{name}' is installed; installed: {', '.join(names())}."
        )
    try:
        cls = ep.load()
    except ImportError as exc:
        extra = getattr(exc, "name", None) or "its driver"
        raise ConnectorUnavailable(
            f"Connector '{name}' needs a package that is not installed ({extra})."
        ) from exc
    instance: ConnectorType = cls()
    return instance
