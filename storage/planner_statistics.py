"""SQLite's planner statistics, kept only for tables big enough for them to mean something.

Why: ``PRAGMA optimize`` (run as the store closes) records ``sqlite_stat1`` for the tables the session used. A
deployment stopped early in its life records its ``members`` table at a handful of rows, and SQLite 3.40's
optimize never analyses that table again however much it grows. With a table thought to hold one row, SQLite
scans it instead of using its index: each like of a burst then read every member. Through the store, at 5,000
members and 200 questions, that was 4.2 ms a like, against 19 µs with the index.

Statistics of a small table say nothing about the table it becomes, so rows for tables estimated under
:data:`SMALL_TABLE_ROWS` rows are forgotten, at open (statistics an older release left) and after each
optimize. SQLite plans such a table as it plans any table without statistics: as a large one, through its
indexes, which is the right plan at every size. A table past the floor keeps its statistics; an index lookup
beats a scan of even a thousand rows, so one that has grown since is still planned well.
"""

from __future__ import annotations

import aiosqlite

SMALL_TABLE_ROWS = 1000

# The first number of a table's stat is its row count; CAST reads the leading integer of "200 200 1".
_HAS_STATISTICS = "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1'"
_SMALL = "FROM sqlite_stat1 WHERE CAST(stat AS INTEGER) < ?"


async def forget_small_tables(conn: aiosqlite.Connection) -> None:
    """Drop small tables' statistics from the file, and make ``conn``'s planner forget them too.

    ``conn`` must be able to write and must not be in a transaction (the delete commits on its own). Other
    connections read the statistics when they open, so open them after this.
    """
    async with conn.execute(_HAS_STATISTICS) as cursor:
        if await cursor.fetchone() is None:
            return
    async with conn.execute(f"SELECT 1 {_SMALL} LIMIT 1", (SMALL_TABLE_ROWS,)) as cursor:
        if await cursor.fetchone() is None:
            return  # nothing to forget: no write, so no wait for another process's write lock at start
    await conn.execute(f"DELETE {_SMALL}", (SMALL_TABLE_ROWS,))
    await conn.execute("ANALYZE sqlite_schema")  # reloads the statistics this connection plans with
