"""Opening SQLite connections the one way studybot uses them.

Every connection gets the same pragmas: foreign keys are off by default in SQLite and must be turned on per
connection; WAL lets the reader connection read while the writer writes; synchronous=NORMAL is durable
against application crashes in WAL mode (only an OS crash can lose the last commits) and avoids an fsync per
commit; busy_timeout makes a second process (``studybot db upgrade``, an export) wait instead of failing.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import aiosqlite

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


async def connect_raw(path: str | Path) -> aiosqlite.Connection:
    """A connection in autocommit mode with only the busy timeout set.

    Used before the schema version is checked: setting journal_mode=WAL writes the file header, and a
    database that is too new must be left exactly as it was found.
    """
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    conn.row_factory = sqlite3.Row
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


async def apply_pragmas(conn: aiosqlite.Connection, *, foreign_keys: bool = True) -> None:
    """The pragmas every studybot connection runs with (see the module docstring for why)."""
    async with conn.execute("PRAGMA journal_mode = WAL") as cursor:
        row = await cursor.fetchone()
    if row is None or str(row[0]).lower() != "wal":
        # e.g. an in-memory database; everything still works, only without concurrent reads.
        logger.warning("SQLite refused WAL mode (journal_mode is %s)", row[0] if row else None)
    await conn.execute("PRAGMA synchronous = NORMAL")
    await conn.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("PRAGMA temp_store = MEMORY")


async def connect(path: str | Path, *, read_only: bool = False) -> aiosqlite.Connection:
    """A ready connection. ``read_only`` ones refuse writes, so a query can never write by mistake."""
    conn = await connect_raw(path)
    try:
        await apply_pragmas(conn)
        if read_only:
            await conn.execute("PRAGMA query_only = ON")
    except BaseException:
        await conn.close()
        raise
    return conn
