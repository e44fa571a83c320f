"""Bursts of likes kept before they are counted (migration 0019, ``keep_reactions``): what Telegram's poller
confirms on. Whatever the store does with a kept burst, a read started after ``keep_reactions`` returns sees it
counted, later writes apply after it, and a burst a stopped process kept but never counted is counted at the
next open (or by ``studybot db upgrade``), never lost and never twice."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest

from bot.cli import main
from handlers.vocabulary.domain import Member, MessageRef, ReactionChange
from storage import SqliteStore
from storage.codec import to_micros
from tests.storage.helpers import ANN, BOB, CAT, DAN, T0, AnyStore, World, make_world, undo_like_groups
from tests.storage.raw import rows

LIKE, HEART, LAUGH = "👍", "❤️", "😂"
BOT = Member("telegram", "99", "A bot", is_bot=True)


async def counts(store: AnyStore) -> list[tuple[int, int, int]]:
    """Each question's (id, likes, distinct likers in its reaction rows)."""
    return await rows(
        store,
        "SELECT q.id, q.likes, (SELECT COUNT(DISTINCT member_id) FROM reactions r WHERE r.question_id = q.id)"
        " FROM counted_questions q ORDER BY q.id",
    )


async def likes_of(store: AnyStore, ref: MessageRef) -> int:
    question = await store.question_by_ref(ref)
    assert question is not None
    return question.likes


async def test_a_read_after_keep_returns_sees_the_burst_counted_by_the_like_rule(world: World) -> None:
    store = world.store
    await store.set_like_emojis(world.group.id, [LIKE, HEART])
    ref = (await world.post("Why does the loss spike?", author=ANN)).ref
    assert ref is not None
    newcomer = Member("telegram", "700", "Newcomer")
    burst = [
        ReactionChange(ref, who, emoji, T0)
        for who in (BOB, CAT, ANN, BOT, newcomer)  # Ann wrote it and the bot is a bot: neither counts
        for emoji in (LIKE, HEART, LAUGH)
    ]
    await store.keep_reactions(burst)
    assert await likes_of(store, ref) == 3  # no wait in the test: the read waits for the count itself
    await store.keep_reactions(burst)  # redelivered: nothing more
    await store.settled()
    assert await likes_of(store, ref) == 3
    assert all(likes == likers for _, likes, likers in await counts(store))
    reactions = await rows(
        store,
        "SELECT m.display_name, COUNT(*) FROM reactions r JOIN members m ON m.id = r.member_id"
        " GROUP BY m.display_name ORDER BY m.display_name",
    )
    assert reactions == [("Bob", 2), ("Cat", 2), ("Newcomer", 2)]


async def test_writes_queued_after_a_kept_burst_apply_after_it(world: World) -> None:
    """A removal right behind the kept likes removes one of them: the count runs first, as it was kept first."""
    store = world.store
    ref = (await world.post("Where is the homework?", author=ANN)).ref
    assert ref is not None
    await store.keep_reactions([ReactionChange(ref, BOB, LIKE, T0), ReactionChange(ref, CAT, LIKE, T0)])
    await store.remove_reaction(ref, BOB, LIKE)
    assert await likes_of(store, ref) == 1
    # A burst with a removal is applied at once, in order, as apply_reactions applies it.
    await store.keep_reactions([ReactionChange(ref, DAN, LIKE, T0), ReactionChange(ref, CAT, LIKE, T0, added=False)])
    assert await likes_of(store, ref) == 1
    await store.keep_reactions([ReactionChange(ref, BOB, LIKE, T0)])  # a single change: applied at once too
    assert await likes_of(store, ref) == 2


async def test_a_bad_time_keeps_nothing_and_changes_nothing(world: World) -> None:
    store = world.store
    ref = (await world.post("How do I install CUDA?", author=ANN)).ref
    assert ref is not None
    await store.keep_reactions([ReactionChange(ref, BOB, LIKE, T0), ReactionChange(ref, CAT, LIKE, T0)])
    before = await counts(store)
    naive = T0.replace(tzinfo=None)
    with pytest.raises(ValueError, match="naive datetime"):
        await store.keep_reactions([ReactionChange(ref, DAN, LIKE, T0), ReactionChange(ref, DAN, HEART, naive)])
    assert await counts(store) == before
    if isinstance(store, SqliteStore):
        assert await rows(store, "SELECT COUNT(*) FROM like_inbox") == [(0,)]


def leave_kept(path: Path, ref: MessageRef, members: list[Member], at: datetime) -> None:
    """What a process killed between keeping a burst and counting it leaves: a like_inbox row (like_bursts'
    arguments: the members to upsert, and the likes grouped by post as like_groups takes them, migration 21)."""
    people = [[m.platform, m.user_id, m.display_name, int(m.is_bot)] for m in members]
    group = [*_where(ref), LIKE, members[0].platform, to_micros(at), [m.user_id for m in members]]
    _insert_kept(path, people, [group])


def leave_kept_before_21(path: Path, ref: MessageRef, members: list[Member], at: datetime) -> None:
    """The same row as a process before migration 21 left it: one like at a time, as like_batches takes them."""
    people = [[m.platform, m.user_id, m.display_name, int(m.is_bot)] for m in members]
    _insert_kept(path, people, [[to_micros(at), LIKE, m.platform, m.user_id, *_where(ref)] for m in members])


def _where(ref: MessageRef) -> list[str]:
    return [ref.platform, ref.chat_id, ref.message_id]


def _insert_kept(path: Path, people: list[list[object]], likes: list[list[object]]) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO like_inbox (members, likes) VALUES (?, ?)", (json.dumps(people), json.dumps(likes)))
    conn.close()


async def kept_world(path: Path) -> MessageRef:
    store = await SqliteStore.open(path)
    try:
        world = await make_world(store)
        ref = (await world.post("Is the exam open book?", author=ANN)).ref
        assert ref is not None
        await store.keep_reactions([ReactionChange(ref, BOB, LIKE, T0), ReactionChange(ref, CAT, LIKE, T0)])
        return ref
    finally:
        await store.close()


async def test_a_burst_kept_by_a_stopped_process_is_counted_once_at_the_next_open(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ref = await kept_world(db_path)
    newcomer = Member("telegram", "700", "Newcomer")
    leave_kept(db_path, ref, [CAT, newcomer], T0)  # Cat's like was counted already: it adds nothing
    with caplog.at_level(logging.INFO, logger="storage.like_inbox"):
        store = await SqliteStore.open(db_path)
    try:
        assert "counted 1 burst(s) of likes kept before the last stop" in caplog.text
        assert await likes_of(store, ref) == 3
        assert await rows(store, "SELECT COUNT(*) FROM like_inbox") == [(0,)]
        assert await rows(store, "SELECT display_name FROM members WHERE user_id = '700'") == [("Newcomer",)]
    finally:
        await store.close()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="storage.like_inbox"):
        store = await SqliteStore.open(db_path)  # nothing left: nothing counted twice, nothing said
    try:
        assert "kept before the last stop" not in caplog.text
        assert await likes_of(store, ref) == 3
    finally:
        await store.close()


async def test_a_burst_kept_before_migration_21_is_counted_by_the_upgrade(db_path: Path) -> None:
    """A stopped version-20 process left its likes one at a time; migration 21 counts them as they were written
    (read as groups, they would find no post and count nothing) before the likes travel grouped."""
    ref = await kept_world(db_path)
    with sqlite3.connect(db_path) as conn:
        undo_like_groups(conn)
        conn.execute("PRAGMA user_version = 20")
    conn.close()
    leave_kept_before_21(db_path, ref, [DAN, Member("telegram", "700", "Newcomer")], T0)
    store = await SqliteStore.open(db_path)
    try:
        assert await likes_of(store, ref) == 4
        assert await rows(store, "SELECT COUNT(*) FROM like_inbox") == [(0,)]
        fay = Member("telegram", "701", "Fay")
        await store.keep_reactions([ReactionChange(ref, DAN, LIKE, T0), ReactionChange(ref, fay, LIKE, T0)])
        assert await likes_of(store, ref) == 5  # the upgraded store counts in groups; Dan's like again adds none
        assert all(count == distinct for _, count, distinct in await counts(store))
    finally:
        await store.close()


@pytest.mark.usefixtures("no_settings_from_the_machine")
def test_db_copy_refuses_kept_bursts_until_db_upgrade_counts_them(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = asyncio.run(kept_world(db_path))
    leave_kept(db_path, ref, [DAN], T0)
    target = tmp_path / "copy.db"
    assert main(["db", "copy", f"sqlite:///{db_path}", f"sqlite:///{target}"]) == 1
    err = capsys.readouterr().err
    assert "the source holds 1 burst(s) of likes kept but not counted" in err and "studybot db upgrade" in err
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT likes FROM questions").fetchall() == [(2,)]
    conn.close()
    monkeypatch.setenv("DATABASE_PATH", str(db_path))
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "copy", f"sqlite:///{db_path}", f"sqlite:///{target}"]) == 0
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT likes FROM questions").fetchall() == [(3,)]
    conn.close()


async def test_a_burst_whose_keep_failed_leaves_its_members_unknown(world: World) -> None:
    """A name neither store can encode (a lone surrogate) fails the keep: nothing is kept or counted, and its member is
    not taken as stored, so the next burst tries the upsert again (and fails the same way) instead of taking the
    plain like statement that would drop the member's likes without a word."""
    store = world.store
    ref = (await world.post("Is the exam open book?", author=ANN)).ref
    assert ref is not None
    broken = Member("telegram", "77", "bad \ud800 name")
    with pytest.raises((ValueError, asyncpg.DataError), match="surrogates not allowed"):
        await store.keep_reactions([ReactionChange(ref, broken, LIKE, T0), ReactionChange(ref, BOB, LIKE, T0)])
    await store.settled()
    assert await likes_of(store, ref) == 0
    with pytest.raises((ValueError, asyncpg.DataError), match="surrogates not allowed"):
        await store.keep_reactions([ReactionChange(ref, broken, HEART, T0), ReactionChange(ref, CAT, LIKE, T0)])
    await store.keep_reactions([ReactionChange(ref, BOB, LIKE, T0), ReactionChange(ref, CAT, LIKE, T0)])
    assert await likes_of(store, ref) == 2


async def test_a_count_that_failed_is_tried_again_without_another_burst(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A fault in the database (injected as a trigger another connection adds: a write refused while it is armed)
    fails the count but not the keep; once the fault is gone the count is tried again by itself, and the likes
    are counted once, with no further burst and no restart."""
    store = await SqliteStore.open(db_path)
    try:
        world = await make_world(store)
        ref = (await world.post("Is the exam open book?", author=ANN)).ref
        assert ref is not None
        with sqlite3.connect(db_path) as raw:
            raw.executescript(
                "CREATE TABLE fault (armed INTEGER NOT NULL); INSERT INTO fault VALUES (1);"
                " CREATE TRIGGER fault_on_count BEFORE DELETE ON like_inbox WHEN (SELECT armed FROM fault) = 1"
                " BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
            )
        raw.close()
        with caplog.at_level(logging.WARNING, logger="storage.kept_bursts"):
            await store.keep_reactions([ReactionChange(ref, BOB, LIKE, T0), ReactionChange(ref, CAT, LIKE, T0)])
            assert await likes_of(store, ref) == 0  # the read waited for the count, which failed
        assert "kept likes not counted yet (injected fault); trying again in 0.5 s" in caplog.text
        assert await rows(store, "SELECT COUNT(*) FROM like_inbox") == [(1,)]  # kept all the same
        with sqlite3.connect(db_path) as raw:
            raw.execute("UPDATE fault SET armed = 0")
        raw.close()
        for _ in range(100):  # the first retry is due after 0.5 s
            if await likes_of(store, ref) == 2:
                break
            await asyncio.sleep(0.05)
        assert await likes_of(store, ref) == 2
        assert await rows(store, "SELECT COUNT(*) FROM like_inbox") == [(0,)]
    finally:
        await store.close()
