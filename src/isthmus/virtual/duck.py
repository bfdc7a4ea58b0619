"""DuckDB work from the event loop: each blocking step in a worker thread, interrupted
when the awaiting task is cancelled (a query's time is up)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from typing import TypeVar

import duckdb

T = TypeVar("T")


async def interruptible(cursor: duckdb.DuckDBPyConnection, step: Callable[[], T]) -> T:
    """``step()`` in a thread. Cancelled, it interrupts DuckDB and waits for the thread to
    let go, so the cursor can then be closed."""
    work = asyncio.ensure_future(asyncio.to_thread(step))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        cursor.interrupt()  # DuckDB stops at its next check; the thread then returns
        with suppress(BaseException):
            await work
        raise


def close_quietly(cursor: duckdb.DuckDBPyConnection) -> None:
    """Close a cursor whose thread may still hold it (cancelled twice): DuckDB refuses,
    and the cursor goes with its connection."""
    with suppress(duckdb.Error):
        cursor.close()
