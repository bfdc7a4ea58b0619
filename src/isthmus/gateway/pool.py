"""Open connectors, one per Connection, kept open across snapshot rebuilds.

A connector is reopened only when its Connection's config (or a secret it uses)
changed, so HTTP pools stay warm and in-memory state survives unrelated applies.
Replaced connectors are closed after a grace period so in-flight calls can finish.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime

import orjson
import structlog
from pydantic import ValidationError

from isthmus.connectors.base import Connector, ConnectorContext, SecretResolver
from isthmus.connectors.registry import connector_type
from isthmus.errors import ConfigurationError, IsthmusError
from isthmus.governance.audit import AuditSink, NoAudit
from isthmus.model import Connection, ResourceKey

log = structlog.get_logger(__name__)
_SECRET_REF = re.compile(r"secret://([a-z0-9][a-z0-9._/-]*)")


@dataclass
class _Open:
    fingerprint: bytes
    connector: Connector | None
    error: IsthmusError | None  # what callers get: names nothing internal
    cause: str | None  # why, for operators (log and admin status)
    stack: AsyncExitStack


@dataclass(frozen=True)
class ConnectionState:
    connection: str
    environment: str
    open: bool
    cause: str | None


class ConnectionUnavailable(ConfigurationError):
    code = "connection-unavailable"
    title = "The Connection could not be opened"


class ConnectionPool:
    def __init__(
        self, secrets: SecretResolver, audit: AuditSink | None = None, grace_seconds: float = 60.0
    ) -> None:
        self._secrets = secrets
        self._audit = audit or NoAudit()
        self._grace = grace_seconds
        self._open: dict[ResourceKey, _Open] = {}
        self._retired: dict[asyncio.Task[None], _Open] = {}

    def declares(self, key: ResourceKey) -> bool:
        """Is a Connection declared for this name and Environment (open or failing)?"""
        return key in self._open

    def get(self, key: ResourceKey) -> Connector:
        entry = self._open.get(key)
        if entry is None:
            raise ConfigurationError(
                f"Connection '{key.name}' has no configuration for environment "
                f"'{key.environment}'.",
                remediation=f"Declare Connection '{key.name}' with metadata.environment: "
                f"{key.environment}, or call with a key of another environment.",
            )
        if entry.connector is None:
            assert entry.error is not None
            raise entry.error
        return entry.connector

    async def sync(
        self, connections: Mapping[ResourceKey, Connection], secret_versions: Mapping[str, datetime]
    ) -> None:
        """Open what is new or changed, retire what is gone or replaced."""
        for key, connection in connections.items():
            fingerprint = _fingerprint(connection, secret_versions)
            current = self._open.get(key)
            if current is not None and current.fingerprint == fingerprint:
                continue
            self._open[key] = await self._open_one(key, connection, fingerprint)
            if current is not None:
                self._retire(current)
        for key in [k for k in self._open if k not in connections]:
            self._retire(self._open.pop(key))

    async def _open_one(
        self, key: ResourceKey, connection: Connection, fingerprint: bytes
    ) -> _Open:
        stack = AsyncExitStack()
        context = ConnectorContext(key.name, key.environment or "", self._secrets, self._audit)
        try:
            kind = connector_type(connection.spec.connector)
            config = kind.config_model.model_validate(connection.spec.config)
            connector = await stack.enter_async_context(kind.open(config, context))
        except IsthmusError as exc:
            cause = f"{exc.detail} {exc.remediation}"
        except ValidationError:
            cause = "Its config does not validate; run 'isthmus validate'."
        except Exception as exc:
            # A faulty connector must not stop the snapshot (and with it key revocations).
            log.exception("connection.open_crashed", connection=str(key))
            cause = f"The connector failed while opening it ({type(exc).__name__})."
        else:
            return _Open(fingerprint, connector, None, None, stack)
        log.warning("connection.open_failed", connection=str(key), cause=cause)
        return _Open(fingerprint, None, _unavailable(key), cause, stack)

    def states(self) -> list[ConnectionState]:
        """Every Connection's state, for operators."""
        return [
            ConnectionState(
                key.name, key.environment or "", entry.connector is not None, entry.cause
            )
            for key, entry in sorted(self._open.items())
        ]

    def _retire(self, entry: _Open) -> None:
        async def close_later() -> None:
            await asyncio.sleep(self._grace)
            await entry.stack.aclose()

        task = asyncio.create_task(close_later())
        self._retired[task] = entry
        task.add_done_callback(lambda done: self._retired.pop(done, None))

    async def aclose(self) -> None:
        """Close everything now, including connectors still in their grace period."""
        entries = list(self._open.values())
        self._open = {}
        for task, entry in list(self._retired.items()):
            task.cancel()
            entries.append(entry)
        self._retired.clear()
        for entry in entries:
            await entry.stack.aclose()


def _unavailable(key: ResourceKey) -> ConnectionUnavailable:
    # The cause (a missing secret's name, an address) is for operators, not for callers.
    return ConnectionUnavailable(
        f"The backend behind this route is not available in '{key.environment}'.",
        remediation="Retry later. Operators: GET /admin/v1/status on the control plane "
        "says why the Connection could not be opened.",
    )


def _fingerprint(connection: Connection, secret_versions: Mapping[str, datetime]) -> bytes:
    spec = connection.canonical()["spec"]
    body = orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)
    used = sorted(set(_SECRET_REF.findall(body.decode())))
    versions = [(name, str(secret_versions.get(name))) for name in used]
    return body + orjson.dumps(versions)
