"""Digest links are made when a digest is sent: an item keeps its question's message (with Discord's guild),
and digests recorded before schema 9, which stored a link already made, still render it."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import asyncpg

from handlers.features.digests import render_digest
from handlers.i18n import Translator
from handlers.services import Services
from handlers.vocabulary.content import Content
from handlers.vocabulary.domain import Course, DigestItem, MessageRef, NewPost, PeriodSummary, PostKind, PostWindow
from storage import SqliteStore
from storage.schema import load_migrations
from tests.storage.helpers import ANN, T0, AnyStore, World

SUMMARY = PeriodSummary(1, 0, 0, None)


def services(store: AnyStore) -> Services:
    from bot.cron import CrontabRules
    from bot.outbox import RoutingOutbox
    from tests.clock import TestClock

    return Services(store, RoutingOutbox({}), TestClock(), Translator.load("en"), CrontabRules())


async def stored_items(store: AnyStore) -> str:
    """The digest's items as the database holds them, read past the store."""
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as lite:
            text = str(lite.execute("SELECT items FROM digests").fetchone()[0])
        lite.close()
        return text
    pg = await asyncpg.connect(store.url)
    try:
        return str(await pg.fetchval("SELECT items FROM digests"))
    finally:
        await pg.close()


def links(content: Content) -> list[tuple[str | None, MessageRef | None]]:
    return [(span.url, span.ref) for span in content if span.url is not None or span.ref is not None]


async def test_a_post_keeps_its_guild_and_refs_compare_without_it(world: World) -> None:
    ref = MessageRef("discord", "10", "20", None, guild_id="99")
    question = await world.store.add_post(
        NewPost(world.lesson.id, world.group.id, ANN, ref, "q?", PostKind.QUESTION, T0)
    )
    assert question.ref is not None and question.ref.guild_id == "99"
    found = await world.store.question_by_ref(MessageRef("discord", "10", "20"))  # found without the guild
    assert found is not None and found.ref == ref and found.ref is not None and found.ref.guild_id == "99"
    [ranked] = await world.store.period_questions("ai", PostWindow(0, question.id), 10)
    assert ranked.question.ref is not None and ranked.question.ref.guild_id == "99"


async def test_a_recorded_digest_keeps_the_message_not_a_link(world: World) -> None:
    ref = MessageRef("discord", "10", "20", "30", guild_id="99")
    item = DigestItem(1, "Intro", 3, "Ann", "why?", ref, False)
    digest, _ = await world.store.record_digest("ai", T0, T0 + timedelta(days=7), 1, [item], SUMMARY, T0)
    assert digest.items == (item,) and digest.items[0].ref is not None and digest.items[0].ref.guild_id == "99"
    [stored] = json.loads(await stored_items(world.store))
    assert "link" not in stored and stored["ref"]["guild_id"] == "99"
    course = Course("ai", "AI Systems")
    content = render_digest(services(world.store), "en", course, T0, T0 + timedelta(days=7), digest.items, SUMMARY)
    assert links(content) == [(None, ref)]  # the outbox makes the link when it sends


async def test_digests_recorded_before_version_9_still_render_their_stored_links(db_path: Path) -> None:
    old_item = {
        "question_id": 1,
        "lesson_title": "One",
        "likes": 2,
        "author": "U",
        "excerpt": "old?",
        "link": "https://discord.com/channels/5/6/7",
        "answered": False,
    }
    summary = '{"questions": 1, "comments": 0, "likes": 2, "most_active_lesson": null}'
    with sqlite3.connect(db_path, isolation_level=None) as conn:
        conn.execute("BEGIN")
        for migration in load_migrations()[:8]:
            for statement in migration.statements():
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 8")
        conn.execute("INSERT INTO courses VALUES ('ai', 'AI', 'UTC', 'en', '0 9 * * 1', 10, 0)")
        conn.execute(
            "INSERT INTO digests (course_slug, period_start, period_end, items, summary, created_at, through_post)"
            " VALUES ('ai', 0, 500, ?, ?, 500, 0)",
            (json.dumps([old_item]), summary),
        )
        conn.execute("COMMIT")
    conn.close()
    store = await SqliteStore.open(db_path)
    try:
        [digest] = await store.unsent_digests()
        [item] = digest.items
        assert item.ref is None and item.link == "https://discord.com/channels/5/6/7"
        course = Course("ai", "AI")
        content = render_digest(services(store), "en", course, None, digest.period_end, digest.items, digest.summary)
        assert links(content) == [("https://discord.com/channels/5/6/7", None)]
    finally:
        await store.close()
