"""The hub's store: SQLite by default, PostgreSQL in cluster mode."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from isthmus.errors import StoreUnavailable
from isthmus.store.access import AccessRepository
from isthmus.store.audit import AuditRepository
from isthmus.store.cursors import CursorRepository
from isthmus.store.db import create_engine, migrate
from isthmus.store.dead_letters import DeadLetterRepository
from isthmus.store.keys import ApiKeyInfo, KeyRepository
from isthmus.store.leases import LeaseRepository
from isthmus.store.resources import Change, ResourceRepository, StaleRevision
from isthmus.store.secrets import SecretRepository
from isthmus.store.series import SeriesRepository
from isthmus.store.signing import SigningKeyRepository
from isthmus.store.users import UserRepository

__all__ = ["ApiKeyInfo", "Change", "StaleRevision", "Store"]


class Store:
    """The repositories over one database. Use ``async with Store.open(url)``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.resources = ResourceRepository(engine)
        self.keys = KeyRepository(engine)
        self.secrets = SecretRepository(engine)
        self.signing_keys = SigningKeyRepository(engine)
        self.audit = AuditRepository(engine)
        self.leases = LeaseRepository(engine)
        self.dead_letters = DeadLetterRepository(engine)
        self.cursors = CursorRepository(engine)
        self.series = SeriesRepository(engine)
        self.access = AccessRepository(engine)
        self.users = UserRepository(engine)

    @classmethod
    def open(cls, url: str) -> Store:
        return cls(create_engine(url))

    async def __aenter__(self) -> Self:
        try:
            await migrate(self.engine)
        except (SQLAlchemyError, OSError) as exc:
            await self.engine.dispose()
            # The driver's own message names hosts and users: keep it to the class name.
            raise StoreUnavailable(
                f"The store could not be opened ({type(exc).__name__}).",
                remediation="Check ISTHMUS_DATABASE_URL and that the database is running.",
            ) from exc
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.engine.dispose()
