"""The audit log: who did what, to what, with what outcome — kept in the store.

Writers ``await record(entry)``, which returns once the entry is committed: an audit
that answers before its write could lose entries a crash leaves in memory. Entries
that arrive while a write is in flight are committed together in the next one (group
commit), so a busy Connection costs one store transaction per batch, not per
statement. If the store cannot take a batch, each entry is logged as
``audit.not_stored`` with everything it holds — never dropped in silence — and the
caller's work is not failed for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class AuditEntry:
    """One thing done. ``target`` names what it was done to (``connection/crm@sandbox``,
    ``secret/crm-token``); ``detail`` never holds secret values or bound parameters."""

    actor: str
    action: str
    target: str
    outcome: str  # ok, refused, failed
    detail: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: int | None = None


@runtime_checkable
class AuditSink(Protocol):
    """Where a connector (or any part of the hub) records what it did."""

    async def record(self, entry: AuditEntry) -> None: ...


class NoAudit:
    """For contexts without a hub (a script opening a connector): entries go to the log."""

    async def record(self, entry: AuditEntry) -> None:
        log.info("audit", **_fields(entry))


class MemoryAudit:
    """Keeps entries in a list: for tests and for connector authors' own checks."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


class AuditWriter(Protocol):
    async def append(self, entries: Sequence[AuditEntry]) -> None: ...


_RECORDING: set[asyncio.Task[None]] = set()  # held until written: tasks are weakly kept


def record_soon(sink: AuditSink, entry: AuditEntry) -> None:
    """Record ``entry`` without waiting for it to be written. In the store's log it is
    queued at once, so an entry recorded later and awaited is written in the same group
    commit or after it: awaiting that one covers this one."""
    if isinstance(sink, AuditLog):
        sink.enqueue(entry, linger=True)
        return
    task = asyncio.get_running_loop().create_task(sink.record(entry))
    _RECORDING.add(task)
    task.add_done_callback(_RECORDING.discard)


class AuditLog:
    """The store-backed audit log, with group commit. Entries nobody waits for (queued
    with ``linger``) wait up to ``linger_seconds`` for company, so a stream of short
    queries costs one store commit per batch rather than one each; an entry someone
    waits for is written at once, with whatever is queued."""

    def __init__(self, writer: AuditWriter, batch: int = 500, linger_seconds: float = 0.05) -> None:
        self._writer = writer
        self._batch = batch
        self._linger = linger_seconds
        self._waiting: list[tuple[AuditEntry, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._urgent = asyncio.Event()  # someone waits for an entry: no lingering
        self.batches = 0  # store transactions made: a counter tests read

    async def record(self, entry: AuditEntry) -> None:
        # a caller that is cancelled still has its entry written by the flusher
        await asyncio.shield(self.enqueue(entry))

    def enqueue(self, entry: AuditEntry, linger: bool = False) -> asyncio.Future[None]:
        """Queue ``entry`` for the next group commit; done once it is written."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((entry, done))
        if not linger:
            self._urgent.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return done

    async def _flush(self) -> None:
        while self._waiting:
            if not self._urgent.is_set() and len(self._waiting) < self._batch:
                with suppress(TimeoutError):
                    async with asyncio.timeout(self._linger):
                        await self._urgent.wait()
            self._urgent.clear()
            taken, self._waiting = self._waiting[: self._batch], self._waiting[self._batch :]
            entries = [entry for entry, _ in taken]
            try:
                await self._writer.append(entries)
                self.batches += 1
            except Exception as error:  # the store is down: the log keeps the entries
                for entry in entries:
                    log.error("audit.not_stored", error=type(error).__name__, **_fields(entry))
            for _, done in taken:
                if not done.done():
                    done.set_result(None)

    async def drain(self) -> None:
        """Wait until every entry recorded so far is written (on shutdown)."""
        self._urgent.set()
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)


def _fields(entry: AuditEntry) -> dict[str, Any]:
    fields = asdict(entry)
    fields["at"] = entry.at.isoformat()
    fields.pop("id")
    fields["audit_action"] = fields.pop("action")  # 'event' and friends are the logger's
    return fields
