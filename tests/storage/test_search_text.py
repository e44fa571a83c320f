"""The web page's search follows each question's text as it is written and edited, on both stores; on PostgreSQL
the search indexes sit on a copy of the text (``question_texts``, migration 0017) that a like never rewrites."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from storage.postgres import PostgresStore
from storage.postgres.schema import load_migrations, migrate
from storage.web_reads import WebFilter
from tests.postgres_server import PostgresServer
from tests.storage.helpers import BOB, CAT, T0, World, make_world
from tests.storage.pg_history import at_version


async def listed(world: World, query: str) -> list[int]:
    found, _ = await world.store.web_questions(WebFilter("ai", query=query))
    return [q.id for q in found]


async def test_search_follows_an_edited_question_and_a_like_changes_nothing_it_finds(world: World) -> None:
    question = await world.post("How do I install CUDA on Windows?")
    assert question.ref is not None
    assert await world.store.edit_post(question.ref, "Where are the slides?", T0 + timedelta(minutes=5))
    assert await listed(world, "CUDA") == [] and await listed(world, "cu") == []
    assert await listed(world, "slides") == [question.id] and await listed(world, "sl") == [question.id]
    await world.store.add_reaction(question.ref, BOB, "👍", T0 + timedelta(minutes=6))
    assert await listed(world, "slides") == [question.id] and await listed(world, "CUDA") == []


async def _search_copy_version(url: str, question_id: int) -> tuple[str, str]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow("SELECT xmin::text, text FROM question_texts WHERE question_id = $1", question_id)
        assert row is not None
        return str(row[0]), str(row[1])
    finally:
        await conn.close()


async def test_a_like_never_rewrites_the_search_copy_of_its_question_on_postgresql(postgres_url: str) -> None:
    store = await PostgresStore.open(postgres_url)
    try:
        world = await make_world(store)
        question = await world.post("vLLM 的 PagedAttention 怎么理解？")
        assert question.ref is not None
        written = await _search_copy_version(postgres_url, question.id)
        assert written[1] == "vLLM 的 PagedAttention 怎么理解？"
        await store.add_reaction(question.ref, BOB, "👍", T0)
        await store.add_reaction(question.ref, CAT, "👍", T0)
        await store.remove_reaction(question.ref, CAT, "👍")
        liked = await store.get_question(question.id)
        assert liked is not None and liked.likes == 1
        assert await _search_copy_version(postgres_url, question.id) == written  # the same row version
        await store.edit_post(question.ref, "PagedAttention 和虚拟内存有什么关系？", T0 + timedelta(minutes=1))
        edited = await _search_copy_version(postgres_url, question.id)
        assert edited[0] != written[0] and edited[1] == "PagedAttention 和虚拟内存有什么关系？"
    finally:
        await store.close()


async def test_upgrading_to_17_copies_every_question_text_for_search(postgres_server: PostgresServer) -> None:
    """A database at version 16 with questions: after the upgrade the search finds them, long and short."""
    url = postgres_server.create_database("search_text_upgrade")
    try:
        conn = await asyncpg.connect(url)
        try:
            await at_version(conn, 16)
            await conn.execute(
                "INSERT INTO members (id, platform, user_id, display_name) VALUES (1, 'telegram', '1', 'Ann');"
                "INSERT INTO questions (id, lesson_id, course_slug, author_id, kind, text, created_at) VALUES"
                " (1, 1, 'ai', 1, 'question', 'How do I install CUDA on Windows?', 0),"
                " (2, 1, 'ai', 1, 'question', '显存不够怎么办', 1)"
            )
            assert await migrate(conn, "test") == (16, load_migrations()[-1].version)
            rows = await conn.fetch("SELECT question_id, text FROM question_texts ORDER BY question_id")
            assert [tuple(r) for r in rows] == [(1, "How do I install CUDA on Windows?"), (2, "显存不够怎么办")]
        finally:
            await conn.close()
        store = await PostgresStore.open(url)
        try:
            for query, expected in (("cuda", [1]), ("显", [2]), ("不够怎么", [2]), ("linux", [])):
                found, _ = await store.web_questions(WebFilter("ai", query=query))
                assert [q.id for q in found] == expected, query
        finally:
            await store.close()
    finally:
        postgres_server.drop_database("search_text_upgrade")
