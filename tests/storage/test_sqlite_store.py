"""Every Store method on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest

from handlers.ports import SchedulerStore, SourceStore, Store
from handlers.ports.backends import CatchUpStore, CourseCatalog
from handlers.vocabulary.domain import (
    ChatRef,
    Course,
    DigestItem,
    Instructor,
    LessonDraft,
    LessonPost,
    MessageRef,
    NewPost,
    PeriodSummary,
    PostKind,
    PostState,
    PostWindow,
)
from storage import SqliteStore
from tests.storage.helpers import ANN, BOB, CAT, CHAT, T0, World, make_world

HOLDER, TTL = "p1", timedelta(minutes=30)  # the claiming process and its claim's lifetime


@pytest.mark.parametrize("port", [Store, SchedulerStore, SourceStore, CatchUpStore, CourseCatalog])
def test_sqlite_store_satisfies_every_port(port: type) -> None:
    port_methods = {name for cls in port.__mro__ for name in vars(cls) if not name.startswith("_")}
    missing = {name for name in port_methods if not callable(getattr(SqliteStore, name, None))}
    assert not missing


def test_the_ports_are_checked_by_mypy_and_share_no_method_by_accident() -> None:
    _: type[Store] = SqliteStore  # mypy checks the signatures
    _scheduler: type[SchedulerStore] = SqliteStore
    _sources: type[SourceStore] = SqliteStore
    _catch_up: type[CatchUpStore] = SqliteStore
    _catalog: type[CourseCatalog] = SqliteStore
    own = [set(vars(port)) - set(vars(Protocol)) for port in (SchedulerStore, CatchUpStore)]
    core = {name for cls in Store.__mro__ for name in vars(cls) if not name.startswith("_")}
    assert not any(names & core for names in own)  # what only bot/ needs is not on the core's port


# courses ---------------------------------------------------------------------------------------------------
async def test_courses_upsert_get_list_and_schedule(store: SqliteStore) -> None:
    created = datetime(2026, 1, 5, 9, tzinfo=UTC)
    await store.upsert_course(Course("b", "B"), T0)
    await store.upsert_course(Course("a", "A", digest_size=3), created)
    assert [c.slug for c in await store.list_courses()] == ["a", "b"]
    await store.upsert_course(Course("a", "A renamed", digest_size=3), created.replace(year=2027))
    await store.set_course_schedule("a", "0 8 * * 5", "Europe/Berlin")
    course = await store.get_course("a")
    assert course == Course(
        "a", "A renamed", timezone="Europe/Berlin", digest_cron="0 8 * * 5", digest_size=3, created_at=created
    )  # the creation time is kept by later updates
    assert await store.get_course("nope") is None


# lessons ---------------------------------------------------------------------------------------------------
async def test_upsert_lesson_inserts_then_updates(store: SqliteStore) -> None:
    await store.upsert_course(Course("ai", "AI"), T0)
    release = datetime(2024, 5, 1, 10, tzinfo=UTC)
    first, new = await store.upsert_lesson(LessonDraft("ai", "intro", "Intro", number=1, release_at=release), T0)
    assert new and first.created_at == T0 and first.release_at == release
    second, new = await store.upsert_lesson(
        LessonDraft("ai", "intro", "Introduction", intro="hi", link="https://x", number=2), T0 + timedelta(days=1)
    )
    assert not new
    assert second.id == first.id and second.title == "Introduction" and second.number == 2
    assert second.intro == "hi" and second.link == "https://x" and second.release_at is None
    assert second.created_at == T0  # the first sighting is kept
    assert await store.get_lesson(first.id) == second


async def test_find_latest_and_list_lessons(store: SqliteStore) -> None:
    await store.upsert_course(Course("ai", "AI"), T0)
    await store.upsert_course(Course("other", "Other"), T0)
    two, _ = await store.upsert_lesson(LessonDraft("ai", "second", "Two", number=2), T0)
    one, _ = await store.upsert_lesson(LessonDraft("ai", "first", "One", number=1), T0)
    extra, _ = await store.upsert_lesson(LessonDraft("ai", "42", "Slug of digits"), T0 - timedelta(days=1))
    await store.upsert_lesson(LessonDraft("other", "first", "Elsewhere", number=1), T0 + timedelta(days=9))
    assert await store.find_lesson("ai", "1") == one
    assert await store.find_lesson("ai", "first") == one
    assert await store.find_lesson("ai", "2") == two
    assert await store.find_lesson("ai", "3") is None
    assert await store.find_lesson("ai", "99999999999999999999999") is None
    assert await store.find_lesson("ai", "nope") is None
    assert await store.latest_lesson("ai") == two  # same time: the higher number
    assert [lesson.id for lesson in await store.list_lessons("ai")] == [one.id, two.id, extra.id]
    assert await store.latest_lesson("none") is None


# groups ----------------------------------------------------------------------------------------------------
async def test_setup_group_creates_with_defaults_then_repoints(store: SqliteStore) -> None:
    await store.upsert_course(Course("ai", "AI"), T0)
    await store.upsert_course(Course("ml", "ML"), T0)
    group = await store.setup_group(CHAT, "Group", "ai", "zh")
    assert group.like_emojis == ("👍",) and group.active and group.course_slug == "ai"
    assert await store.get_group(CHAT) == group
    assert await store.get_group_by_id(group.id) == group
    await store.set_group_active(group.id, False)
    again = await store.setup_group(CHAT, "Renamed", "ml", "en")
    assert again.id == group.id and again.active and again.course_slug == "ml" and again.title == "Renamed"
    assert again.language == "en"


async def test_a_topic_is_its_own_group_and_lookups_are_exact(store: SqliteStore) -> None:
    await store.upsert_course(Course("ai", "AI"), T0)
    chat = await store.setup_group(CHAT, "Chat", "ai", "en")
    topic = await store.setup_group(ChatRef(CHAT.platform, CHAT.chat_id, "77"), "Topic", "ai", "en")
    assert topic.id != chat.id
    assert await store.get_group(ChatRef(CHAT.platform, CHAT.chat_id, "77")) == topic
    assert await store.get_group(ChatRef(CHAT.platform, CHAT.chat_id, "78")) is None
    assert await store.get_group(ChatRef("discord", CHAT.chat_id)) is None


async def test_group_settings_and_following(store: SqliteStore) -> None:
    await store.upsert_course(Course("ai", "AI"), T0)
    one = await store.setup_group(CHAT, "One", "ai", "en")
    two = await store.setup_group(ChatRef("discord", "9"), "Two", "ai", "en")
    three = await store.setup_group(ChatRef("discord", "10"), "Three", "ai", "en")
    await store.set_like_emojis(one.id, ["❤️", "👍", "❤️"])
    await store.set_group_language(one.id, "zh")
    await store.set_group_active(two.id, False)
    await store.unfollow_group(three.id)
    updated = await store.get_group_by_id(one.id)
    assert updated is not None and updated.like_emojis == ("❤️", "👍") and updated.language == "zh"
    unfollowed = await store.get_group_by_id(three.id)
    assert unfollowed is not None and unfollowed.course_slug is None
    assert [g.id for g in await store.groups_following("ai")] == [one.id]


# lesson posts ----------------------------------------------------------------------------------------------
async def test_lesson_posts_claim_mark_and_pending(world: World) -> None:
    store, lesson, group = world.store, world.lesson, world.group
    claim = await store.claim_lesson_post(lesson.id, group.id, HOLDER, T0, TTL)
    assert claim == LessonPost(lesson.id, group.id, PostState.PENDING, None, HOLDER, T0 + TTL)
    assert await store.claim_lesson_post(lesson.id, group.id, HOLDER, T0, TTL) == claim  # nothing changes
    assert await store.pending_lesson_posts() == [claim]

    ref = MessageRef(CHAT.platform, CHAT.chat_id, "500", thread_id="77")
    await store.mark_lesson_posted(lesson.id, group.id, ref, T0)
    sent = LessonPost(lesson.id, group.id, PostState.SENT, ref)
    assert await store.claim_lesson_post(lesson.id, group.id, HOLDER, T0, TTL) == sent
    assert await store.pending_lesson_posts() == []
    assert await store.lesson_post_at(MessageRef(CHAT.platform, CHAT.chat_id, "500")) == sent
    assert await store.lesson_post_at(MessageRef(CHAT.platform, CHAT.chat_id, "501")) is None
    assert await store.lesson_post_in_thread(ChatRef(CHAT.platform, CHAT.chat_id, "77")) == sent
    assert await store.lesson_post_in_thread(ChatRef(CHAT.platform, CHAT.chat_id)) is None
    await store.mark_lesson_post_failed(lesson.id, group.id)  # a sent post stays sent
    assert await store.claim_lesson_post(lesson.id, group.id, HOLDER, T0, TTL) == sent


async def test_failed_lesson_post_is_claimed_again(world: World) -> None:
    store, lesson, group = world.store, world.lesson, world.group
    await store.claim_lesson_post(lesson.id, group.id, HOLDER, T0, TTL)
    await store.mark_lesson_post_failed(lesson.id, group.id)
    assert await store.pending_lesson_posts() == []
    again = await store.claim_lesson_post(lesson.id, group.id, HOLDER, T0, TTL)
    assert again.state is PostState.PENDING
    assert await store.pending_lesson_posts() == [again]


async def test_recent_lesson_posts_are_the_sent_ones_since_a_time_oldest_first(world: World) -> None:
    store, lesson, group = world.store, world.lesson, world.group
    other, _ = await store.upsert_lesson(LessonDraft("ai", "two", "Two", number=2), T0)
    pending, _ = await store.upsert_lesson(LessonDraft("ai", "three", "Three", number=3), T0)
    elsewhere = await store.setup_group(ChatRef("discord", "9"), "#general", "ai", "en")
    await store.mark_lesson_posted(other.id, group.id, MessageRef("telegram", "-100", "600"), T0 + timedelta(hours=2))
    await store.mark_lesson_posted(lesson.id, group.id, MessageRef("telegram", "-100", "500"), T0)
    await store.mark_lesson_posted(lesson.id, elsewhere.id, MessageRef("discord", "9", "7", "7"), T0)
    await store.claim_lesson_post(pending.id, group.id, HOLDER, T0, TTL)
    since = T0 - timedelta(minutes=1)
    assert [p.ref for p in await store.recent_lesson_posts("telegram", since)] == [
        MessageRef("telegram", "-100", "500"),
        MessageRef("telegram", "-100", "600"),
    ]
    assert [p.lesson_id for p in await store.recent_lesson_posts("telegram", T0 + timedelta(hours=1))] == [other.id]
    assert [p.ref for p in await store.recent_lesson_posts("discord", since)] == [MessageRef("discord", "9", "7", "7")]


async def test_last_message_id_is_the_highest_number_kept_in_the_chat_or_thread(world: World) -> None:
    store = world.store
    assert await store.last_message_id(CHAT) is None
    question = await world.post(message_id="9")
    await world.post(message_id="interaction:123")  # /ask without a placeholder message: no id to read after
    await store.add_reply(question.id, BOB, world.ref("10"), "because", T0)  # "10" > "9" as numbers
    gone = await world.post(message_id="11")
    await store.delete_post(gone.ref, T0)  # deleted, but it was kept: reading starts after it all the same
    in_thread = MessageRef(CHAT.platform, CHAT.chat_id, "12000000000000000000", thread_id="77")
    await store.add_post(NewPost(world.lesson.id, world.group.id, ANN, in_thread, "why?", PostKind.QUESTION, T0))
    assert await store.last_message_id(CHAT) == "11"
    assert await store.last_message_id(ChatRef(CHAT.platform, CHAT.chat_id, "77")) == "12000000000000000000"
    assert await store.last_message_id(ChatRef(CHAT.platform, CHAT.chat_id, "78")) is None
    assert await store.last_message_id(ChatRef("discord", CHAT.chat_id)) is None


# members' posts --------------------------------------------------------------------------------------------
async def test_add_post_stores_and_redelivery_returns_the_stored_one(world: World) -> None:
    question = await world.post("What is attention?", message_id="m1")
    assert question.kind is PostKind.QUESTION and question.author == ANN and question.created_at == T0
    assert question.ref == world.ref("m1") and question.likes == question.replies == 0
    again = await world.post("a different text on redelivery", message_id="m1", at=T0 + timedelta(hours=1))
    assert again == question
    assert await world.store.question_by_ref(world.ref("m1")) == question
    assert await world.store.get_question(question.id) == question
    assert await world.store.get_question(question.id + 100) is None


async def test_add_post_for_an_unknown_lesson_fails_alone(world: World) -> None:
    with pytest.raises(LookupError):
        await world.store.add_post(NewPost(999, world.group.id, ANN, world.ref("x"), "?", PostKind.QUESTION, T0))
    assert await world.store.question_by_ref(world.ref("x")) is None


async def test_member_name_follows_the_latest_post(world: World) -> None:
    await world.post(author=ANN)
    renamed = ANN.__class__(ANN.platform, ANN.user_id, "Ann B.")
    question = await world.post(author=renamed)
    assert question.author.display_name == "Ann B."


async def test_replies_count_and_are_idempotent(world: World) -> None:
    store = world.store
    question = await world.post()
    assert await store.add_reply(question.id, BOB, world.ref("r1"), "because", T0)
    assert not await store.add_reply(question.id, BOB, world.ref("r1"), "because", T0)
    assert await store.add_reply(question.id, CAT, world.ref("r2"), "also", T0)
    stored = await store.get_question(question.id)
    assert stored is not None and stored.replies == 2


async def test_edit_post_for_question_and_reply(world: World) -> None:
    store = world.store
    question = await world.post(message_id="q")
    await store.add_reply(question.id, BOB, world.ref("r"), "old", T0)
    later = T0 + timedelta(minutes=5)
    assert await store.edit_post(world.ref("q"), "edited question", later)
    assert await store.edit_post(world.ref("r"), "edited reply", later)
    assert not await store.edit_post(world.ref("unknown"), "x", later)
    stored = await store.get_question(question.id)
    assert stored is not None and stored.text == "edited question" and stored.edited_at == later
    rows = await store.export_rows("ai")
    assert rows[0].replies[0].text == "edited reply"


async def test_delete_post_keeps_the_row_and_a_deleted_reply_leaves_the_count(world: World) -> None:
    store = world.store
    question = await world.post(message_id="q")
    await store.add_reply(question.id, BOB, world.ref("r"), "reply", T0)
    assert await store.delete_post(world.ref("r"), T0)
    assert not await store.delete_post(world.ref("r"), T0)  # already deleted
    stored = await store.get_question(question.id)
    assert stored is not None and stored.replies == 0
    assert await store.delete_post(world.ref("q"), T0)
    stored = await store.get_question(question.id)
    assert stored is not None and stored.deleted
    assert await store.top_questions("ai", 5) == []
    assert not await store.delete_post(world.ref("unknown"), T0)


async def test_mark_answered(world: World) -> None:
    question = await world.post()
    await world.store.mark_answered(question.id, "Use a mask.", T0)
    stored = await world.store.get_question(question.id)
    assert stored is not None and stored.answered and stored.answer_text == "Use a mask."


# instructors -----------------------------------------------------------------------------------------------
async def test_instructors(world: World) -> None:
    store = world.store
    await store.upsert_course(Course("ml", "ML"), T0)
    assert await store.add_instructor(Instructor("ai", "telegram", "9", "Prof"))
    assert not await store.add_instructor(Instructor("ai", "telegram", "9", "Prof again"))
    assert await store.add_instructor(Instructor("ml", "telegram", "9", "Prof"))
    assert await store.instructors("ai") == [Instructor("ai", "telegram", "9", "Prof")]
    assert await store.instructor_courses("telegram", "9") == ["ai", "ml"]
    assert await store.instructor_courses("discord", "9") == []


# digests ---------------------------------------------------------------------------------------------------
async def test_record_digest_once_per_period(world: World) -> None:
    store = world.store
    start, end = T0, T0 + timedelta(days=7)
    items = [DigestItem(1, "Intro", 3, "Ann", "why?", None, False)]
    summary = PeriodSummary(1, 0, 3, "Intro")
    assert await store.last_digest_end("ai") is None
    assert await store.digested_through("ai") == 0
    digest, new = await store.record_digest("ai", start, end, 41, items, summary, end)
    assert new and digest.items == tuple(items) and digest.summary == summary and digest.sent_at is None
    assert digest.period_start == start and digest.period_end == end and digest.through_post == 41
    again, new = await store.record_digest("ai", start, end, 99, [], PeriodSummary(0, 0, 0, None), end)
    assert not new and again == digest
    assert await store.last_digest_end("ai") == end
    assert await store.digested_through("ai") == 41
    assert await store.unsent_digests() == [digest]
    await store.mark_digest_sent(digest.id, end + timedelta(minutes=1))
    await store.mark_digest_sent(digest.id, end + timedelta(minutes=2))  # the first send time is kept
    assert await store.unsent_digests() == []
    sent, _ = await store.record_digest("ai", start, end, 41, [], summary, end)
    assert sent.sent_at == end + timedelta(minutes=1)


# bad input -------------------------------------------------------------------------------------------------
async def test_naive_datetimes_are_refused_and_change_nothing(world: World) -> None:
    store = world.store
    question = await world.post(message_id="q")
    naive = datetime(2024, 3, 4, 9, 0)  # noqa: DTZ001 - the point of the test
    before_ops = store.writer_stats.operations
    with pytest.raises(ValueError, match="naive"):
        await store.add_reaction(world.ref("q"), BOB, "👍", naive)
    with pytest.raises(ValueError, match="naive"):
        await store.add_post(
            NewPost(world.lesson.id, world.group.id, BOB, world.ref("n"), "?", PostKind.QUESTION, naive)
        )
    with pytest.raises(ValueError, match="naive"):
        await store.upsert_lesson(LessonDraft("ai", "new", "New"), naive)
    with pytest.raises(ValueError, match="naive"):
        await store.record_digest("ai", naive, naive, 0, [], PeriodSummary(0, 0, 0, None), T0)
    with pytest.raises(ValueError, match="naive"):
        await store.period_questions("ai", PostWindow(0, 9, since=naive), 5)
    with pytest.raises(ValueError):
        await store.set_base_likes(question.id, -1)
    assert store.writer_stats.operations == before_ops  # nothing was even queued
    assert await store.get_question(question.id) == question
    assert await store.question_by_ref(world.ref("n")) is None
    assert await store.find_lesson("ai", "new") is None


async def test_data_survives_close_and_reopen(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    world = await make_world(store)
    question = await world.post()
    await store.add_reaction(question.ref or world.ref("x"), BOB, "👍", T0)
    await store.close()
    await store.close()  # closing twice is harmless
    reopened = await SqliteStore.open(db_path)
    try:
        stored = await reopened.get_question(question.id)
        assert stored is not None and stored.likes == 1
    finally:
        await reopened.close()


async def test_due_lessons_and_mark_published(store: SqliteStore) -> None:
    await store.upsert_course(Course("ai", "AI"), T0)
    now_lesson, _ = await store.upsert_lesson(LessonDraft("ai", "now", "Now", number=2), T0)
    past, _ = await store.upsert_lesson(
        LessonDraft("ai", "past", "Past", number=1, release_at=T0 - timedelta(hours=1)), T0
    )
    later, _ = await store.upsert_lesson(LessonDraft("ai", "later", "Later", release_at=T0 + timedelta(days=1)), T0)
    assert [lesson.id for lesson in await store.due_lessons(T0)] == [past.id, now_lesson.id]
    assert await store.latest_lesson("ai") == now_lesson  # the scheduled one is not out yet
    await store.mark_lesson_published(past.id, T0)
    await store.mark_lesson_published(now_lesson.id, T0)
    assert await store.due_lessons(T0) == []
    assert [lesson.id for lesson in await store.due_lessons(T0 + timedelta(days=1))] == [later.id]
    await store.mark_lesson_published(later.id, T0 + timedelta(days=1))
    assert await store.latest_lesson("ai") == later


async def test_store_is_an_async_context_manager(db_path: Path) -> None:
    async with await SqliteStore.open(db_path) as store:
        await store.upsert_course(Course("ai", "AI"), T0)
    async with await SqliteStore.open(db_path) as store:
        assert await store.get_course("ai") == Course("ai", "AI", created_at=T0)
