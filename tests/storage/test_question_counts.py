"""PostgreSQL keeps a question's counts apart from its row (``question_counts``, migration 0020): a like rewrites
only the narrow counts row, the copies of the keys the rankings read always equal the question's own, and an
upgrade from version 19 keeps every count and ranking."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from handlers.vocabulary.domain import Member, MessageRef, PostKind
from storage.postgres import PostgresStore
from storage.postgres.schema import load_migrations, migrate
from tests.postgres_server import PostgresServer
from tests.storage.helpers import BOB, CAT, DAN, T0, make_world
from tests.storage.pg_history import at_version

KEYS = ("course_slug", "lesson_id", "kind", "deleted", "answered", "created_at", "reminded_at", "base_likes")
MISMATCHED = f"""
    SELECT q.id FROM questions q FULL JOIN question_counts c ON c.id = q.id
    WHERE q.id IS NULL OR c.id IS NULL
       OR ({", ".join(f"q.{k}" for k in KEYS)}) IS DISTINCT FROM ({", ".join(f"c.{k}" for k in KEYS)})
"""


async def _row_version(url: str, table: str, question_id: int) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval(f"SELECT xmin::text FROM {table} WHERE id = $1", question_id))
    finally:
        await conn.close()


async def _mismatched(url: str) -> list[int]:
    conn = await asyncpg.connect(url)
    try:
        return [int(r[0]) for r in await conn.fetch(MISMATCHED)]
    finally:
        await conn.close()


async def test_a_like_rewrites_the_counts_row_and_never_the_question_row(postgres_url: str) -> None:
    store = await PostgresStore.open(postgres_url)
    try:
        world = await make_world(store)
        question = await world.post("How do I install CUDA on Windows?")
        assert question.ref is not None
        row = await _row_version(postgres_url, "questions", question.id)
        counts = await _row_version(postgres_url, "question_counts", question.id)
        await store.add_reaction(question.ref, BOB, "👍", T0)
        await store.add_reaction(question.ref, CAT, "👍", T0)
        await store.remove_reaction(question.ref, CAT, "👍")
        assert await _row_version(postgres_url, "questions", question.id) == row
        assert await _row_version(postgres_url, "question_counts", question.id) != counts
        liked = await store.get_question(question.id)
        assert liked is not None and liked.likes == 1
        assert [(r.question.id, r.total_likes) for r in await store.top_questions("ai", 5)] == [(question.id, 1)]
    finally:
        await store.close()


async def test_the_copied_keys_follow_every_write_of_the_question(postgres_url: str) -> None:
    """Posting, deleting, answering, imported likes, a comment, a reminder: after each, the counts' copies equal
    the question's row, and the rankings read them (a deleted question and an answered one drop out where asked)."""
    store = await PostgresStore.open(postgres_url)
    try:
        world = await make_world(store)
        first = await world.post("What GPU do I need?", message_id="a")
        second = await world.post("Where are the slides?", message_id="b", at=T0 + timedelta(hours=1))
        third = await world.post("Is lesson 3 recorded?", message_id="c", at=T0 + timedelta(hours=2))
        comment = await world.post("Thanks, great lesson", message_id="d", kind=PostKind.COMMENT)
        assert await _mismatched(postgres_url) == []
        await store.set_base_likes(third.id, 5)
        await store.add_reaction(world.ref("a"), BOB, "👍", T0)
        await store.add_reaction(world.ref("b"), BOB, "👍", T0)
        await store.add_reaction(world.ref("b"), DAN, "👍", T0)
        await store.add_reaction(world.ref("d"), DAN, "👍", T0)
        assert await _mismatched(postgres_url) == []
        assert [r.question.id for r in await store.top_questions("ai", 5)] == [third.id, second.id, first.id]
        await store.mark_answered(third.id, "Yes, on the course page.", T0 + timedelta(hours=3))
        assert await store.delete_post(world.ref("b"), T0 + timedelta(hours=3))
        assert await store.claim_reminder(first.id, "ai", T0 + timedelta(hours=4))
        assert await _mismatched(postgres_url) == []
        assert [r.question.id for r in await store.top_questions("ai", 5)] == [third.id, first.id]
        unanswered = await store.top_questions("ai", 5, include_answered=False)
        assert [r.question.id for r in unanswered] == [first.id]
        assert comment.id not in [r.question.id for r in await store.top_questions("ai", 5)]
    finally:
        await store.close()


async def test_upgrading_to_20_keeps_every_count_and_ranking(postgres_server: PostgresServer) -> None:
    """A database at version 19 with liked, imported, deleted and answered questions: after the upgrade each
    question has its likes and score, /top its order, and the next like counts once more."""
    url = postgres_server.create_database("question_counts_upgrade")
    try:
        conn = await asyncpg.connect(url)
        try:
            await at_version(conn, 19)
            await conn.execute(
                "INSERT INTO study_groups (id, platform, chat_id, title, course_slug, language)"
                " VALUES (1, 'telegram', '-100', 'G', 'ai', 'en');"
                "INSERT INTO group_like_emojis VALUES (1, '👍', 0);"
                "INSERT INTO members (id, platform, user_id, display_name) VALUES"
                " (1, 'telegram', '1', 'Ann'), (2, 'telegram', '2', 'Bob'), (3, 'telegram', '3', 'Cat');"
                "INSERT INTO questions (id, lesson_id, course_slug, group_id, author_id, kind, platform, chat_id,"
                " message_id, text, created_at, likes, base_likes, deleted, answered) VALUES"
                " (1, 1, 'ai', 1, 1, 'question', 'telegram', '-100', 'm1', 'What GPU do I need?', 0, 2, 0, 0, 0),"
                " (2, 1, 'ai', 1, 1, 'question', 'telegram', '-100', 'm2', 'Where are the slides?', 1, 1, 3, 0, 0),"
                " (3, 1, 'ai', 1, 1, 'question', 'telegram', '-100', 'm3', 'Deleted one', 2, 9, 0, 1, 0),"
                " (4, 1, 'ai', 1, 1, 'question', 'telegram', '-100', 'm4', 'Answered one', 3, 1, 0, 0, 1);"
                "INSERT INTO reactions (question_id, member_id, emoji, created_at) VALUES"
                " (1, 2, '👍', 0), (1, 3, '👍', 0), (2, 2, '👍', 0), (4, 2, '👍', 0);"
                "SELECT setval(pg_get_serial_sequence('members', 'id'), 3)"
            )
            assert await migrate(conn, "test") == (19, load_migrations()[-1].version)
            rows = await conn.fetch("SELECT id, likes, base_likes, score FROM counted_questions ORDER BY id")
            assert [tuple(r) for r in rows] == [(1, 2, 0, 2), (2, 1, 3, 4), (3, 9, 0, 9), (4, 1, 0, 1)]
        finally:
            await conn.close()
        assert await _mismatched(url) == []
        store = await PostgresStore.open(url)
        try:
            assert [(r.question.id, r.total_likes) for r in await store.top_questions("ai", 5)] == [
                (2, 4),
                (1, 2),
                (4, 1),
            ]
            await store.add_reaction(MessageRef("telegram", "-100", "m1"), Member("telegram", "4", "Dan"), "👍", T0)
            assert [(r.question.id, r.total_likes) for r in await store.top_questions("ai", 2)] == [(2, 4), (1, 3)]
        finally:
            await store.close()
    finally:
        postgres_server.drop_database("question_counts_upgrade")
