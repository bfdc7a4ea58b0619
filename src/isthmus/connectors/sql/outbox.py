"""The transactional outbox table of a SQL Connection: its shape, and taking and
removing relayed rows.

An application writes a row in the same transaction as its business change (so a
rolled-back change leaves no row); the hub's relay reads rows in ``id`` order, publishes
them, and only then deletes them. The table is the application's: the hub never creates
it, and ``isthmus connection outbox NAME`` prints its ``CREATE TABLE`` for the
Connection's database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.schema import CreateTable

from isthmus.connectors.sql.runner import Runner


def outbox_table(name: str) -> sa.Table:
    schema, _, table = name.rpartition(".")
    return sa.Table(
        table,
        sa.MetaData(),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("event_type", sa.String(200), nullable=False, index=True),
        sa.Column("subject", sa.String(500), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False, comment="the event's data, as JSON"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=schema or None,
    )


def create_statement(name: str, dialect: sa.Dialect) -> str:
    """The ``CREATE TABLE`` (and index) of outbox ``name`` in ``dialect``."""
    table = outbox_table(name)
    statements = [str(CreateTable(table).compile(dialect=dialect)).strip()]
    statements += [
        str(sa.schema.CreateIndex(index).compile(dialect=dialect)).strip()
        for index in table.indexes
    ]
    return ";\n".join(statements) + ";"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    subject: str | None
    payload: str
    created_at: datetime | None


async def take(runner: Runner, name: str, event_type: str, limit: int) -> list[OutboxRow]:
    """The oldest ``limit`` rows of ``event_type`` (they stay until :func:`remove`)."""
    table = outbox_table(name)
    c = table.c
    query = (
        sa.select(c.id, c.subject, c.payload, c.created_at)
        .where(c.event_type == event_type)
        .order_by(c.id)
        .limit(limit)
    )

    def work(connection: sa.Connection) -> list[OutboxRow]:
        return [OutboxRow(*row) for row in connection.execute(query)]

    return await runner.run(work)


async def remove(runner: Runner, name: str, ids: Sequence[int]) -> None:
    table = outbox_table(name)
    statement = sa.delete(table).where(table.c.id.in_(list(ids)))

    def work(connection: sa.Connection) -> None:
        connection.execute(statement)

    await runner.run(work)
