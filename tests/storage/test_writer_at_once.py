"""A burst handed to an idle writer goes to SQLite in the caller's step (storage.thread_queue): it is committed
while the event loop is still busy elsewhere, it keeps its place among the writes around it, a bad one fails
alone, and close() waits for it."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest

from handlers.vocabulary.domain import Member, ReactionChange
from storage import SqliteStore
from storage.connection import connect
from storage.locations import Database
from storage.thread_queue import direct_queue
from storage.writer import Batch, GroupCommitWriter, Statement
from tests.storage.helpers import T0, World

INSERT = "INSERT INTO t VALUES (?)"
INSERT_JSON = "INSERT INTO t SELECT value ->> 0 FROM json_each(?) ORDER BY key"


@pytest.fixture
def database(db_path: Path) -> Database:
    """The SQLite store's writer only."""
    return Database.sqlite(db_path)


@pytest.fixture
async def table_t(tmp_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    """A writer's connection to a fresh file with one table ``t (x INTEGER UNIQUE)``."""
    conn = await connect(tmp_path / "w.db")
    await conn.execute("CREATE TABLE t (x INTEGER UNIQUE)")
    yield conn
    await conn.close()


async def _values(conn: aiosqlite.Connection) -> list[int]:
    async with conn.execute("SELECT x FROM t ORDER BY x") as cursor:
        return [int(row[0]) for row in await cursor.fetchall()]


def _wait_without_yielding(check: sqlite3.Connection, sql: str, wanted: object, seconds: float = 10.0) -> object:
    """Poll another connection while the event loop is held (nothing here awaits): only a write that reached
    SQLite's thread already can show up."""
    deadline = time.monotonic() + seconds
    while True:
        found = check.execute(sql).fetchone()[0]
        if found == wanted or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def test_the_installed_aiosqlite_lets_work_go_at_once(tmp_path: Path) -> None:
    async def probe() -> bool:
        conn = await connect(tmp_path / "probe.db")
        try:
            return direct_queue(conn) is not None
        finally:
            await conn.close()

    assert asyncio.run(probe()), "aiosqlite changed: bursts now wait for the writer task (storage/thread_queue.py)"


async def test_a_burst_is_committed_while_the_event_loop_is_still_busy(world: World, db_path: Path) -> None:
    post = await world.post("Why is the sky blue?")
    assert post.ref is not None
    burst = [ReactionChange(post.ref, Member("telegram", f"f{n}", f"Fan {n}"), "👍", T0) for n in range(30)]
    applied = asyncio.ensure_future(world.store.apply_reactions(burst))
    await asyncio.sleep(0)  # its first step runs: the burst is handed over, and this test takes the loop again
    with sqlite3.connect(db_path) as check:
        seen = _wait_without_yielding(check, f"SELECT likes FROM questions WHERE id = {int(post.id)}", 30)
    check.close()
    assert seen == 30, "the burst waited for the event loop"
    await applied
    question = await world.store.get_question(post.id)
    assert question is not None and question.likes == 30
    assert isinstance(world.store, SqliteStore) and world.store.writer_stats.at_once >= 1


async def test_at_once_keeps_its_place_among_the_writes_around_it(table_t: aiosqlite.Connection) -> None:
    writer = GroupCommitWriter(table_t, batch_max=1000)
    writer.start()
    try:
        first = writer.submit(Batch([(INSERT, (1,), INSERT_JSON), (INSERT, (2,), INSERT_JSON)], at_once=True))
        # queued in the same step: the writer task takes these, after the burst
        second = writer.submit(Batch([(INSERT, (3,), INSERT_JSON)], at_once=True))
        clash = writer.submit(Statement(INSERT, (2,)))  # 2 is the burst's, so the burst went first
        await asyncio.gather(first, second)
        with pytest.raises(sqlite3.IntegrityError):
            await clash
        await asyncio.sleep(0)
        later = writer.submit(Batch([(INSERT, (4,), INSERT_JSON), (INSERT, (5,), INSERT_JSON)], at_once=True))
        await later
    finally:
        await writer.close()
    assert writer.stats.at_once == 2  # the first burst, and the one handed to the idle writer later
    assert await _values(table_t) == [1, 2, 3, 4, 5]


async def test_a_bad_burst_fails_alone_and_changes_nothing(table_t: aiosqlite.Connection) -> None:
    await table_t.execute("INSERT INTO t VALUES (7)")
    writer = GroupCommitWriter(table_t, batch_max=1000)
    writer.start()
    try:
        bad = writer.submit(Batch([(INSERT, (6,), INSERT_JSON), (INSERT, (7,), INSERT_JSON)], at_once=True))
        with pytest.raises(sqlite3.IntegrityError):
            await bad
        await asyncio.sleep(0)
        good = writer.submit(Batch([(INSERT, (8,), INSERT_JSON), (INSERT, (9,), INSERT_JSON)], at_once=True))
        await good
    finally:
        await writer.close()
    assert writer.stats.failed_operations == 1
    assert await _values(table_t) == [7, 8, 9]  # not 6: the statement applied nothing


async def test_close_waits_for_a_burst_handed_over_at_once(table_t: aiosqlite.Connection) -> None:
    writer = GroupCommitWriter(table_t, batch_max=1000)
    writer.start()
    handed = writer.submit(Batch([(INSERT, (n,), INSERT_JSON) for n in range(500)], at_once=True))
    await writer.close()
    assert handed.done() and handed.exception() is None
    assert await _values(table_t) == list(range(500))
