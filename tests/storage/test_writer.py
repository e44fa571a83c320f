"""Group commit: many writes, few commits; a bad write fails alone; close() commits what is queued."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.vocabulary.domain import Member, MessageRef
from storage import SqliteStore, StoreClosed
from storage.connection import connect
from storage.locations import Database
from storage.writer import Batch, GroupCommitWriter, Statement
from tests.storage.helpers import T0, World, make_world


@pytest.fixture
def database(db_path: Path) -> Database:
    """These tests are about the SQLite store's single writer: SQLite only (PostgreSQL has its own tests)."""
    return Database.sqlite(db_path)


def fans(n: int) -> list[Member]:
    return [Member("telegram", f"fan{i}", f"Fan {i}") for i in range(n)]


async def test_concurrent_likes_share_few_commits_and_all_are_committed(world: World, db_path: Path) -> None:
    ref = (await world.post()).ref
    assert ref is not None
    store = world.store
    before = store.writer_stats.commits, store.writer_stats.executemany_calls
    await asyncio.gather(*(store.add_reaction(ref, fan, "👍", T0) for fan in fans(500)))
    commits = store.writer_stats.commits - before[0]
    assert 1 <= commits <= 5  # typically 1: everything was queued before the writer woke up
    assert store.writer_stats.executemany_calls - before[1] >= 2  # members, then reactions
    # committed: a separate connection sees every like
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT likes FROM questions").fetchone()[0] == 500
        assert conn.execute("SELECT COUNT(*) FROM reactions").fetchone()[0] == 500
    conn.close()


async def test_a_burst_by_one_member_queues_one_member_upsert(world: World) -> None:
    posts = [await world.post(f"Question {n}?") for n in range(50)]
    store = world.store
    fan = Member("telegram", "burst", "Burst Fan")
    before = store.writer_stats.operations
    await asyncio.gather(*(store.add_reaction(p.ref, fan, "👍", T0) for p in posts if p.ref is not None))
    assert store.writer_stats.operations - before == 50 + 1  # fifty likes and a single member upsert
    assert [(await store.get_question(p.id)).likes for p in posts] == [1] * 50  # type: ignore[union-attr]


async def test_batch_max_bounds_a_batch(db_path: Path) -> None:
    store = await SqliteStore.open(db_path, batch_max=50)
    try:
        world = await make_world(store)
        ref = (await world.post()).ref
        assert ref is not None
        before = store.writer_stats.batches
        await asyncio.gather(*(store.add_reaction(ref, fan, "👍", T0) for fan in fans(200)))
        assert store.writer_stats.batches - before >= 8  # 400 operations, at most 50 each
        question = await store.question_by_ref(ref)
        assert question is not None and question.likes == 200
    finally:
        await store.close()


async def test_a_bad_write_in_a_batch_fails_alone(world: World) -> None:
    """mark_lesson_posted for a lesson that does not exist breaks a foreign key; its neighbours commit."""
    store = world.store
    groups = [await store.setup_group(world.group.chat.__class__("discord", str(i)), "g", "ai", "en") for i in range(6)]
    bad_lesson = world.lesson.id + 1000
    ref = MessageRef("discord", "x", "1")
    before = store.writer_stats.fallbacks
    results = await asyncio.gather(
        *(
            store.mark_lesson_posted(bad_lesson if i == 3 else world.lesson.id, group.id, ref, T0)
            for i, group in enumerate(groups)
        ),
        return_exceptions=True,
    )
    assert isinstance(results[3], sqlite3.IntegrityError)
    assert [r for i, r in enumerate(results) if i != 3] == [None] * 5
    assert store.writer_stats.fallbacks == before + 1  # one executemany, retried one by one
    for i, group in enumerate(groups):
        post = await store.claim_lesson_post(world.lesson.id, group.id, "p1", T0, timedelta(minutes=30))
        assert (post.ref == ref) == (i != 3)


async def test_a_failing_call_rolls_back_only_its_own_savepoint(world: World) -> None:
    store = world.store
    question = await world.post()
    results = await asyncio.gather(
        store.add_reply(question.id, Member("telegram", "5", "E"), world.ref("r1"), "ok", T0),
        store.add_reply(question.id + 99, Member("telegram", "6", "F"), world.ref("r2"), "no such question", T0),
        store.add_reply(question.id, Member("telegram", "7", "G"), world.ref("r3"), "ok", T0),
        return_exceptions=True,
    )
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], sqlite3.IntegrityError)
    stored = await store.get_question(question.id)
    assert stored is not None and stored.replies == 2


async def test_fifo_a_reaction_queued_after_its_question_sees_it(world: World) -> None:
    store = world.store
    ref = world.ref("fresh")

    async def ask() -> None:
        await world.post(message_id="fresh")

    await asyncio.gather(ask(), store.add_reaction(ref, Member("telegram", "8", "H"), "👍", T0))
    question = await store.question_by_ref(ref)
    assert question is not None and question.likes == 1


async def test_close_commits_everything_queued(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    world = await make_world(store)
    ref = (await world.post()).ref
    assert ref is not None
    pending = [asyncio.create_task(store.add_reaction(ref, fan, "👍", T0)) for fan in fans(300)]
    await asyncio.sleep(0)  # the tasks run up to their await: everything is queued, little is committed
    await store.close()
    assert all(task.done() and task.exception() is None for task in pending)
    with pytest.raises(StoreClosed):
        await store.add_reaction(ref, fans(1)[0], "👍", T0)
    reopened = await SqliteStore.open(db_path)
    try:
        question = await reopened.question_by_ref(ref)
        assert question is not None and question.likes == 300
    finally:
        await reopened.close()


async def test_writer_groups_identical_statements_into_one_executemany(tmp_path: Path) -> None:
    conn = await connect(tmp_path / "w.db")
    await conn.execute("CREATE TABLE t (x INTEGER UNIQUE)")
    writer = GroupCommitWriter(conn, batch_max=1000)
    writer.start()
    try:
        futures = [writer.submit(Statement("INSERT INTO t VALUES (?)", (i,))) for i in range(100)]
        futures.append(writer.submit(Statement("INSERT INTO t VALUES (?)", (5,))))  # duplicate: fails alone
        futures += [writer.submit(Statement("INSERT INTO t VALUES (?)", (i,))) for i in range(100, 110)]
        results = await asyncio.gather(*futures, return_exceptions=True)
    finally:
        await writer.close()
    assert isinstance(results[100], sqlite3.IntegrityError)
    assert sum(r is None for r in results) == 110
    assert writer.stats.commits == 1 and writer.stats.executemany_calls == 1 and writer.stats.fallbacks == 1
    async with conn.execute("SELECT COUNT(*) FROM t") as cursor:
        row = await cursor.fetchone()
    assert row is not None and row[0] == 110
    await conn.close()


async def test_a_batch_is_all_or_none_and_its_neighbours_commit(tmp_path: Path) -> None:
    conn = await connect(tmp_path / "w.db")
    await conn.execute("CREATE TABLE t (x INTEGER UNIQUE)")
    writer = GroupCommitWriter(conn, batch_max=1000)
    writer.start()
    insert, delete = "INSERT INTO t VALUES (?)", "DELETE FROM t WHERE x = ?"
    try:
        futures = [
            writer.submit(Statement(insert, (1,))),
            # in order: 2 and 3 inserted, 2 deleted again, 4 inserted — runs of one SQL are one call each
            writer.submit(
                Batch([(insert, (2,), None), (insert, (3,), None), (delete, (2,), None), (insert, (4,), None)])
            ),
            writer.submit(Batch([(insert, (10,), None), (insert, (1,), None)])),  # 1 is taken: none of it stays
            writer.submit(Statement(insert, (11,))),
        ]
        results = await asyncio.gather(*futures, return_exceptions=True)
    finally:
        await writer.close()
    assert results[0] is None and results[1] is None and results[3] is None
    assert isinstance(results[2], sqlite3.IntegrityError)
    # the first insert commits as a lone statement; the batch of two SQLs and the rest go to one transaction
    assert writer.stats.commits == 2 and writer.stats.fallbacks == 1
    async with conn.execute("SELECT x FROM t ORDER BY x") as cursor:
        assert [row[0] for row in await cursor.fetchall()] == [1, 3, 4, 11]
    await conn.close()


async def test_lone_statements_commit_without_a_transaction_and_a_failure_goes_to_one(tmp_path: Path) -> None:
    conn = await connect(tmp_path / "w.db")
    await conn.execute("CREATE TABLE t (x INTEGER UNIQUE)")
    await conn.execute("CREATE TABLE u (y INTEGER UNIQUE)")
    writer = GroupCommitWriter(conn, batch_max=1000)
    writer.start()
    into_t, into_u = "INSERT INTO t VALUES (?)", "INSERT INTO u VALUES (?)"
    batch_t = "INSERT INTO t SELECT value ->> 0 FROM json_each(?) ORDER BY key"
    try:
        futures = [
            writer.submit(Batch([(into_t, (1,), batch_t), (into_t, (2,), batch_t)])),
            writer.submit(Batch([(into_t, (3,), batch_t)])),  # same SQL: one statement with the one before
            writer.submit(Statement(into_u, (1,))),  # another SQL: a lone statement of its own
            writer.submit(Statement(into_t, (2,))),  # fails: from here on, one transaction
            writer.submit(Statement(into_u, (2,))),
        ]
        results = await asyncio.gather(*futures, return_exceptions=True)
    finally:
        await writer.close()
    assert results[:3] == [None, None, None] and results[4] is None
    assert isinstance(results[3], sqlite3.IntegrityError)
    assert writer.stats.commits == 3  # t (1, 2, 3) and u (1) on their own, then one transaction
    async with conn.execute("SELECT x FROM t ORDER BY x") as cursor:
        assert [row[0] for row in await cursor.fetchall()] == [1, 2, 3]
    async with conn.execute("SELECT y FROM u ORDER BY y") as cursor:
        assert [row[0] for row in await cursor.fetchall()] == [1, 2]
    await conn.close()
