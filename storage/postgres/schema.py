"""PostgreSQL migrations: numbered SQL files in ``storage/postgres/migrations``, the version in the database.

The versions are the SQLite schema's (:mod:`storage.schema`): version N means the same tables and rules on
both, so ``studybot db copy`` can move a database across, and an operator reads one number. PostgreSQL's first
file is a baseline (``0013_baseline.sql``: the SQLite schema as it stood at 13, in one step from an empty
database); from there every version has a file on both sides, checked by :func:`load_migrations` and a test.

Several processes may start at once against one database, so migrating holds a transaction-level advisory
lock: the first migrates, the others wait and then find nothing to do. Each file runs in its own transaction
with the version bump, so a failed migration leaves both the tables and the version as they were.
"""

from __future__ import annotations

import logging
from functools import cache

from storage.errors import DatabaseTooNew
from storage.postgres.base import Conn
from storage.schema import Migration, read_migrations
from storage.schema import latest_version as sqlite_latest_version

logger = logging.getLogger(__name__)

MIGRATION_LOCK = 0x5354_5544_5942_4F54  # "STUDYBOT": the advisory lock key every studybot process migrates under

VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"


@cache
def load_migrations() -> tuple[Migration, ...]:
    """The files, checked to run from the baseline to the SQLite schema's latest version without gaps."""
    found = read_migrations("storage.postgres")
    versions = [m.version for m in found]
    if not versions or versions != list(range(versions[0], versions[0] + len(versions))):
        raise RuntimeError(f"PostgreSQL migrations must be numbered without gaps, found {versions}")
    if versions[-1] != sqlite_latest_version():
        raise RuntimeError(
            f"PostgreSQL migrations end at {versions[-1]}, SQLite's at {sqlite_latest_version()}: "
            "every schema version needs a file in both storage/migrations and storage/postgres/migrations"
        )
    return tuple(found)


def latest_version() -> int:
    return load_migrations()[-1].version


async def schema_version(conn: Conn) -> int:
    """The database's version; 0 for an empty database."""
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    value = await conn.fetchval("SELECT max(version) FROM schema_version")
    return int(value or 0)


async def migrate(conn: Conn, shown_url: str) -> tuple[int, int]:
    """Bring the database to the latest version; returns (version found, version now).

    A database newer than this code is refused untouched (:class:`storage.DatabaseTooNew`).
    """
    migrations = load_migrations()
    known = migrations[-1].version
    found = await schema_version(conn)
    if found > known:
        raise DatabaseTooNew(shown_url, found, known, setting="DATABASE_URL")
    current = found
    for migration in migrations:
        if migration.version <= current:
            continue
        # Said before, too: on a large database a step can take minutes (0017 rebuilds the search indexes).
        logger.info("applying migration %04d_%s ...", migration.version, migration.name)
        if await _apply(conn, migration, shown_url):
            logger.info("applied migration %04d_%s: %s", migration.version, migration.name, migration.reason)
        current = migration.version
    if current != found:
        logger.info("database %s upgraded from schema version %d to %d", shown_url, found, current)
    return found, current


async def _apply(conn: Conn, migration: Migration, shown_url: str) -> bool:
    """Apply one file in its own transaction; False when another process applied it while we waited."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(VERSION_TABLE)
        now = await schema_version(conn)
        if now >= migration.version:
            return False
        first = load_migrations()[0]
        if now != migration.version - 1 and not (now == 0 and migration is first):
            raise RuntimeError(f"database {shown_url} is at version {now}, cannot apply migration {migration.version}")
        await conn.execute(migration.sql)
        await conn.execute("DELETE FROM schema_version")
        await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", migration.version)
    return True
