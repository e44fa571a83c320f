"""The two ends of ``studybot db copy`` (:mod:`storage.copying`): what it asks of SQLite and of PostgreSQL.

The source is read in one snapshot (a read transaction on SQLite, REPEATABLE READ on PostgreSQL), so a copy
taken while studybot still runs is consistent. The target is written in one transaction, committed by
``finish`` only after the copy checked out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
import asyncpg

from storage.connection import apply_pragmas, connect, connect_raw, explained
from storage.copying import BATCH, CopyRefused
from storage.locations import Database
from storage.postgres.connection import open_pool
from storage.postgres.schema import migrate as migrate_postgres
from storage.postgres.schema import schema_version
from storage.schema import migrate as migrate_sqlite

# What the stores keep counted, recounted from the copied rows: SQLite's triggers counted them again as they
# arrived; on PostgreSQL the like path counts in its own statements and the reply trigger is off for the copy.
RECOUNT = """
    UPDATE questions SET
        likes = (SELECT COUNT(DISTINCT r.member_id) FROM reactions r WHERE r.question_id = questions.id),
        replies = (SELECT COUNT(*) FROM replies p WHERE p.question_id = questions.id AND p.deleted = 0)
"""
# PostgreSQL keeps likes in question_counts (its migration 0020), which its trigger filled as questions arrived.
PG_RECOUNT = """
    UPDATE question_counts c
    SET likes = (SELECT COUNT(DISTINCT r.member_id) FROM reactions r WHERE r.question_id = c.id);
    UPDATE questions
    SET replies = (SELECT COUNT(*) FROM replies p WHERE p.question_id = questions.id AND p.deleted = 0)
"""
COUNTING_TRIGGERS = {"replies": "replies_counted"}


class SqliteSide:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def tables(self) -> list[str]:
        async with self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cursor:
            return [str(row[0]) for row in await cursor.fetchall()]

    async def columns(self, table: str) -> list[str]:
        # table_xinfo lists generated columns too, as hidden (2, 3): those are computed, never copied.
        async with self.conn.execute(f'PRAGMA table_xinfo("{table}")') as cursor:
            return [str(row[1]) for row in await cursor.fetchall() if row[6] == 0]

    async def count(self, table: str) -> int:
        async with self.conn.execute(f'SELECT COUNT(*) FROM "{table}"') as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def rows(self, table: str, columns: Sequence[str]) -> AsyncIterator[list[tuple[Any, ...]]]:
        names = ", ".join(f'"{c}"' for c in columns)
        async with self.conn.execute(f'SELECT {names} FROM "{table}"') as cursor:
            while batch := await cursor.fetchmany(BATCH):
                yield [tuple(row) for row in batch]

    async def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        await self.conn.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)

    async def set_self_references(self, table: str, column: str, pairs: Sequence[tuple[Any, Any]]) -> None:
        await self.conn.executemany(f'UPDATE "{table}" SET "{column}" = ? WHERE id = ?', [(v, k) for k, v in pairs])

    async def clear(self, table: str) -> None:
        await self.conn.execute(f'DELETE FROM "{table}"')

    async def recount(self) -> None:
        await self.conn.execute(RECOUNT)

    async def finish(self) -> None:
        await self.conn.execute("COMMIT")

    async def likes(self) -> AsyncIterator[list[tuple[int, int]]]:
        async with self.conn.execute("SELECT id, likes FROM questions ORDER BY id") as cursor:
            while batch := await cursor.fetchmany(BATCH):
                yield [(int(row[0]), int(row[1])) for row in batch]


@asynccontextmanager
async def sqlite_side(database: Database, *, write: bool) -> AsyncIterator[SqliteSide]:
    assert database.path is not None
    if not write and not database.path.is_file():
        raise CopyRefused(f"there is no SQLite database at {database.path}")
    with explained(database.path):
        if write:
            conn = await connect_raw(database.path)
            try:
                await migrate_sqlite(conn, str(database.path))
                await apply_pragmas(conn)
                await conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                await conn.close()
                raise
        else:
            conn = await connect(database.path, read_only=True)
            await conn.execute("BEGIN")  # one snapshot for the whole copy
        try:
            yield SqliteSide(conn)
        finally:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            await conn.close()


class PostgresSide:
    def __init__(self, conn: asyncpg.pool.PoolConnectionProxy) -> None:
        self.conn = conn
        self._types: dict[str, dict[str, str]] = {}

    async def version(self) -> int:
        return await schema_version(self.conn)

    async def tables(self) -> list[str]:
        rows = await self.conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return [str(row[0]) for row in rows]

    async def columns(self, table: str) -> list[str]:
        rows = await self.conn.fetch(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER'"
            " ORDER BY ordinal_position",
            table,
        )
        self._types[table] = {str(row[0]): str(row[1]) for row in rows}
        return list(self._types[table])

    async def count(self, table: str) -> int:
        return int(await self.conn.fetchval(f'SELECT COUNT(*) FROM "{table}"'))

    async def rows(self, table: str, columns: Sequence[str]) -> AsyncIterator[list[tuple[Any, ...]]]:
        names = ", ".join(f'"{c}"' for c in columns)
        batch: list[tuple[Any, ...]] = []
        async for row in self.conn.cursor(f'SELECT {names} FROM "{table}"', prefetch=BATCH):
            batch.append(tuple(row))
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    async def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        # COPY's binary format wants each value as its column's type; SQLite's loose typing may hand over
        # an id kept as text or a number kept in a TEXT column.
        types = self._types[table] if table in self._types else {c: "" for c in columns}
        casts = [_caster(types.get(c, "")) for c in columns]
        records = [tuple(v if v is None else cast(v) for cast, v in zip(casts, row, strict=True)) for row in rows]
        await self.conn.copy_records_to_table(table, records=records, columns=list(columns))

    async def set_self_references(self, table: str, column: str, pairs: Sequence[tuple[Any, Any]]) -> None:
        await self.conn.executemany(
            f'UPDATE "{table}" SET "{column}" = $1 WHERE id = $2', [(int(v), int(k)) for k, v in pairs]
        )

    async def clear(self, table: str) -> None:
        await self.conn.execute(f'DELETE FROM "{table}"')

    async def recount(self) -> None:
        await self.conn.execute(PG_RECOUNT)
        for table, trigger in COUNTING_TRIGGERS.items():
            await self.conn.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER "{trigger}"')

    async def finish(self) -> None:
        # Identities were given explicit values: move each sequence past the largest, or the next insert fails.
        identities = await self.conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND is_identity = 'YES'"
        )
        for table, column in identities:
            await self.conn.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'),"
                f' COALESCE((SELECT max("{column}") FROM "{table}"), 0) + 1, false)'
            )

    async def likes(self) -> AsyncIterator[list[tuple[int, int]]]:
        batch: list[tuple[int, int]] = []
        async for row in self.conn.cursor("SELECT id, likes FROM counted_questions ORDER BY id", prefetch=BATCH):
            batch.append((int(row[0]), int(row[1])))
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def _caster(data_type: str) -> Any:
    if data_type in ("bigint", "integer", "smallint"):
        return int
    if data_type == "text":
        return str
    return lambda value: value


@asynccontextmanager
async def postgres_side(database: Database, *, write: bool) -> AsyncIterator[PostgresSide]:
    assert database.url is not None
    pool = await open_pool(database.url, 1)
    try:
        async with pool.acquire() as conn:
            if write:
                await migrate_postgres(conn, database.shown())
                transaction = conn.transaction()
                await transaction.start()
                for table, trigger in COUNTING_TRIGGERS.items():
                    await conn.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER "{trigger}"')
            else:
                transaction = conn.transaction(isolation="repeatable_read", readonly=True)
                await transaction.start()
            side = PostgresSide(conn)
            try:
                yield side
            except BaseException:
                await transaction.rollback()
                raise
            if write:
                await transaction.commit()
            else:
                await transaction.rollback()
    finally:
        await pool.close()
