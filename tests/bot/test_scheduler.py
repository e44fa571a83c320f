"""The scheduler with a controlled clock: digests once per period across daylight saving, restarts, downtime
and a second process; lesson releases. Time is an input: no test sleeps to wait for a job."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import App, open_app
from bot.config import Settings
from handlers.vocabulary.actions import Action, DirectMessage, Post, PostLesson
from handlers.vocabulary.content import to_plain_text
from handlers.vocabulary.domain import ChatRef, Course, Instructor, LessonDraft, Member, MessageRef, NewPost, PostKind
from tests.clock import TestClock

BERLIN = ZoneInfo("Europe/Berlin")
COURSE = "ai"


class ProcessKilled(BaseException):
    """The process dying mid-send: nothing in the core may catch it."""


class RecordingBackend:
    platform = "test"

    def __init__(self, kill_on_dm_to: str | None = None, bug_on_dm_to: str | None = None) -> None:
        self.dms: list[tuple[str, str]] = []
        self.posts: list[tuple[str, str]] = []
        self.kill_on_dm_to = kill_on_dm_to
        self.bug_on_dm_to = bug_on_dm_to
        self._ids = count(1)

    async def send(self, action: Action) -> MessageRef | None:
        if isinstance(action, DirectMessage):
            if action.user_id == self.kill_on_dm_to:
                raise ProcessKilled()
            if action.user_id == self.bug_on_dm_to:
                raise RuntimeError("a bug in the adapter")
            self.dms.append((action.user_id, to_plain_text(action.content)))
            return MessageRef(self.platform, f"dm:{action.user_id}", str(next(self._ids)))
        assert isinstance(action, Post | PostLesson)
        title = action.lesson.title if isinstance(action, PostLesson) else to_plain_text(action.content)
        self.posts.append((action.chat.chat_id, title))
        return MessageRef(self.platform, action.chat.chat_id, str(next(self._ids)))

    def link_to(self, ref: MessageRef) -> str | None:
        return None


@pytest.fixture
def db(tmp_path: Path) -> Settings:
    return Settings(database_path=tmp_path / "s.db", default_language="en", _env_file=None)  # type: ignore[call-arg]


@asynccontextmanager
async def running(db: Settings, clock: TestClock, backend: RecordingBackend, holder: str = "p1") -> AsyncIterator[App]:
    async with open_app(db, {"test": backend}, clock, holder=holder) as app:
        yield app


async def make_course(
    app: App, clock: TestClock, cron: str = "0 9 * * 1", tz: str = "Europe/Berlin", instructors: int = 1
) -> None:
    await app.store.upsert_course(Course(COURSE, "AI", timezone=tz, language="en", digest_cron=cron), clock.now())
    await app.store.setup_group(ChatRef("test", "g"), "G", COURSE, "en")
    for n in range(instructors):
        await app.store.add_instructor(Instructor(COURSE, "test", f"teacher{n}", f"Teacher {n}"))


async def ask(app: App, clock: TestClock, text: str) -> None:
    lesson = await app.store.latest_lesson(COURSE)
    if lesson is None:
        lesson, _ = await app.store.upsert_lesson(LessonDraft(COURSE, "l1", "Lesson 1"), clock.now())
        await app.store.mark_lesson_published(lesson.id, clock.now())
    group = await app.store.get_group(ChatRef("test", "g"))
    assert group is not None
    author = Member("test", "alice", "Alice")
    ref = MessageRef("test", "g", f"q{clock.now().timestamp()}")
    await app.store.add_post(NewPost(lesson.id, group.id, author, ref, text, PostKind.QUESTION, clock.now()))


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


async def test_weekly_digest_once_per_week_across_the_autumn_change(db: Settings) -> None:
    clock, backend = TestClock(berlin(2026, 10, 12, 10, 0)), RecordingBackend()
    async with running(db, clock, backend) as app:
        await make_course(app, clock)
        for day in range(28):  # four weeks, ticking every six hours, daylight saving ends on 2026-10-25
            for hour in (0, 6, 12, 18):
                clock.set(berlin(2026, 10, 12, hour) + timedelta(days=day))
                if hour == 12:
                    await ask(app, clock, f"Question on day {day}?")
                await app.scheduler.tick()
        ends = [d.period_end.astimezone(BERLIN) for d in await digests(app)]
    assert [e.strftime("%Y-%m-%d %H:%M %Z") for e in ends] == [
        "2026-10-19 09:00 CEST",
        "2026-10-26 09:00 CET",
        "2026-11-02 09:00 CET",
    ]
    assert len(backend.dms) == 3


async def test_daily_digest_through_both_changes_never_repeats_or_skips(db: Settings) -> None:
    for start in (berlin(2026, 3, 27, 12), berlin(2026, 10, 23, 12)):
        clock, backend = TestClock(start), RecordingBackend()
        settings = db.model_copy(update={"database_path": db.database_path.with_name(f"{start.month}.db")})
        async with running(settings, clock, backend) as app:
            await make_course(app, clock, cron="30 2 * * *")
            for _ in range(5 * 24 * 4):  # five days, every quarter of an hour (UTC), through the change
                clock.advance(minutes=15)
                await app.scheduler.tick()
            days = [d.period_end.astimezone(BERLIN).strftime("%m-%d %H:%M") for d in await digests(app)]
        assert len(days) == len(set(days)) == 5, days
        assert len({d[:5] for d in days}) == 5  # one per calendar day


async def digests(app: App) -> list:  # type: ignore[type-arg]
    import sqlite3

    with sqlite3.connect(app.store.path) as raw:
        ids = [r[0] for r in raw.execute("SELECT id FROM digests ORDER BY period_end")]
    result = []
    for digest_id in ids:
        with sqlite3.connect(app.store.path) as raw:
            start, end, sent = raw.execute(
                "SELECT period_start, period_end, sent_at FROM digests WHERE id = ?", (digest_id,)
            ).fetchone()
        result.append(_Digest(_t(start), _t(end), _t(sent) if sent else None))
    return result


class _Digest:
    def __init__(self, start: datetime, end: datetime, sent: datetime | None) -> None:
        self.period_start, self.period_end, self.sent_at = start, end, sent


def _t(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


async def test_a_crash_between_recording_and_sending_is_finished_once(db: Settings) -> None:
    clock = TestClock(berlin(2026, 11, 16, 8, 0))
    first = RecordingBackend(kill_on_dm_to="teacher1")
    async with running(db, clock, first) as app:
        await make_course(app, clock, instructors=2)
        await ask(app, clock, "Why?")
        clock.set(berlin(2026, 11, 23, 9, 1))
        with pytest.raises(ProcessKilled):
            await app.scheduler.tick()
    assert [user for user, _ in first.dms] == ["teacher0"]  # reached before the crash

    second = RecordingBackend()
    async with running(db, clock, second) as app:
        await app.scheduler.tick()
        await app.scheduler.tick()
        recorded = await digests(app)
    assert [user for user, _ in second.dms] == ["teacher1"]  # teacher0 does not get it twice
    assert len(recorded) == 1 and recorded[0].sent_at is not None


async def test_downtime_over_three_periods_sends_one_catch_up(db: Settings) -> None:
    clock, backend = TestClock(berlin(2026, 11, 2, 8, 0)), RecordingBackend()
    async with running(db, clock, backend) as app:
        await make_course(app, clock)
        clock.set(berlin(2026, 11, 2, 9, 5))
        await app.scheduler.tick()  # the digest of the week before
        await ask(app, clock, "Asked just before the outage?")
    clock.set(berlin(2026, 11, 25, 12, 0))  # down over the Mondays of 9, 16 and 23 November
    async with running(db, clock, backend) as app:
        await app.scheduler.tick()
        await app.scheduler.tick()
        recorded = await digests(app)
    assert len(backend.dms) == 2
    catch_up = recorded[-1]
    assert catch_up.period_start == berlin(2026, 11, 2, 9, 0)
    assert catch_up.period_end == berlin(2026, 11, 23, 9, 0)
    assert "Asked just before the outage?" in backend.dms[-1][1]


async def test_two_processes_on_one_database_send_one_digest(db: Settings) -> None:
    clock = TestClock(berlin(2026, 11, 16, 8, 0))
    one, two = RecordingBackend(), RecordingBackend()
    async with running(db, clock, one, holder="one") as a, running(db, clock, two, holder="two") as b:
        await make_course(a, clock)
        clock.set(berlin(2026, 11, 16, 9, 0, 30))
        reports = await asyncio.gather(a.scheduler.tick(), b.scheduler.tick())
        assert sorted(r.leader for r in reports) == [False, True]
        assert len(one.dms) + len(two.dms) == 1
        leader, follower = (a, b) if reports[0].leader else (b, a)
        # The leader renews its lease shortly before the next digest, then dies without releasing it.
        clock.set(berlin(2026, 11, 23, 8, 59, 50))
        assert (await leader.scheduler.tick()).leader
        clock.set(berlin(2026, 11, 23, 9, 0, 30))
        assert (await follower.scheduler.tick()).leader is False  # the dead leader's lease has not expired
        assert len(one.dms) + len(two.dms) == 1
        clock.advance(seconds=leader.scheduler.lease_ttl.total_seconds())
        report = await follower.scheduler.tick()
        assert report.leader and report.digests == 1  # taken over, and sent once
        assert len(one.dms) + len(two.dms) == 2


async def test_empty_period_is_skipped_or_noted(db: Settings) -> None:
    for policy, expected in (("skip", 0), ("note", 1)):
        clock, backend = TestClock(berlin(2026, 11, 16, 8, 0)), RecordingBackend()
        settings = db.model_copy(
            update={"database_path": db.database_path.with_name(f"{policy}.db"), "empty_digest": policy}
        )
        async with running(settings, clock, backend) as app:
            await make_course(app, clock)
            clock.set(berlin(2026, 11, 16, 9, 1))
            await app.scheduler.tick()
            assert len(await digests(app)) == 1  # recorded either way: the period is done
        assert len(backend.dms) == expected
        if expected:
            assert "No new questions in this period." in backend.dms[0][1]


async def test_an_unusable_schedule_in_the_database_does_not_stop_the_others(db: Settings) -> None:
    clock, backend = TestClock(berlin(2026, 11, 16, 8, 0)), RecordingBackend()
    async with running(db, clock, backend) as app:
        await make_course(app, clock)
        await app.store.upsert_course(Course("broken", "B", digest_cron="99 * * * *"), clock.now())
        await app.store.add_instructor(Instructor("broken", "test", "x", "X"))
        clock.set(berlin(2026, 11, 16, 9, 1))
        report = await app.scheduler.tick()
    assert report.leader and report.digests == 1


async def test_lesson_releases_past_present_and_future(db: Settings) -> None:
    clock, backend = TestClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC)), RecordingBackend()
    async with running(db, clock, backend) as app:
        await make_course(app, clock)
        now = clock.now()
        for slug, at in (("past", now - timedelta(days=2)), ("present", now), ("future", now + timedelta(hours=5))):
            await app.store.upsert_lesson(LessonDraft(COURSE, slug, slug.title(), release_at=at), now)
        report = await app.scheduler.tick()
        assert sorted(title for _, title in backend.posts) == ["Past", "Present"]
        assert report.next_wake is not None and report.next_wake <= now + timedelta(hours=5)
        clock.set(now + timedelta(hours=5))
        await app.scheduler.tick()
        # A lesson edited after it was posted is updated, never posted again.
        await app.store.upsert_lesson(
            LessonDraft(COURSE, "future", "Future (edited)", release_at=now + timedelta(hours=5)), clock.now()
        )
        clock.advance(hours=1)
        await app.scheduler.tick()
        await app.scheduler.tick()
    assert [title for _, title in backend.posts] == ["Past", "Present", "Future"]


async def test_the_wake_job_is_planned_from_the_database_and_fires(db: Settings) -> None:
    clock, backend = TestClock(berlin(2026, 11, 16, 8, 0)), RecordingBackend()
    async with running(db, clock, backend) as app:
        await make_course(app, clock)
        first = await app.scheduler.start()
        try:
            assert first.next_wake == clock.now() + app.scheduler.poll_interval  # the next look for changes
            job = app.scheduler._aps.get_job("wake")
            assert job is not None and job.misfire_grace_time is None and job.coalesce
            # Make the digest due on the test clock and replan: the wake-up fires at once and sends it.
            clock.set(berlin(2026, 11, 16, 9, 0, 5))
            app.scheduler._arm(clock.now())
            await asyncio.wait_for(app.scheduler.wait_for_tick(2), timeout=10)
            assert len(backend.dms) == 1
        finally:
            await app.scheduler.stop()


async def test_schedule_command_replans_the_wake_up(db: Settings) -> None:
    clock, backend = TestClock(berlin(2026, 11, 16, 8, 0)), RecordingBackend()
    async with running(db, clock, backend) as app:
        await make_course(app, clock, cron="0 12 * * *")
        app.scheduler.poll_interval = timedelta(hours=6)
        assert (await app.scheduler.tick()).next_wake == berlin(2026, 11, 16, 12, 0)
        await app.store.set_course_schedule(COURSE, "15 8 * * *", "Europe/Berlin")
        await app.services.schedule_changed(COURSE)
        assert app.scheduler.last_report is not None
        assert app.scheduler.last_report.next_wake == berlin(2026, 11, 16, 8, 15)


async def test_a_duty_that_fails_is_logged_by_the_core_and_the_others_still_run(db: Settings) -> None:
    """The scheduler hands each duty to the dispatcher as an event: an unexpected error in one course's digest
    is caught at the core's error boundary (and counted), while the other course's digest and a due lesson go
    out in the same tick."""
    clock, backend = TestClock(berlin(2026, 11, 16, 8, 0)), RecordingBackend(bug_on_dm_to="teacher0")
    async with running(db, clock, backend) as app:
        await make_course(app, clock)
        await app.store.upsert_course(
            Course("ml", "ML", timezone="Europe/Berlin", digest_cron="0 9 * * 1"), clock.now()
        )
        await app.store.add_instructor(Instructor("ml", "test", "ml-teacher", "ML Teacher"))
        await app.store.upsert_lesson(
            LessonDraft(COURSE, "l2", "Lesson 2", release_at=berlin(2026, 11, 16, 9, 0)), clock.now()
        )
        clock.set(berlin(2026, 11, 16, 9, 0, 30))
        report = await app.scheduler.tick()
        assert report.leader and report.digests == 2 and report.lessons_published == 1
        assert report.errors == []  # nothing escaped to the scheduler: the core's boundary took it
        assert app.dispatcher.failed_events == 1  # course ai's digest met the bug
        assert [user for user, _ in backend.dms] == ["ml-teacher"]
        assert backend.posts == [("g", "Lesson 2")]


class StuckBackend(RecordingBackend):
    """A platform whose sends never return (an API that stopped answering)."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = asyncio.Event()

    async def send(self, action: Action) -> MessageRef | None:
        self.sending.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_stop_during_the_wake_ups_tick_cuts_it_short_without_a_traceback(
    db: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGTERM while a scheduled tick is sending: the tick is cancelled and said so in a line, not left to meet
    the store closing under it (APScheduler logged that as an error with a traceback)."""
    clock, backend = TestClock(berlin(2026, 11, 16, 8, 0)), StuckBackend()
    caplog.set_level(logging.INFO)
    async with running(db, clock, backend) as app:
        await make_course(app, clock)
        await app.scheduler.start()
        clock.set(berlin(2026, 11, 16, 9, 0, 5))  # the digest is due: the wake-up's tick sends it
        app.scheduler._arm(clock.now())
        await asyncio.wait_for(backend.sending.wait(), timeout=10)
        await asyncio.wait_for(app.scheduler.stop(), timeout=5)
    assert "the scheduler's tick was cut short" in caplog.text
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == [], caplog.text
    assert "Traceback" not in caplog.text
