"""Alembic environment. The hub runs migrations itself (``isthmus.store.db.migrate``),
handing over an open connection; the ``alembic`` command line is not needed."""

from __future__ import annotations

from alembic import context

from isthmus.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
