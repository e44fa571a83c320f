"""Lesson-post claims with an owner and an expiry (migration 0014), seen by two processes: two stores open on one
database (an SQLite file, a PostgreSQL database), as two ``studybot run`` would have."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from handlers.vocabulary.domain import ChatRef, MessageRef, PostState
from storage import AnyStore, Database, open_store
from tests.storage.helpers import T0, World

TTL = timedelta(minutes=30)


@pytest.fixture
async def second(database: Database, world: World) -> AsyncIterator[AnyStore]:
    """The other process's store on the same database (opened after ``world`` made the schema and the course)."""
    opened = await open_store(database)
    yield opened
    await opened.close()


async def test_another_holders_live_claim_is_returned_unchanged(world: World, second: AnyStore) -> None:
    lesson, group = world.lesson.id, world.group.id
    mine = await world.store.claim_lesson_post(lesson, group, "a", T0, TTL)
    assert (mine.state, mine.claimed_by, mine.claim_expires_at) == (PostState.PENDING, "a", T0 + TTL)
    theirs = await second.claim_lesson_post(lesson, group, "b", T0 + TTL - timedelta(microseconds=1), TTL)
    assert theirs == mine  # b sees a's claim: not its own, so b must not send
    renewed = await world.store.claim_lesson_post(lesson, group, "a", T0 + timedelta(minutes=1), TTL)
    assert renewed.claimed_by == "a" and renewed.claim_expires_at == T0 + timedelta(minutes=1) + TTL


async def test_an_expired_claim_is_taken_over_and_the_old_owner_then_loses_it(world: World, second: AnyStore) -> None:
    lesson, group = world.lesson.id, world.group.id
    await world.store.claim_lesson_post(lesson, group, "a", T0, TTL)
    taken = await second.claim_lesson_post(lesson, group, "b", T0 + TTL, TTL)
    assert taken.claimed_by == "b" and taken.claim_expires_at == T0 + 2 * TTL
    assert (await world.store.claim_lesson_post(lesson, group, "a", T0 + TTL, TTL)).claimed_by == "b"
    assert await world.store.pending_lesson_posts() == [taken]


async def test_simultaneous_claims_from_two_processes_have_one_winner(world: World, second: AnyStore) -> None:
    lesson, group = world.lesson.id, world.group.id
    posts = await asyncio.gather(
        *(
            store.claim_lesson_post(lesson, group, holder, T0, TTL)
            for _ in range(10)
            for store, holder in ((world.store, "a"), (second, "b"))
        )
    )
    assert len({post.claimed_by for post in posts}) == 1  # everyone sees the same owner


async def test_a_sent_post_keeps_no_claim_and_cannot_be_claimed(world: World, second: AnyStore) -> None:
    lesson, group = world.lesson.id, world.group.id
    await world.store.claim_lesson_post(lesson, group, "a", T0, TTL)
    await world.store.mark_lesson_posted(lesson, group, MessageRef("telegram", "-100", "5"), T0)
    sent = await second.claim_lesson_post(lesson, group, "b", T0 + 2 * TTL, TTL)
    assert (sent.state, sent.claimed_by, sent.claim_expires_at) == (PostState.SENT, None, None)


async def test_a_failed_post_is_claimed_by_whoever_asks_next(world: World, second: AnyStore) -> None:
    lesson, group = world.lesson.id, world.group.id
    await world.store.claim_lesson_post(lesson, group, "a", T0, TTL)
    await world.store.mark_lesson_post_failed(lesson, group)
    again = await second.claim_lesson_post(lesson, group, "b", T0, TTL)
    assert (again.state, again.claimed_by) == (PostState.PENDING, "b")


async def test_a_posts_thread_is_noted_while_pending_by_the_claims_holder_only(world: World, second: AnyStore) -> None:
    """A lesson's thread or topic exists before its intro is sent in it (``PostLesson.opened``): noted on the
    pending post, messages there are about the lesson. Only the attempt that holds the claim notes it; a post
    already sent keeps the thread it was sent in."""
    lesson, group = world.lesson.id, world.group.id
    topic, other = ChatRef("telegram", "-100", "77"), ChatRef("telegram", "-100", "88")
    await world.store.claim_lesson_post(lesson, group, "a", T0, TTL)
    await second.note_lesson_thread(lesson, group, "b", other)  # not b's claim: nothing changes
    assert await world.store.lesson_post_in_thread(other) is None
    await second.note_lesson_thread(lesson, group, "a", topic)  # the holder, from any connection
    noted = await world.store.lesson_post_in_thread(topic)
    assert noted is not None and (noted.lesson_id, noted.state, noted.ref) == (lesson, PostState.PENDING, None)
    assert noted.claimed_by == "a"  # the claim is untouched

    await world.store.mark_lesson_posted(lesson, group, MessageRef("telegram", "-100", "5", "77"), T0)
    await world.store.note_lesson_thread(lesson, group, "a", other)  # too late: the post is sent
    sent = await second.lesson_post_in_thread(topic)
    assert sent is not None and sent.state is PostState.SENT and sent.ref == MessageRef("telegram", "-100", "5", "77")
    assert await second.lesson_post_in_thread(other) is None
