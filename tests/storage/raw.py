"""Reading either store's tables directly, for the assertions the ports do not answer (counts, leftovers).

The SQL must be text both dialects run alike, without parameters. ``commits`` is how many commits the like
path made: SQLite's group-commit writer counts them, PostgreSQL's like queue counts its transactions.
"""

from __future__ import annotations

from typing import Any

from storage import SqliteStore
from tests.storage.helpers import AnyStore


async def rows(store: AnyStore, sql: str) -> list[tuple[Any, ...]]:
    if isinstance(store, SqliteStore):
        return [tuple(row) for row in await store._reader.all(sql)]
    return [tuple(row) for row in await store._fetch(sql)]


async def value(store: AnyStore, sql: str) -> Any:
    return (await rows(store, sql))[0][0]


def commits(store: AnyStore) -> int:
    if isinstance(store, SqliteStore):
        return store.writer_stats.commits
    return store.like_queue.transactions
