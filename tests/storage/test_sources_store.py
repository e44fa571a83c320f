"""Lesson sources, leases and the rest of the courses/groups/posts roles, on both stores (issue 13).

The imported posts have no platform message to look them up by, so :func:`imported` reads their rows straight
from the database under test (sqlite3 for the file, asyncpg for the server): the same columns on both.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from handlers.ports import SchedulerStore, SourceStore, Store
from handlers.ports.backends import CatchUpStore, CourseCatalog
from handlers.vocabulary.domain import ChatRef, Course, LessonDraft, MessageRef, NewPost, PostKind
from handlers.vocabulary.imported import FeedEntry, ImportedPost
from storage import SqliteStore
from storage.postgres import PostgresStore
from storage.postgres.posts import lock_course_posts, newest_settled_post_id
from tests.storage.helpers import ANN, BOB, CHAT, T0, AnyStore, World, make_world

# The methods of the roles storage/postgres/{lessons,groups,posts,leases,imports}.py implement.
CORE_PORTS = (
    "CourseStore",
    "LessonStore",
    "GroupStore",
    "LessonPostStore",
    "PostStore",
    "InstructorStore",
)


def _port_methods(port: type) -> set[str]:
    return {name for cls in port.__mro__ for name in vars(cls) if not name.startswith("_") and cls is not object}


@pytest.mark.parametrize("port", [SchedulerStore, SourceStore, CatchUpStore, CourseCatalog])
def test_postgres_store_has_every_method_of_the_source_scheduler_and_catch_up_ports(port: type) -> None:
    others = {"reconcile_reactions"}  # the like path's (pg-likes)
    missing = {n for n in _port_methods(port) - others if not callable(getattr(PostgresStore, n, None))}
    assert not missing


def test_the_source_and_scheduler_ports_are_checked_by_mypy_on_postgres() -> None:
    _scheduler: type[SchedulerStore] = PostgresStore  # mypy checks the signatures
    _sources: type[SourceStore] = PostgresStore
    _catalog: type[CourseCatalog] = PostgresStore


def test_postgres_store_has_every_method_of_the_core_roles_it_implements() -> None:
    roles = [cls for cls in Store.__mro__ if cls.__name__ in CORE_PORTS]
    assert len(roles) == len(CORE_PORTS)
    missing = {n for port in roles for n in _port_methods(port) if not callable(getattr(PostgresStore, n, None))}
    assert not missing


async def imported(store: AnyStore) -> list[tuple[Any, ...]]:
    """(author, kind, text, base_likes, base_replies, lesson_id, import_key) of every imported post, by id."""
    sql = (
        "SELECT m.user_id, q.kind, q.text, q.base_likes, q.base_replies, q.lesson_id, q.import_key"
        " FROM questions q JOIN members m ON m.id = q.author_id WHERE q.import_key IS NOT NULL ORDER BY q.id"
    )
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as raw:
            rows = [tuple(r) for r in raw.execute(sql)]
        raw.close()
        return rows
    conn = await asyncpg.connect(store.url)
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


def post(key: str, author: str = "Ann", text: str = "why?", *, kind: PostKind = PostKind.QUESTION, likes: int = 0,
         replies: int = 0, day: int = 0) -> ImportedPost:  # fmt: skip
    return ImportedPost(key, author, text, kind, likes, replies, T0 - timedelta(days=30 - day))


DRAFT = LessonDraft("ai", "intro", "Introduction", number=1)


# imports -----------------------------------------------------------------------------------------------------
async def test_import_creates_course_lesson_and_posts_then_reimport_changes_nothing(store: AnyStore) -> None:
    posts = [post("k1", "Ann", likes=3, replies=1), post("k2", "Bob", "nice", kind=PostKind.COMMENT), post("k3")]
    done = await store.import_lesson(DRAFT, posts, T0, course=Course("ai", "AI"))
    assert done.new and done.lesson_changed and (done.posts_added, done.posts_updated) == (3, 0)
    assert await store.get_course("ai") == Course("ai", "AI", created_at=T0)
    assert done.lesson == await store.find_lesson("ai", "intro")
    lesson_id = done.lesson.id
    assert await imported(store) == [
        ("Ann", "question", "why?", 3, 1, lesson_id, "k1"),
        ("Bob", "comment", "nice", 0, 0, lesson_id, "k2"),
        ("Ann", "question", "why?", 0, 0, lesson_id, "k3"),
    ]
    again = await store.import_lesson(DRAFT, posts, T0 + timedelta(days=1), course=Course("ai", "Renamed"))
    assert not again.changed and again.lesson == done.lesson
    assert (await store.get_course("ai") or Course("", "")).title == "AI"  # an existing course is left alone


async def test_reimport_refreshes_counts_and_kind_and_adds_new_posts(store: AnyStore) -> None:
    await store.upsert_course(Course("ai", "AI"), T0)
    first = await store.import_lesson(DRAFT, [post("k1", likes=1), post("k2", "Bob")], T0)
    lesson_id = first.lesson.id
    changed = [post("k1", likes=2, replies=4), post("k2", "Bob", kind=PostKind.COMMENT), post("k3", "Cat")]
    done = await store.import_lesson(DRAFT, changed, T0)
    assert (done.new, done.posts_added, done.posts_updated, done.lesson_changed) == (False, 1, 2, False)
    assert await imported(store) == [
        ("Ann", "question", "why?", 2, 4, lesson_id, "k1"),
        ("Bob", "comment", "why?", 0, 0, lesson_id, "k2"),
        ("Cat", "question", "why?", 0, 0, lesson_id, "k3"),
    ]


async def test_an_edited_comment_takes_over_the_unlisted_post_of_its_author_and_day(store: AnyStore) -> None:
    await store.upsert_course(Course("ai", "AI"), T0)
    await store.import_lesson(DRAFT, [post("old", "Ann", "first text", day=1), post("k2", "Ann", "other", day=2)], T0)
    edited = [post("new", "Ann", "edited text", likes=5, day=1), post("k2", "Ann", "other", day=2)]
    done = await store.import_lesson(DRAFT, edited, T0 + timedelta(hours=1))
    assert (done.posts_added, done.posts_updated) == (0, 1)
    rows = await imported(store)
    assert [(r[2], r[3], r[6]) for r in rows] == [("edited text", 5, "new"), ("other", 0, "k2")]


async def test_a_streamed_import_with_listed_keys_writes_in_chunks(store: AnyStore) -> None:
    await store.upsert_course(Course("ai", "AI"), T0)
    many = [post(f"k{i:05}", f"author{i % 7}", f"text {i}", likes=i % 3) for i in range(4500)]  # > 2 chunks
    done = await store.import_lesson(DRAFT, iter(many), T0, listed=[p.key for p in many])
    assert done.posts_added == 4500
    rows = await imported(store)
    assert [r[6] for r in rows] == [p.key for p in many]  # ids follow the page's order
    again = await store.import_lesson(DRAFT, iter(many), T0, listed=[p.key for p in many])
    assert not again.changed


async def test_a_failing_import_leaves_nothing_behind(store: AnyStore) -> None:
    def posts() -> Any:
        yield post("k1")
        yield post("k2", likes=-1)  # refused mid-stream, after k1 was read

    with pytest.raises(ValueError, match="negative"):
        await store.import_lesson(DRAFT, posts(), T0, course=Course("ai", "AI"), listed=["k1", "k2"])
    assert await store.get_course("ai") is None
    assert await store.list_lessons("ai") == []


async def test_held_lessons_wait_for_release_and_a_posted_one_is_never_released(world: World) -> None:
    store = world.store
    held = await store.import_lesson(LessonDraft("ai", "held", "Held", number=2), [], T0, hold=True)
    later = await store.import_lesson(
        LessonDraft("ai", "later", "Later", number=3, release_at=T0 + timedelta(days=1)), [], T0, hold=True
    )
    due = [lesson.id for lesson in await store.due_lessons(T0 + timedelta(days=2))]
    assert held.lesson.id not in due and later.lesson.id in due  # only a lesson due now is held
    posted = await store.import_lesson(LessonDraft("ai", "posted", "Posted", number=4), [], T0, hold=True)
    await store.mark_lesson_posted(posted.lesson.id, world.group.id, world.ref("500"), T0)
    await store.release_lessons([held.lesson.id, posted.lesson.id])
    due = [lesson.id for lesson in await store.due_lessons(T0)]
    assert held.lesson.id in due and posted.lesson.id not in due


async def test_import_updates_a_changed_lesson_and_keeps_its_creation_time(store: AnyStore) -> None:
    first = await store.import_lesson(DRAFT, [], T0, course=Course("ai", "AI"))
    changed = LessonDraft("ai", "intro", "Intro, renamed", intro="hi", number=1)
    done = await store.import_lesson(changed, [], T0 + timedelta(days=3))
    assert not done.new and done.lesson_changed and done.changed
    assert done.lesson.id == first.lesson.id and done.lesson.title == "Intro, renamed"
    assert done.lesson.created_at == T0


# feeds -------------------------------------------------------------------------------------------------------
def entry(n: int, release_days: int | None = None) -> FeedEntry:
    release = None if release_days is None else T0 + timedelta(days=release_days)
    return FeedEntry(f"urn:{n}", LessonDraft("ai", f"l{n}", f"Lesson {n}", release_at=release))


async def test_feeds_prime_then_add_new_entries_once_and_count_failures(store: AnyStore) -> None:
    await store.upsert_course(Course("ai", "AI"), T0)
    url = "https://course.example/feed"
    assert await store.feed_state("ai", url) is None
    state = await store.add_feed("ai", url, T0)
    assert state.added_at == state.next_attempt_at == T0 and state.primed_at is None and state.failures == 0
    assert await store.add_feed("ai", url, T0 + timedelta(days=1)) == state  # known: unchanged

    first = await store.feed_polled("ai", url, [entry(1), entry(2)], '"e1"', "Mon", T0, T0 + timedelta(hours=1))
    assert [lesson.slug for lesson in first] == ["l1", "l2"]
    assert await store.due_lessons(T0) == []  # the back catalogue is never broadcast
    later = T0 + timedelta(hours=1)
    await store.feed_failed("ai", url, "x" * 600, later, later + timedelta(minutes=5))
    await store.feed_failed("ai", url, "boom", later, later + timedelta(minutes=10))
    failed = await store.feed_state("ai", url)
    assert failed is not None and failed.failures == 2 and failed.last_error == "boom"
    assert failed.next_attempt_at == later + timedelta(minutes=10) and failed.etag == '"e1"'

    second = await store.feed_polled("ai", url, [entry(2), entry(3)], None, None, later, later + timedelta(hours=1))
    assert [lesson.slug for lesson in second] == ["l3"]
    assert [lesson.slug for lesson in await store.due_lessons(later)] == ["l3"]
    polled = await store.feed_state("ai", url)
    assert polled is not None and polled.failures == 0 and polled.last_error is None and polled.etag is None
    assert polled.primed_at == T0 and polled.polled_at == later


async def test_polling_an_unregistered_feed_fails(store: AnyStore) -> None:
    await store.upsert_course(Course("ai", "AI"), T0)
    with pytest.raises(LookupError):
        await store.feed_polled("ai", "https://nope", [entry(1)], None, None, T0, T0)
    assert await store.list_lessons("ai") == []


# leases ------------------------------------------------------------------------------------------------------
async def test_a_lease_is_held_renewed_taken_over_when_expired_and_released(store: AnyStore) -> None:
    ttl = timedelta(seconds=30)
    assert await store.acquire_lease("scheduler", "p1", T0, ttl)
    assert not await store.acquire_lease("scheduler", "p2", T0 + timedelta(seconds=10), ttl)
    assert await store.acquire_lease("scheduler", "p1", T0 + timedelta(seconds=20), ttl)  # renewed to 0:50
    assert not await store.acquire_lease("scheduler", "p2", T0 + timedelta(seconds=45), ttl)
    assert await store.acquire_lease("scheduler", "p2", T0 + timedelta(seconds=50), ttl)  # p1's has lapsed
    assert not await store.acquire_lease("scheduler", "p1", T0 + timedelta(seconds=51), ttl)
    await store.release_lease("scheduler", "p1")  # not the holder: nothing happens
    assert not await store.acquire_lease("scheduler", "p1", T0 + timedelta(seconds=52), ttl)
    await store.release_lease("scheduler", "p2")
    assert await store.acquire_lease("scheduler", "p1", T0 + timedelta(seconds=53), ttl)  # handed over at once
    assert await store.acquire_lease("other", "p2", T0 + timedelta(seconds=53), ttl)  # leases are by name


async def test_lease_holders_lists_a_prefix_s_leases_expired_ones_too(store: AnyStore) -> None:
    ttl = timedelta(seconds=30)
    assert await store.acquire_lease("scheduler:telegram", "p1", T0, ttl)
    assert await store.acquire_lease("scheduler:discord", "p2", T0 + timedelta(seconds=5), ttl)
    assert await store.acquire_lease("schedulers", "p3", T0, ttl)  # another name that merely starts alike
    held = await store.lease_holders("scheduler:")
    assert held == {"scheduler:telegram": ("p1", T0 + ttl), "scheduler:discord": ("p2", T0 + timedelta(seconds=35))}
    await store.release_lease("scheduler:discord", "p2")
    assert await store.lease_holders("scheduler:") == {"scheduler:telegram": ("p1", T0 + ttl)}  # expired: still there


async def test_processes_racing_for_a_lease_never_both_win(postgres_url: str) -> None:
    """Several stores (each its own pool, as separate processes have) on one database, racing round after
    round for a free, then an expired, lease: exactly one wins each round."""
    stores = [await PostgresStore.open(postgres_url, pool_size=4) for _ in range(4)]
    try:
        ttl = timedelta(seconds=10)
        for round_ in range(20):
            at = T0 + round_ * timedelta(seconds=11)  # every round the last winner's lease has lapsed
            names = [f"p{i}" for i in range(len(stores))] * 3  # and each process tries from three tasks
            wins = await asyncio.gather(
                *(stores[i % len(stores)].acquire_lease("scheduler", name, at, ttl) for i, name in enumerate(names))
            )
            assert len({name for name, won in zip(names, wins, strict=True) if won}) == 1
    finally:
        for opened in stores:
            await opened.close()


# groups, lessons and posts beyond the basics -------------------------------------------------------------------
async def test_move_chat_moves_everything_kept_for_the_chat(world: World) -> None:
    store = world.store
    question = await world.post(message_id="1")
    await store.add_reply(question.id, BOB, world.ref("2"), "because", T0)
    await store.mark_lesson_posted(world.lesson.id, world.group.id, world.ref("3"), T0)
    assert await store.move_chat("telegram", "-100", "-1009") == 1
    assert await store.move_chat("telegram", "-100", "-1009") == 0
    moved = ChatRef("telegram", "-1009")
    group = await store.get_group(moved)
    assert group is not None and group.id == world.group.id and await store.get_group(CHAT) is None
    assert await store.question_by_ref(MessageRef("telegram", "-1009", "1")) == await store.get_question(question.id)
    assert await store.lesson_post_at(MessageRef("telegram", "-1009", "3")) is not None
    assert await store.last_message_id(moved) == "2" and await store.last_message_id(CHAT) is None


async def test_attention_instructors_channel_and_groups_on_a_platform(world: World) -> None:
    store = world.store
    other = await store.setup_group(ChatRef("discord", "9"), "#general", "ai", "en")
    off = await store.setup_group(ChatRef("discord", "10"), "#off", "ai", "en")
    await store.set_group_active(off.id, False)
    await store.set_group_attention(other.id, "missing permission")
    on_discord = await store.groups_on("discord")
    assert [g.id for g in on_discord] == [other.id] and on_discord[0].attention == "missing permission"
    again = await store.setup_group(ChatRef("discord", "9"), "#general", "ai", "en")
    assert again.attention is None  # set up again: the note is cleared
    assert await store.instructors_channel("ai", "discord") is None
    await store.set_instructors_channel("ai", ChatRef("discord", "5", "6"))
    await store.set_instructors_channel("ai", ChatRef("discord", "7"))
    assert await store.instructors_channel("ai", "discord") == ChatRef("discord", "7")


async def test_lesson_post_counts_latest_posted_and_next_release(world: World) -> None:
    store, group = world.store, world.group
    two, _ = await store.upsert_lesson(LessonDraft("ai", "two", "Two", number=2), T0)
    soon, _ = await store.upsert_lesson(LessonDraft("ai", "soon", "Soon", release_at=T0 + timedelta(hours=2)), T0)
    await store.upsert_lesson(LessonDraft("ai", "later", "Later", release_at=T0 + timedelta(days=2)), T0)
    assert await store.latest_lesson_posted(group.id) is None
    await store.mark_lesson_posted(world.lesson.id, group.id, world.ref("1"), T0)
    await store.mark_lesson_posted(two.id, group.id, world.ref("2"), T0 + timedelta(minutes=1))
    assert await store.latest_lesson_posted(group.id) == two
    assert await store.most_lesson_posts_in_a_group("ai", T0) == 2
    assert await store.most_lesson_posts_in_a_group("ai", T0 + timedelta(minutes=1)) == 1
    assert await store.most_lesson_posts_in_a_group("none", T0) == 0
    assert await store.next_release_after(T0) == T0 + timedelta(hours=2)
    await store.mark_lesson_published(soon.id, T0 + timedelta(hours=2))
    assert await store.next_release_after(T0) == T0 + timedelta(days=2)
    assert await store.next_release_after(T0 + timedelta(days=3)) is None


async def test_recent_questions_are_the_live_ones_with_a_message_oldest_first(world: World) -> None:
    store = world.store
    late = await world.post("late", message_id="2", at=T0 + timedelta(hours=1))
    early = await world.post("early", message_id="1", at=T0)
    gone = await world.post("gone", message_id="3", at=T0)
    await store.delete_post(gone.ref or world.ref("3"), T0)
    await store.import_lesson(DRAFT, [post("k1")], T0)  # no message: not to catch up on
    assert [q.id for q in await store.recent_questions("telegram", T0)] == [early.id, late.id]
    assert [q.id for q in await store.recent_questions("telegram", T0 + timedelta(minutes=1))] == [late.id]
    assert await store.recent_questions("discord", T0) == []


async def test_concurrent_posts_of_one_message_store_it_once(store: AnyStore) -> None:
    await store.upsert_course(Course("ai", "AI"), T0)
    lesson, _ = await store.upsert_lesson(DRAFT, T0)
    group = await store.setup_group(CHAT, "G", "ai", "en")
    new = NewPost(lesson.id, group.id, ANN, MessageRef("telegram", "-100", "1"), "why?", PostKind.QUESTION, T0)
    stored = await asyncio.gather(*(store.add_post(new) for _ in range(8)))
    assert len({q.id for q in stored}) == 1


async def test_setup_group_from_two_processes_makes_one_group_with_one_set_of_emojis(postgres_url: str) -> None:
    stores = [await PostgresStore.open(postgres_url, pool_size=2) for _ in range(3)]
    try:
        await stores[0].upsert_course(Course("ai", "AI"), T0)
        groups = await asyncio.gather(*(s.setup_group(CHAT, "G", "ai", "en") for s in stores for _ in range(3)))
        assert len({g.id for g in groups}) == 1 and all(g.like_emojis == ("👍",) for g in groups)
    finally:
        for opened in stores:
            await opened.close()


async def test_the_newest_settled_post_id_waits_for_the_posts_in_flight(postgres_url: str) -> None:
    """A post of course "ai" draws id N and is still in flight while one of course "ml" commits N+1: the
    watermark a digest reads must not pass N by, so it waits for N's transaction."""
    store = await PostgresStore.open(postgres_url, pool_size=4)
    try:
        world = await make_world(store)
        await store.upsert_course(Course("ml", "ML"), T0)
        other, _ = await store.upsert_lesson(LessonDraft("ml", "intro", "Intro"), T0)
        slow = await asyncpg.connect(postgres_url)
        try:
            in_flight = slow.transaction()
            await in_flight.start()
            await lock_course_posts(slow, "ai")
            member = await slow.fetchval("INSERT INTO members (platform, user_id, display_name) VALUES ('t', 'x', 'X')"
                                         " RETURNING id")  # fmt: skip
            drawn = await slow.fetchval(
                "INSERT INTO questions (lesson_id, course_slug, author_id, kind, text, created_at)"
                " VALUES ($1, 'ai', $2, 'question', '?', 0) RETURNING id",
                world.lesson.id,
                member,
            )
            later = await store.add_post(
                NewPost(other.id, None, BOB, MessageRef("t", "c", "1"), "?", PostKind.QUESTION, T0)
            )  # a course's lock does not hold back another course's posts
            assert later.id > drawn

            async def watermark() -> int:
                async with store._transaction() as conn:
                    return await newest_settled_post_id(conn)

            reading = asyncio.ensure_future(watermark())
            await asyncio.sleep(0.3)
            assert not reading.done()  # held back by the post in flight
            await in_flight.commit()
            assert await asyncio.wait_for(reading, 10) == later.id
        finally:
            await slow.close()
    finally:
        await store.close()
