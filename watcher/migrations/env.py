"""Alembic environment: runs on the connection handed over by watcher.migrations."""

from __future__ import annotations

from alembic import context

from watcher.store import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things; batch mode recreates tables instead.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
