"""Alembic environment: runs on the connection `assistant.migrate` hands over, against history's tables.

Run through `assistant.migrate.upgrade` (every `History` does at start). A schema change is a new file in
`versions/` next to the others, plus the same change to the tables in `assistant/history.py`;
tests/test_migrations.py fails while the two disagree.
"""

from __future__ import annotations

from alembic import context

from assistant.history import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through assistant.migrate, which passes the connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
