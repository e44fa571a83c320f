"""Bursts of likes kept before they are counted (migration 0019), and counting what a stopped process left.

Why apart from :mod:`storage.likes`: opening a store, ``studybot db upgrade`` and ``studybot db copy`` each need
to know of kept bursts, and none of them needs the like path itself.
"""

from __future__ import annotations

import logging

import aiosqlite

logger = logging.getLogger(__name__)

# A row of like_bursts' arguments (members to upsert, likes), committed on its own; then every kept row counted
# through like_bursts, in order, and deleted, in one statement.
KEEP_BURST = "INSERT INTO like_inbox (members, likes) VALUES (?, ?)"
COUNT_KEPT = "INSERT INTO like_inbox_apply (kept) VALUES (NULL)"
KEPT_LEFT = "SELECT COUNT(*) FROM like_inbox"


async def kept_left(conn: aiosqlite.Connection) -> int:
    """How many kept bursts wait to be counted."""
    async with conn.execute(KEPT_LEFT) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


async def count_left_kept(conn: aiosqlite.Connection) -> int:
    """At open: count the bursts a process kept but stopped before counting; returns how many there were.

    ``conn`` is a writer connection outside any transaction; the count is one statement, so it is all or none.
    """
    left = await kept_left(conn)
    if left:
        await conn.execute(COUNT_KEPT)
        logger.info("counted %d burst(s) of likes kept before the last stop", left)
    return left
