"""The brokers' own clients, imported when a bus of theirs is opened: a missing one is a
problem that names the extra to install, not an ImportError at start-up."""

from __future__ import annotations

import importlib
from typing import Any

from isthmus.errors import ConfigurationError

_MODULES = {
    "rabbitmq": "aio_pika",
    "nats": "nats",
    "redis": "redis.asyncio",
    "mqtt": "aiomqtt",
}


def client_of(bus: str) -> Any:
    """The client module of ``bus`` (typed Any: each adapter knows its own client)."""
    try:
        return importlib.import_module(_MODULES[bus])
    except ImportError as exc:
        raise ConfigurationError(
            f"The {bus} bus needs its client library ({_MODULES[bus]}), which is not installed.",
            remediation=f"Install it: pip install 'isthmus[{bus}]'.",
        ) from exc
