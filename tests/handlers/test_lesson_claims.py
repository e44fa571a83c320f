"""Lesson-post claims across processes (issue 13): two studybot processes on one SQLite file, each its own store
(``open_app`` twice, with different holder ids), on one test clock. Only a claim's owner sends; another process
finds the post "claimed elsewhere"; an expired claim is taken over, a live one never.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import count
from pathlib import Path

import pytest

from bot.app import App, open_app
from bot.config import Settings
from handlers.features.lessons import CLAIM_TTL
from handlers.vocabulary.actions import Action, PostLesson, Reply
from handlers.vocabulary.content import to_plain_text
from handlers.vocabulary.domain import ChatRef, Course, LessonDraft, Member, MessageRef
from handlers.vocabulary.events import CommandInvoked, LessonPublished
from tests.clock import TestClock

COURSE = "ai-systems"
CHAT = ChatRef("test", "g0")


class ProcessKilled(BaseException):
    """Stands for the process dying mid-send: nothing in the core may catch it."""


class GatedBackend:
    """Records lesson posts and replies; a send of a lesson can be held (a 429 being waited out) or kill."""

    platform = "test"

    def __init__(self) -> None:
        self.lessons: list[str] = []
        self.replies: list[str] = []
        self.sending = asyncio.Event()  # a lesson send has begun
        self.sending_again = asyncio.Event()  # a second lesson send has begun
        self.release: asyncio.Event | None = None  # when set, lesson sends wait for it
        self.kill = False
        self._ids = count(1)

    async def send(self, action: Action) -> MessageRef | None:
        if isinstance(action, Reply):
            self.replies.append(to_plain_text(action.content))
            return None
        assert isinstance(action, PostLesson)
        if self.sending.is_set():
            self.sending_again.set()
        self.sending.set()
        if self.kill:
            raise ProcessKilled()
        if self.release is not None:
            await self.release.wait()
        self.lessons.append(action.chat.chat_id)
        return MessageRef(self.platform, action.chat.chat_id, str(next(self._ids)))

    def link_to(self, ref: MessageRef) -> str | None:
        return None


@pytest.fixture
def db(tmp_path: Path) -> Settings:
    return Settings(database_path=tmp_path / "shared.db", _env_file=None)  # type: ignore[call-arg]


@asynccontextmanager
async def process(db: Settings, clock: TestClock, backend: GatedBackend, holder: str) -> AsyncIterator[App]:
    async with open_app(db, {"test": backend}, clock, holder=holder) as app:
        yield app


async def seed(app: App, clock: TestClock) -> int:
    await app.store.upsert_course(Course(COURSE, "AI"), clock.now())
    await app.store.setup_group(CHAT, "Group 0", COURSE, "en")
    lesson, _ = await app.store.upsert_lesson(LessonDraft(COURSE, "l1", "Lesson 1"), clock.now())
    return lesson.id


def admin_lesson(clock: TestClock) -> CommandInvoked:
    ref = MessageRef(CHAT.platform, CHAT.chat_id, "900")
    return CommandInvoked(ref, Member("test", "admin", "Admin"), "lesson", "", clock.now(), actor_is_admin=True)


async def test_admin_lesson_in_another_process_while_the_scheduler_posts_is_posted_once(db: Settings) -> None:
    """The race from issue 13: the lease holder's send is held up (a 429), the admin runs /lesson elsewhere."""
    clock = TestClock()
    leader, other = GatedBackend(), GatedBackend()
    leader.release = asyncio.Event()
    async with process(db, clock, leader, "host-a") as a, process(db, clock, other, "host-b") as b:
        lesson_id = await seed(a, clock)
        broadcast = asyncio.create_task(a.dispatcher.dispatch(LessonPublished(lesson_id, clock.now())))
        await asyncio.wait_for(leader.sending.wait(), 5)  # host-a holds the claim and is mid-send

        await b.dispatcher.dispatch(admin_lesson(clock))
        assert other.lessons == []
        assert other.replies == ["“Lesson 1” is being posted in this group right now; it is not posted twice."]

        leader.release.set()
        await asyncio.wait_for(broadcast, 5)
        await b.dispatcher.dispatch(admin_lesson(clock))  # and once it is sent, /lesson says so
    assert leader.lessons == ["g0"] and other.lessons == []
    assert other.replies[-1] == "“Lesson 1” was already posted in this group; it is not posted twice."


async def test_admin_lesson_in_the_same_process_while_the_scheduler_posts_is_posted_once(db: Settings) -> None:
    """The same race within one process: a claim belongs to one attempt, not to the process, so the admin's
    /lesson does not take over the broadcast's live claim (it did, and the group got the lesson twice: found on
    PostgreSQL, where the Discord benchmark's /setup and /lesson overlapped)."""
    clock = TestClock()
    backend = GatedBackend()
    backend.release = asyncio.Event()
    async with process(db, clock, backend, "host-a") as app:
        lesson_id = await seed(app, clock)
        broadcast = asyncio.create_task(app.dispatcher.dispatch(LessonPublished(lesson_id, clock.now())))
        await asyncio.wait_for(backend.sending.wait(), 5)  # the broadcast holds the claim and is mid-send

        await asyncio.wait_for(app.dispatcher.dispatch(admin_lesson(clock)), 5)  # (a second send would wait)
        assert backend.replies == ["“Lesson 1” is being posted in this group right now; it is not posted twice."]

        backend.release.set()
        await asyncio.wait_for(broadcast, 5)
    assert backend.lessons == ["g0"]


async def test_a_process_that_becomes_leader_does_not_send_its_own_post_in_flight_again(db: Settings) -> None:
    """A process that has run for a while takes over the lease while its own /lesson is mid-send (a 429): its
    first tick as leader must leave that live claim alone, or the group gets the lesson twice."""
    clock = TestClock()
    first, second = GatedBackend(), GatedBackend()
    second.release = asyncio.Event()
    async with process(db, clock, second, "host-b") as b:
        async with process(db, clock, first, "host-a") as a:
            assert (await a.scheduler.tick()).leader
            assert not (await b.scheduler.tick()).leader
            await seed(a, clock)
            admin = asyncio.create_task(b.dispatcher.dispatch(admin_lesson(clock)))
            await asyncio.wait_for(second.sending.wait(), 5)  # host-b's /lesson is mid-send
            await a.scheduler.stop()
        # host-a stopped and handed the lease over; host-b's first tick as leader
        tick = asyncio.create_task(b.scheduler.tick())
        again = asyncio.create_task(second.sending_again.wait())
        await asyncio.wait([tick, again], timeout=5, return_when=asyncio.FIRST_COMPLETED)
        again.cancel()
        second.release.set()
        assert (await asyncio.wait_for(tick, 5)).leader
        await asyncio.wait_for(admin, 5)
    assert first.lessons == [] and second.lessons == ["g0"]


async def test_a_dead_owners_claim_is_not_taken_before_it_expires_and_is_taken_after(db: Settings) -> None:
    clock = TestClock()
    dying, survivor = GatedBackend(), GatedBackend()
    dying.kill = True
    async with process(db, clock, survivor, "host-b") as b:
        async with process(db, clock, dying, "host-a") as a:
            lesson_id = await seed(a, clock)
            with pytest.raises(ProcessKilled):
                await a.dispatcher.dispatch(LessonPublished(lesson_id, clock.now()))
        # host-a is gone without a word; its claim stands until it expires.
        clock.advance(seconds=CLAIM_TTL.total_seconds() - 1)
        await b.dispatcher.dispatch(admin_lesson(clock))
        assert (await b.scheduler.tick()).leader  # the first tick as leader resumes own and expired claims only
        await b.scheduler.tick()
        assert survivor.lessons == []
        assert "is being posted in this group right now" in survivor.replies[-1]

        clock.advance(seconds=1)  # now the claim has expired: the lease holder's next tick takes it over
        await b.scheduler.tick()
        assert survivor.lessons == ["g0"]
        await b.scheduler.tick()
        await b.dispatcher.dispatch(admin_lesson(clock))
    assert survivor.lessons == ["g0"] and dying.lessons == []
    assert "already posted" in survivor.replies[-1]


async def test_an_admin_can_take_over_an_expired_claim_with_lesson(db: Settings) -> None:
    clock = TestClock()
    dying, survivor = GatedBackend(), GatedBackend()
    dying.kill = True
    async with process(db, clock, dying, "host-a") as a:
        lesson_id = await seed(a, clock)
        with pytest.raises(ProcessKilled):
            await a.dispatcher.dispatch(LessonPublished(lesson_id, clock.now()))
    clock.advance(seconds=CLAIM_TTL.total_seconds())
    async with process(db, clock, survivor, "host-b") as b:
        await b.dispatcher.dispatch(admin_lesson(clock))
        await b.dispatcher.dispatch(admin_lesson(clock))
    assert survivor.lessons == ["g0"]
    assert "already posted" in survivor.replies[-1]
