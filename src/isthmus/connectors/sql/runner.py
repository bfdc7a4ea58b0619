"""Running database work from the event loop, whatever kind of driver the database has.

The connector writes its work once, as plain functions of a SQLAlchemy ``Connection``.
An asyncio driver (asyncpg, aiomysql, aiosqlite) runs them through ``run_sync``; a
blocking DB-API driver (the ones most warehouses and commercial databases ship: pymssql,
oracledb, snowflake, …) runs them in worker threads, one per pooled connection, so a
slow statement never stalls the loop. Streams read in batches either way.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")
Work = Callable[[sa.Connection], T]


class Runner(ABC):
    @abstractmethod
    async def run(self, work: Work[T]) -> T:
        """``work`` in one transaction, committed when it returns."""

    @abstractmethod
    def stream(
        self, prepare: Work[None] | None, statement: sa.Executable, batch: int
    ) -> AsyncIterator[Sequence[sa.Row[Any]]]:
        """The rows of ``statement`` in batches, read as they are consumed; ``prepare``
        (if any) runs first on the same connection (session limits)."""

    @abstractmethod
    async def dispose(self) -> None: ...


class AsyncRunner(Runner):
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def run(self, work: Work[T]) -> T:
        async with self.engine.begin() as connection:
            return await connection.run_sync(work)

    async def stream(
        self, prepare: Work[None] | None, statement: sa.Executable, batch: int
    ) -> AsyncIterator[Sequence[sa.Row[Any]]]:
        async with self.engine.connect() as connection, connection.begin():
            if prepare is not None:
                await connection.run_sync(prepare)
            result = await connection.stream(statement)
            async for part in result.partitions(batch):
                yield part

    async def dispose(self) -> None:
        await self.engine.dispose()


class ThreadRunner(Runner):
    def __init__(self, engine: sa.Engine, threads: int) -> None:
        self.engine = engine
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="isthmus-sql")

    async def run(self, work: Work[T]) -> T:
        def in_transaction() -> T:
            with self.engine.begin() as connection:
                return work(connection)

        return await asyncio.get_running_loop().run_in_executor(self._threads, in_transaction)

    async def stream(
        self, prepare: Work[None] | None, statement: sa.Executable, batch: int
    ) -> AsyncIterator[Sequence[sa.Row[Any]]]:
        # One thread of its own: a DB-API connection is used from the thread it began on,
        # and its steps (open, each batch, close) run in the order they were sent.
        own = ThreadPoolExecutor(1, thread_name_prefix="isthmus-sql-stream")
        loop = asyncio.get_running_loop()
        opened: list[sa.Connection] = []
        results: list[sa.CursorResult[Any]] = []

        def open_rows() -> None:
            connection = self.engine.connect()
            opened.append(connection)
            connection.begin()
            if prepare is not None:
                prepare(connection)
            results.append(connection.execution_options(stream_results=True).execute(statement))

        def close() -> None:
            # the result first, here: a driver's unbuffered cursor left to the garbage
            # collector would read the rest of its rows on whatever thread that runs on
            for result in results:
                result.close()
            for connection in opened:
                connection.close()

        try:
            await loop.run_in_executor(own, open_rows)
            while part := await loop.run_in_executor(own, results[0].fetchmany, batch):
                yield part
        finally:
            own.submit(close)  # after whatever step is still running
            own.shutdown(wait=False)

    async def dispose(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self.engine.dispose)
