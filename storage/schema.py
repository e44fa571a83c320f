"""Versioned migrations: numbered SQL files, the version kept inside the database.

``PRAGMA user_version`` is the schema version, so it travels with the file (a copied or restored database
knows its own version) and it changes in the same transaction as the schema: a migration that fails leaves
both the tables and the version as they were. Each file ``NNNN_name.sql`` starts with a one-line
``-- reason`` comment and is applied in its own transaction, in order.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import aiosqlite

from storage.clusters import Progress, cluster_pending
from storage.connection import apply_pragmas, connect_raw, explained
from storage.errors import DatabaseTooNew
from storage.like_inbox import count_left_kept

logger = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    reason: str
    sql: str

    def statements(self) -> list[str]:
        return split_statements(self.sql)


def split_statements(script: str) -> list[str]:
    """Split a script into statements, keeping trigger bodies (``BEGIN …; END;``) whole.

    ``executescript`` cannot be used: it commits any open transaction first, and the version bump must share
    the migration's transaction. ``sqlite3.complete_statement`` knows SQLite's own idea of "complete".
    """
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if _has_sql(pending):
                statements.append(pending.strip())
            pending = ""
    if _has_sql(pending):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {pending.strip()[:80]!r}")
    return statements


def _has_sql(text: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in text.splitlines())


@cache
def load_migrations() -> tuple[Migration, ...]:
    """The migration files shipped as package data, checked to be numbered 1, 2, 3 … without gaps."""
    found = read_migrations("storage")
    expected = list(range(1, len(found) + 1))
    if [m.version for m in found] != expected:
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {[m.version for m in found]}")
    return tuple(found)


def read_migrations(package: str) -> list[Migration]:
    """The files ``NNNN_name.sql`` in ``package``'s ``migrations`` folder, by version, each with its reason
    (for both stores: :mod:`storage.postgres.schema` reads its own folder the same way)."""
    folder = resources.files(package).joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        sql = entry.read_text(encoding="utf-8")
        first_line = sql.splitlines()[0] if sql else ""
        if not first_line.startswith("-- "):
            raise RuntimeError(f"migration {entry.name} must start with a one-line '-- reason' comment")
        found.append(Migration(int(match.group(1)), match.group(2), first_line[3:].strip(), sql))
    found.sort(key=lambda m: m.version)
    return found


def latest_version() -> int:
    return len(load_migrations())


async def user_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def migrate(conn: aiosqlite.Connection, path: str) -> tuple[int, int]:
    """Bring the database on ``conn`` to the latest version; returns (version found, version now).

    ``conn`` must come from :func:`storage.connection.connect_raw`: nothing is written until the version was
    checked, so a database newer than this code is refused untouched.
    """
    migrations = load_migrations()
    known = len(migrations)
    found = await user_version(conn)
    if found > known:
        raise DatabaseTooNew(path, found, known)
    # Foreign keys stay off while migrating so that a later migration may rebuild a table (SQLite's
    # documented recipe); each step checks the keys itself before committing instead.
    await apply_pragmas(conn, foreign_keys=False)
    current = found
    for migration in migrations[found:]:
        await _apply(conn, migration, path)
        current = migration.version
    await conn.execute("PRAGMA foreign_keys = ON")
    if current != found:
        logger.info("database %s upgraded from schema version %d to %d", path, found, current)
    return found, current


async def _apply(conn: aiosqlite.Connection, migration: Migration, path: str) -> None:
    await conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while we waited for the write lock.
        now = await user_version(conn)
        if now >= migration.version:
            await conn.execute("ROLLBACK")
            return
        if now != migration.version - 1:
            raise RuntimeError(f"database {path} is at version {now}, cannot apply migration {migration.version}")
        for statement in migration.statements():
            await conn.execute(statement)
        async with conn.execute("PRAGMA foreign_key_check") as cursor:
            broken = await cursor.fetchall()
        if broken:
            raise RuntimeError(f"migration {migration.version} leaves broken foreign keys: {list(map(tuple, broken))}")
        await conn.execute(f"PRAGMA user_version = {migration.version:d}")
        await conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
        raise
    logger.info("applied migration %04d_%s: %s", migration.version, migration.name, migration.reason)


async def upgrade_database(path: str | Path, progress: Progress | None = None) -> tuple[int, int]:
    """``studybot db upgrade``: migrate the file at ``path``; returns (from_version, to_version).

    A database whose questions were never clustered (or were clustered by an older detector) is clustered
    once right after the migrations, calling ``progress(done, total)`` as it goes (see storage.clusters).

    Raises :class:`storage.DatabaseTooNew` when the file is newer than this studybot, and
    :class:`storage.DatabaseUnusable` when it cannot be opened or written, or is damaged.
    """
    with explained(path):
        conn = await connect_raw(path)
        try:
            versions = await migrate(conn, str(path))
            await count_left_kept(conn)
            await cluster_pending(conn, progress)
            return versions
        finally:
            await conn.close()
