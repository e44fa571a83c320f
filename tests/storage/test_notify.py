"""The store's side of issue 16: reminders claimed once (across processes), candidates by age and likes, follows,
answer posts, and a reopened reused answer that stays apart through re-clustering; on both stores."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from handlers.vocabulary.domain import MessageRef
from storage import AnyStore
from storage.locations import Database, open_store
from tests.storage.helpers import BOB, CAT, DAN, T0, World, make_world

WINDOWS = "How do I install CUDA on Windows?"
WINDOWS_AGAIN = "how to install cuda on windows??"


@pytest.fixture
async def processes(database: Database) -> AsyncIterator[tuple[AnyStore, AnyStore]]:
    """Two stores open on one database, as two ``studybot run`` processes would have."""
    first, second = await open_store(database), await open_store(database)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def run_sql(database: Database, sql: str) -> None:
    """One statement on the database behind the store, as an operator's tool (or a newer studybot) would."""
    if database.path is not None:
        with sqlite3.connect(database.path) as lite:
            lite.execute(sql)
        lite.close()
        return
    assert database.url is not None
    pg = await asyncpg.connect(database.url)
    try:
        await pg.execute(sql)
    finally:
        await pg.close()


async def test_a_reminder_is_claimed_by_one_of_two_processes(processes: tuple[AnyStore, AnyStore]) -> None:
    one, two = processes
    world = await make_world(one)
    question = await world.post("How do I profile a training loop?")
    claims = await asyncio.gather(*(store.claim_reminder(question.id, "ai", T0) for store in (one, two, one, two)))
    assert sorted(claims) == [False, False, False, True]
    assert await two.reminded_among([question.id, question.id + 100]) == {question.id}


async def test_a_reminders_delivery_is_claimed_once_per_platform_by_one_of_two_processes(
    processes: tuple[AnyStore, AnyStore],
) -> None:
    one, two = processes
    world = await make_world(one)
    question = await world.post("How do I profile a training loop?")
    assert await one.claim_reminder(question.id, "ai", T0)
    for platform in ("telegram", "discord"):
        claims = [two.claim_reminder_delivery(question.id, platform, T0) for _ in range(2)]
        claims += [one.claim_reminder_delivery(question.id, platform, T0) for _ in range(2)]
        assert sorted(await asyncio.gather(*claims)) == [False, False, False, True], platform


async def test_reminders_to_deliver_are_the_recent_reminded_open_ones_not_delivered_on_the_platform(
    world: World,
) -> None:
    store = world.store
    old = await world.post("How do I profile a training loop?", at=T0)
    recent = await world.post("Where are the slides?", author=BOB, at=T0)
    answered = await world.post("What is a GPU kernel?", author=CAT, at=T0)
    never = await world.post("Is there a midterm?", author=DAN, at=T0)  # not reminded: not listed
    assert await store.claim_reminder(old.id, "ai", T0)
    for question in (recent, answered):
        assert await store.claim_reminder(question.id, "ai", T0 + timedelta(days=3))
    await store.mark_answered(answered.id, "A function run on the GPU.", T0 + timedelta(days=3))

    since = T0 + timedelta(days=2)  # the reminder of `old` is older than the window
    assert [q.id for q in await store.reminders_to_deliver("ai", "telegram", since, 10)] == [recent.id]
    assert await store.claim_reminder_delivery(recent.id, "telegram", since)
    assert await store.reminders_to_deliver("ai", "telegram", since, 10) == []
    assert [q.id for q in await store.reminders_to_deliver("ai", "discord", since, 10)] == [recent.id]
    assert [q.id for q in await store.reminders_to_deliver("ai", "discord", T0, 10)] == [old.id, recent.id]
    assert never.id not in {q.id for q in await store.reminders_to_deliver("ai", "discord", T0, 10)}


async def test_reminder_candidates_are_old_liked_open_first_copies_never_reminded(world: World) -> None:
    store = world.store
    liked = await world.post("How do I profile a training loop?", at=T0)
    await world.post("Where are the slides?", author=BOB, at=T0)  # no like
    young = await world.post("Is there a midterm?", author=CAT, at=T0 + timedelta(days=2))
    first = await world.post(WINDOWS, author=DAN, at=T0)
    again = await world.post(WINDOWS_AGAIN, author=BOB, at=T0)
    answered = await world.post("What is a GPU kernel?", author=CAT, at=T0)
    assert again.duplicate_of == first.id
    for question in (liked, young, answered):
        assert question.ref is not None
        await store.add_reaction(question.ref, DAN, "👍", T0)
    assert again.ref is not None
    await store.add_reaction(again.ref, CAT, "👍", T0)  # the copy's like counts for the cluster's first
    await store.mark_answered(answered.id, "A function run on the GPU.", T0)

    cutoff = T0 + timedelta(days=1)
    found = await store.reminder_candidates("ai", cutoff, 10)
    assert [q.id for q in found] == [liked.id, first.id]
    assert [q.id for q in await store.reminder_candidates("ai", cutoff, 1)] == [liked.id]
    assert await store.claim_reminder(liked.id, "ai", cutoff)
    assert [q.id for q in await store.reminder_candidates("ai", cutoff, 10)] == [first.id]


async def test_follows_are_per_member_and_only_likers_who_follow_are_listed(world: World) -> None:
    store = world.store
    question = await world.post(WINDOWS)
    assert question.ref is not None
    for member in (BOB, CAT):
        await store.add_reaction(question.ref, member, "👍", T0)
    await store.set_follow(BOB.platform, BOB.user_id, True, T0)
    await store.set_follow(DAN.platform, DAN.user_id, True, T0)  # follows, but did not like it
    assert [m.user_id for m in await store.following_likers([question.id])] == [BOB.user_id]
    await store.set_follow(BOB.platform, BOB.user_id, False, T0)
    assert await store.following_likers([question.id]) == []
    assert not await store.follows(BOB.platform, BOB.user_id) and await store.follows(DAN.platform, DAN.user_id)


async def test_a_reopened_reused_answer_stays_apart_through_reclustering(database: Database) -> None:
    store = await open_store(database)
    world = await make_world(store)
    first = await world.post(WINDOWS)
    await store.mark_answered(first.id, "Install the driver.", T0)
    again = await world.post(WINDOWS_AGAIN, author=BOB)
    assert again.duplicate_of == first.id
    assert await store.reused_answer_of(again.id) is None
    await store.reuse_answer(again.id, first.id, "Install the driver.", T0)
    assert (await store.get_question(again.id)).answered  # type: ignore[union-attr]
    assert await store.reused_answer_of(again.id) == first.id

    assert await store.reopen_question(again.id, T0)
    assert not await store.reopen_question(again.id, T0)  # once
    reopened = await store.get_question(again.id)
    assert reopened is not None and not reopened.answered and reopened.duplicate_of is None
    assert reopened.answer_text is None
    await store.close()

    await run_sql(database, "UPDATE cluster_state SET fingerprint_version = NULL")  # re-clustered at the next start
    store = await open_store(database)
    try:
        kept = await store.get_question(again.id)
        assert kept is not None and kept.duplicate_of is None and not kept.answered
        assert (await store.get_question(first.id)).answered  # type: ignore[union-attr]
    finally:
        await store.close()


async def test_of_two_processes_reopening_one_reused_answer_one_reopens(processes: tuple[AnyStore, AnyStore]) -> None:
    one, two = processes
    world = await make_world(one)
    first = await world.post(WINDOWS)
    await one.mark_answered(first.id, "Install the driver.", T0)
    again = await world.post(WINDOWS_AGAIN, author=BOB)
    third = await world.post("How to install CUDA on windows?", author=CAT)
    assert again.duplicate_of == first.id and third.duplicate_of == first.id
    await one.reuse_answer(again.id, first.id, "Install the driver.", T0)
    done = await asyncio.gather(*(store.reopen_question(again.id, T0) for store in (one, two, one, two)))
    assert sorted(done) == [False, False, False, True]
    reopened = await two.get_question(again.id)
    assert reopened is not None and reopened.duplicate_of is None and not reopened.answered
    kept = await two.get_question(third.id)  # the rest of the cluster stays together
    assert kept is not None and kept.duplicate_of == first.id


async def test_an_answer_post_is_found_in_the_chat_first_then_the_latest_on_the_platform(world: World) -> None:
    store = world.store
    question = await world.post(WINDOWS)
    here = MessageRef("telegram", "-100", "a1")
    elsewhere = MessageRef("telegram", "-200", "a2", "7")
    discord = MessageRef("discord", "-100", "a3", guild_id="9")
    await store.record_answer_post(question.id, here, T0)
    await store.record_answer_post(question.id, here, T0 + timedelta(hours=2))  # once per message
    await store.record_answer_post(question.id, elsewhere, T0 + timedelta(hours=1))
    await store.record_answer_post(question.id, discord, T0 + timedelta(hours=3))
    assert await store.answer_post([question.id, question.id + 100], "telegram", "-100") == here
    assert await store.answer_post([question.id], "telegram", "-300") == elsewhere  # the latest elsewhere
    assert await store.answer_post([question.id], "discord", "x") == discord
    assert await store.answer_post([question.id + 100], "telegram", "-100") is None
    assert await store.answer_post([], "telegram", "-100") is None


async def test_remind_days_are_set_changed_and_cleared_per_course(world: World) -> None:
    store = world.store
    assert await store.remind_days("ai") is None and await store.reminder_courses() == []
    await store.set_remind_days("ai", 3)
    await store.set_remind_days("ai", 5)
    assert await store.remind_days("ai") == 5 and await store.reminder_courses() == [("ai", 5)]
    await store.set_remind_days("ai", None)
    assert await store.remind_days("ai") is None and await store.reminder_courses() == []
    assert await store.reminded_among([]) == set() and await store.following_likers([]) == []
