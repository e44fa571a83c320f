"""Lesson-post claims with an owner and an expiry (migration 0014), seen by two processes: two SqliteStore objects
open on one file, as two ``studybot run`` on one machine would have."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.vocabulary.domain import MessageRef, PostState
from storage import SqliteStore
from tests.storage.helpers import T0, World

TTL = timedelta(minutes=30)


@pytest.fixture
async def second(db_path: Path, world: World) -> AsyncIterator[SqliteStore]:
    """The other process's store on the same file (opened after ``world`` made the schema and the course)."""
    opened = await SqliteStore.open(db_path)
    yield opened
    await opened.close()


async def test_another_holders_live_claim_is_returned_unchanged(world: World, second: SqliteStore) -> None:
    lesson, group = world.lesson.id, world.group.id
    mine = await world.store.claim_lesson_post(lesson, group, "a", T0, TTL)
    assert (mine.state, mine.claimed_by, mine.claim_expires_at) == (PostState.PENDING, "a", T0 + TTL)
    theirs = await second.claim_lesson_post(lesson, group, "b", T0 + TTL - timedelta(microseconds=1), TTL)
    assert theirs == mine  # b sees a's claim: not its own, so b must not send
    renewed = await world.store.claim_lesson_post(lesson, group, "a", T0 + timedelta(minutes=1), TTL)
    assert renewed.claimed_by == "a" and renewed.claim_expires_at == T0 + timedelta(minutes=1) + TTL


async def test_an_expired_claim_is_taken_over_and_the_old_owner_then_loses_it(
    world: World, second: SqliteStore
) -> None:
    lesson, group = world.lesson.id, world.group.id
    await world.store.claim_lesson_post(lesson, group, "a", T0, TTL)
    taken = await second.claim_lesson_post(lesson, group, "b", T0 + TTL, TTL)
    assert taken.claimed_by == "b" and taken.claim_expires_at == T0 + 2 * TTL
    assert (await world.store.claim_lesson_post(lesson, group, "a", T0 + TTL, TTL)).claimed_by == "b"
    assert await world.store.pending_lesson_posts() == [taken]


async def test_simultaneous_claims_from_two_processes_have_one_winner(world: World, second: SqliteStore) -> None:
    lesson, group = world.lesson.id, world.group.id
    posts = await asyncio.gather(
        *(
            store.claim_lesson_post(lesson, group, holder, T0, TTL)
            for _ in range(10)
            for store, holder in ((world.store, "a"), (second, "b"))
        )
    )
    assert len({post.claimed_by for post in posts}) == 1  # everyone sees the same owner


async def test_a_sent_post_keeps_no_claim_and_cannot_be_claimed(world: World, second: SqliteStore) -> None:
    lesson, group = world.lesson.id, world.group.id
    await world.store.claim_lesson_post(lesson, group, "a", T0, TTL)
    await world.store.mark_lesson_posted(lesson, group, MessageRef("telegram", "-100", "5"), T0)
    sent = await second.claim_lesson_post(lesson, group, "b", T0 + 2 * TTL, TTL)
    assert (sent.state, sent.claimed_by, sent.claim_expires_at) == (PostState.SENT, None, None)


async def test_a_failed_post_is_claimed_by_whoever_asks_next(world: World, second: SqliteStore) -> None:
    lesson, group = world.lesson.id, world.group.id
    await world.store.claim_lesson_post(lesson, group, "a", T0, TTL)
    await world.store.mark_lesson_post_failed(lesson, group)
    again = await second.claim_lesson_post(lesson, group, "b", T0, TTL)
    assert (again.state, again.claimed_by) == (PostState.PENDING, "b")
