"""What every part of :class:`storage.postgres.PostgresStore` shares: the pool and a few helpers.

Unlike SQLite, PostgreSQL takes writers side by side, so there is no single writer here: a write method takes
a pooled connection, runs its statements in one transaction and returns after the commit (a handler always
reads its own writes). Where a batch pays (bursts of likes), the like path groups them itself.

Query text: asyncpg numbers its parameters (``$1``); :func:`numbered` turns the ``?`` placeholders of a query
shared with the SQLite store into that form, so text the dialects agree on is written once.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from handlers.vocabulary.domain import Member, MessageRef
from storage.errors import StoreClosed

UPSERT_MEMBER = """
    INSERT INTO members (platform, user_id, display_name, is_bot) VALUES ($1, $2, $3, $4)
    ON CONFLICT (platform, user_id) DO UPDATE SET display_name = excluded.display_name, is_bot = excluded.is_bot
    WHERE members.display_name IS DISTINCT FROM excluded.display_name OR members.is_bot IS DISTINCT FROM excluded.is_bot
"""

BY_REF = "platform = $1 AND chat_id = $2 AND message_id = $3"

# A connection as the mixins get it: a pooled one (a proxy) or, in migrations and tests, a plain one.
Conn = asyncpg.Connection | PoolConnectionProxy

_PLACEHOLDER = re.compile(r"\?")


@cache
def numbered(sql: str, start: int = 1) -> str:
    """``?`` placeholders as ``$start``, ``$start+1``, … (no query of ours has a ``?`` inside a literal)."""
    counter = iter(range(start, start + sql.count("?")))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


def ref_params(ref: MessageRef) -> tuple[str, str, str]:
    return (ref.platform, ref.chat_id, ref.message_id)


def member_params(member: Member) -> tuple[str, str, str, int]:
    return (member.platform, member.user_id, member.display_name, int(member.is_bot))


class PgBase:
    """The pool and helpers the role mixins use; :class:`storage.postgres.PostgresStore` sets them up."""

    _pool: asyncpg.Pool
    _closed: bool = False

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("the store is closed; nothing was written")

    async def _execute(self, sql: str, *args: Any) -> str:
        """One statement in its own transaction (autocommit); returns the status, e.g. ``UPDATE 1``."""
        self._check_open()
        return str(await self._pool.execute(sql, *args))

    async def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._check_open()
        await self._pool.executemany(sql, rows)

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return list(await self._pool.fetch(sql, *args))

    async def _fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self._pool.fetchrow(sql, *args)

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        return await self._pool.fetchval(sql, *args)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Conn]:
        """A pooled connection inside one transaction: committed when the block ends, rolled back on error."""
        self._check_open()
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn

    @staticmethod
    async def _upsert_member(conn: Conn, member: Member) -> None:
        await conn.execute(UPSERT_MEMBER, *member_params(member))


def affected(status: str) -> int:
    """The row count of a command status such as ``INSERT 0 3`` or ``UPDATE 1``."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0
