"""Bring the app database to the newest schema with Alembic, at every start, on SQLite and PostgreSQL.

`History` calls `upgrade` instead of `create_all`, so a schema change ships as a migration and every
process that opens the database applies it once. Databases made by the old `create_all` (tables but no
`alembic_version`) are stamped at the first revision, whose tables they already hold, and upgraded from
there. Processes starting together take a lock first (a PostgreSQL advisory lock, or a lock file beside a
SQLite database), so only one of them migrates and the others see the result.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"
"""The revision matching the schema `create_all` used to build before migrations existed."""
_ADVISORY_LOCK_ID = 7_355_608_011
"""Any constant: every process migrating this database waits on the same PostgreSQL advisory lock."""


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic config without an ini file: our scripts, and the connection to run them on."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Apply every migration not yet applied (stamping a pre-migration database first)."""
    with _migration_lock(engine), engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
        config = alembic_config(connection)
        if "conversations" in tables and "alembic_version" not in tables:
            command.stamp(config, BASELINE)
        command.upgrade(config, revision)
        connection.commit()


@contextlib.contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": _ADVISORY_LOCK_ID})
                conn.commit()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
