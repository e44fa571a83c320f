"""Scheduler duties per platform (issue 13): processes on one database that run different platforms (Telegram
webhook workers, Discord shards) each lead their own platforms, so every group gets a lesson once and every
instructor a digest once, whichever process comes first. Two apps on one SQLite file, each with the backends of
the platforms it runs; time comes from the test's clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import App, open_app
from bot.config import Settings
from bot.scheduler import ABANDONED_AFTER
from handlers.ports import Outbox
from handlers.vocabulary.actions import Action, DirectMessage, Post, PostLesson
from handlers.vocabulary.content import to_plain_text
from handlers.vocabulary.domain import ChatRef, Course, Instructor, LessonDraft, Member, MessageRef, NewPost, PostKind
from handlers.vocabulary.errors import RecipientUnreachable
from tests.clock import TestClock

BERLIN = ZoneInfo("Europe/Berlin")
COURSE = "ai"
GROUPS = {"telegram": ("tg1", "tg2"), "discord": ("dc1", "dc2")}


class PlatformBackend:
    """A recording backend for one platform; every send of every backend lands in one shared log, so a test
    sees what reached each chat whichever process sent it."""

    def __init__(self, platform: str, log: list[tuple[str, str, str]], closed_dms: frozenset[str] = frozenset()):
        self.platform = platform
        self.log = log
        self.closed_dms = closed_dms
        self._ids = count(1)

    async def send(self, action: Action) -> MessageRef | None:
        if isinstance(action, DirectMessage):
            assert action.platform == self.platform
            if action.user_id in self.closed_dms:
                raise RecipientUnreachable(f"{action.user_id} has not opened a chat with the bot")
            what = "reminder" if "Unanswered for over" in to_plain_text(action.content) else "digest"
            self.log.append((self.platform, f"dm:{action.user_id}", what))
            return MessageRef(self.platform, f"dm:{action.user_id}", str(next(self._ids)))
        assert isinstance(action, Post | PostLesson)
        assert action.chat.platform == self.platform
        what = action.lesson.title if isinstance(action, PostLesson) else "post"
        self.log.append((self.platform, action.chat.chat_id, what))
        return MessageRef(self.platform, action.chat.chat_id, str(next(self._ids)))

    def link_to(self, ref: MessageRef) -> str | None:
        return None


@pytest.fixture
def db(tmp_path: Path) -> Settings:
    return Settings(database_path=tmp_path / "m.db", default_language="en", _env_file=None)  # type: ignore[call-arg]


@asynccontextmanager
async def process(
    db: Settings, clock: TestClock, log: list[tuple[str, str, str]], *platforms: str, holder: str
) -> AsyncIterator[App]:
    backends: dict[str, Outbox] = {p: PlatformBackend(p, log) for p in platforms}
    async with open_app(db, backends, clock, holder=holder) as app:
        yield app


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


async def make_course(app: App, clock: TestClock, platforms: tuple[str, ...] = ("telegram", "discord")) -> None:
    course = Course(COURSE, "AI", timezone="Europe/Berlin", language="en", digest_cron="0 9 * * 1")
    await app.store.upsert_course(course, clock.now())
    for platform in platforms:
        for chat in GROUPS[platform]:
            await app.store.setup_group(ChatRef(platform, chat), chat, COURSE, "en")
        await app.store.add_instructor(Instructor(COURSE, platform, f"{platform}-teacher", "Teacher"))


def lesson_posts(log: list[tuple[str, str, str]], title: str) -> list[str]:
    return sorted(chat for _, chat, what in log if what == title)


def digest_dms(log: list[tuple[str, str, str]]) -> list[str]:
    return sorted(chat for _, chat, what in log if what == "digest")


def reminder_dms(log: list[tuple[str, str, str]]) -> list[str]:
    return sorted(chat for _, chat, what in log if what == "reminder")


async def a_liked_question(app: App, clock: TestClock) -> None:
    """A question in a Telegram group, liked once: due for a reminder once the course's days have passed."""
    lesson, _ = await app.store.upsert_lesson(LessonDraft(COURSE, "l1", "Lesson 1"), clock.now())
    group = await app.store.get_group(ChatRef("telegram", "tg1"))
    assert group is not None
    ref = MessageRef("telegram", "tg1", "m1")
    alice = Member("telegram", "alice", "Alice")
    text = "How do I profile a training loop?"
    await app.store.add_post(NewPost(lesson.id, group.id, alice, ref, text, PostKind.QUESTION, clock.now()))
    await app.store.add_reaction(ref, Member("telegram", "bob", "Bob"), "👍", clock.now())


ALL_GROUPS = sorted(c for chats in GROUPS.values() for c in chats)
ALL_DMS = ["dm:discord-teacher", "dm:telegram-teacher"]


async def test_each_platform_is_led_by_a_process_that_runs_it(db: Settings) -> None:
    clock, log = TestClock(berlin(2026, 11, 16, 8, 0)), []
    async with (
        process(db, clock, log, "telegram", holder="tg") as tg,
        process(db, clock, log, "telegram", holder="tg-2") as tg2,
        process(db, clock, log, "discord", holder="dc") as dc,
    ):
        reports = await asyncio.gather(tg.scheduler.tick(), tg2.scheduler.tick(), dc.scheduler.tick())
        led = sorted(sorted(r.leading.platforms or ()) for r in reports)
        assert led == [[], ["discord"], ["telegram"]]  # one Telegram worker leads Telegram, the shard Discord
        assert sum(r.leader for r in reports) == 2


async def test_a_lesson_reaches_the_groups_of_every_platform_once(db: Settings) -> None:
    clock, log = TestClock(berlin(2026, 11, 16, 8, 0)), []
    async with (
        process(db, clock, log, "telegram", holder="tg") as tg,
        process(db, clock, log, "discord", holder="dc") as dc,
    ):
        await make_course(tg, clock)
        await asyncio.gather(tg.scheduler.tick(), dc.scheduler.tick())
        await tg.store.upsert_lesson(LessonDraft(COURSE, "l1", "Lesson 1"), clock.now())
        # Telegram's leader finds the lesson due first: it posts in the Telegram groups and leaves the Discord
        # ones pending for their leader, which finishes them at its next tick.
        report = await tg.scheduler.tick()
        assert report.lessons_published == 1
        assert lesson_posts(log, "Lesson 1") == ["tg1", "tg2"]
        clock.advance(seconds=1)
        report = await dc.scheduler.tick()
        assert report.lessons_published == 0  # published already: its share came as pending posts
        assert lesson_posts(log, "Lesson 1") == ALL_GROUPS
        for _ in range(2):  # nothing more, from either, later
            clock.advance(seconds=31)
            await asyncio.gather(tg.scheduler.tick(), dc.scheduler.tick())
        assert lesson_posts(log, "Lesson 1") == ALL_GROUPS
        assert await tg.store.pending_lesson_posts() == []


async def test_the_digest_reaches_the_instructors_of_every_platform_once(db: Settings) -> None:
    clock, log = TestClock(berlin(2026, 11, 16, 8, 0)), []
    async with (
        process(db, clock, log, "telegram", holder="tg") as tg,
        process(db, clock, log, "discord", holder="dc") as dc,
    ):
        await make_course(tg, clock)
        await asyncio.gather(tg.scheduler.tick(), dc.scheduler.tick())
        clock.set(berlin(2026, 11, 16, 9, 0, 30))
        first = await dc.scheduler.tick()  # Discord's leader records the period and sends its share
        assert first.digests == 1
        assert digest_dms(log) == ["dm:discord-teacher"]
        assert len(await tg.store.unsent_digests()) == 1  # Telegram's share is still to come
        clock.advance(seconds=1)
        second = await tg.scheduler.tick()
        assert second.digests == 0  # recorded once
        assert digest_dms(log) == ALL_DMS
        assert await tg.store.unsent_digests() == []
        for _ in range(2):
            clock.advance(seconds=31)
            await asyncio.gather(tg.scheduler.tick(), dc.scheduler.tick())
        assert digest_dms(log) == ALL_DMS


async def test_a_reminder_reaches_the_instructors_of_every_platform_once(db: Settings) -> None:
    """Whichever platform's leader claims the reminder sends only its own platform's share; the other
    platform's leader sends the rest (a Discord-only process cannot reach a Telegram instructor)."""
    clock, log = TestClock(berlin(2026, 11, 17, 8, 0)), []
    async with (
        process(db, clock, log, "telegram", holder="tg") as tg,
        process(db, clock, log, "discord", holder="dc") as dc,
    ):
        await make_course(tg, clock)
        await tg.store.set_remind_days(COURSE, 2)
        await a_liked_question(tg, clock)
        await asyncio.gather(tg.scheduler.tick(), dc.scheduler.tick())
        assert reminder_dms(log) == []
        clock.advance(days=2, hours=1)
        report = await dc.scheduler.tick()  # Discord's leader claims the reminder and sends its share
        assert not report.errors
        assert reminder_dms(log) == ["dm:discord-teacher"]
        clock.advance(seconds=1)
        await tg.scheduler.tick()
        assert reminder_dms(log) == ALL_DMS
        for _ in range(2):
            clock.advance(seconds=31)
            await asyncio.gather(tg.scheduler.tick(), dc.scheduler.tick())
        assert reminder_dms(log) == ALL_DMS


async def test_a_crashed_platform_leader_is_waited_for_and_replaced(db: Settings) -> None:
    """Discord's leader dies without releasing its lease: the digest stays unsent (its Discord share is still
    due) until another Discord process takes the lease over, and then reaches the Discord instructor once."""
    clock, log = TestClock(berlin(2026, 11, 16, 8, 0)), []
    async with process(db, clock, log, "telegram", holder="tg") as tg:
        await make_course(tg, clock)
        clock.set(berlin(2026, 11, 16, 8, 59, 50))  # it renews its lease just before the digest is due
        async with process(db, clock, log, "discord", holder="dc-dead") as dead:
            assert (await dead.scheduler.tick()).leader
        # (closed without stop(): its lease row stays until it expires and another takes it)
        clock.set(berlin(2026, 11, 16, 9, 0, 30))
        await tg.store.upsert_lesson(LessonDraft(COURSE, "l1", "Lesson 1"), clock.now())
        await tg.scheduler.tick()
        assert digest_dms(log) == ["dm:telegram-teacher"]
        assert lesson_posts(log, "Lesson 1") == ["tg1", "tg2"]
        assert len(await tg.store.unsent_digests()) == 1
        async with process(db, clock, log, "discord", holder="dc-new") as dc:
            assert (await dc.scheduler.tick()).leader is False  # the dead leader's lease has not expired
            clock.advance(seconds=dc.scheduler.lease_ttl.total_seconds())
            assert (await dc.scheduler.tick()).leader
            await tg.scheduler.tick()
        assert digest_dms(log) == ALL_DMS
        assert lesson_posts(log, "Lesson 1") == ALL_GROUPS
        assert await tg.store.unsent_digests() == []


async def test_one_process_running_every_platform_leads_them_all_in_one_tick(db: Settings) -> None:
    clock, log = TestClock(berlin(2026, 11, 16, 8, 0)), []
    async with process(db, clock, log, "telegram", "discord", holder="both") as app:
        await make_course(app, clock)
        await app.store.upsert_lesson(LessonDraft(COURSE, "l1", "Lesson 1"), clock.now())
        clock.set(berlin(2026, 11, 16, 9, 0, 30))
        report = await app.scheduler.tick()
        assert report.leading.platforms == frozenset({"telegram", "discord"})
        assert lesson_posts(log, "Lesson 1") == ALL_GROUPS
        assert digest_dms(log) == ALL_DMS
        assert await app.store.unsent_digests() == []
        await app.scheduler.stop()
        assert await app.store.lease_holders("scheduler") == {}  # every lease handed over at stop


async def test_a_platform_nobody_runs_does_not_hold_the_digest(db: Settings) -> None:
    """As before per-platform leaders: a Telegram-only deployment whose course also names a Discord instructor
    sends the digest to Telegram and counts it sent; the Discord groups' lesson posts stay pending, unsent."""
    clock, log = TestClock(berlin(2026, 11, 16, 8, 0)), []
    async with process(db, clock, log, "telegram", holder="tg") as tg:
        await make_course(tg, clock)
        await tg.store.upsert_lesson(LessonDraft(COURSE, "l1", "Lesson 1"), clock.now())
        clock.set(berlin(2026, 11, 16, 9, 0, 30))
        await tg.scheduler.tick()
        assert digest_dms(log) == ["dm:telegram-teacher"]
        assert await tg.store.unsent_digests() == []
        assert lesson_posts(log, "Lesson 1") == ["tg1", "tg2"]
        assert len(await tg.store.pending_lesson_posts()) == 2


async def test_an_unreachable_instructor_does_not_keep_the_digest_unsent(db: Settings) -> None:
    """The Discord instructor's DMs are closed and there is no instructors' channel: once Discord's leader has
    tried, the digest counts as sent (the Telegram instructor has it), as in one process."""
    clock, log = TestClock(berlin(2026, 11, 16, 8, 0)), []
    async with process(db, clock, log, "telegram", holder="tg") as tg:
        closed = {"discord": PlatformBackend("discord", log, frozenset({"discord-teacher"}))}
        async with open_app(db, closed, clock, holder="dc") as dc:
            await make_course(tg, clock)
            await asyncio.gather(tg.scheduler.tick(), dc.scheduler.tick())
            clock.set(berlin(2026, 11, 16, 9, 0, 30))
            await tg.scheduler.tick()
            assert len(await tg.store.unsent_digests()) == 1
            clock.advance(seconds=1)
            await dc.scheduler.tick()
            assert digest_dms(log) == ["dm:telegram-teacher"]
            assert await tg.store.unsent_digests() == []


async def test_a_platform_whose_leader_never_came_back_is_given_up_after_an_hour(db: Settings) -> None:
    """Discord's leader died and no Discord process is started again: after ABANDONED_AFTER its share no longer
    keeps the digest unsent (the Telegram instructor has it), as if Discord were not deployed."""
    clock, log = TestClock(berlin(2026, 11, 16, 8, 59, 50)), []
    async with process(db, clock, log, "telegram", holder="tg") as tg:
        await make_course(tg, clock)
        async with process(db, clock, log, "discord", holder="dc-dead") as dead:
            assert (await dead.scheduler.tick()).leader
        clock.set(berlin(2026, 11, 16, 9, 0, 30))
        await tg.scheduler.tick()
        assert len(await tg.store.unsent_digests()) == 1
        clock.advance(seconds=ABANDONED_AFTER.total_seconds())
        await tg.scheduler.tick()
        assert len(await tg.store.unsent_digests()) == 1  # expired less than an hour ago: still waited for
        clock.advance(seconds=tg.scheduler.lease_ttl.total_seconds())
        await tg.scheduler.tick()
        assert await tg.store.unsent_digests() == []
        assert digest_dms(log) == ["dm:telegram-teacher"]
