"""RSS and Atom feeds from a local HTTP server, polled by the scheduler on a test clock (nothing sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest

from bot.app import App, open_app
from bot.config import Settings, SettingsError, load_settings, parse_feeds
from bot.sources.feeds import backoff, parse_feed
from bot.telegram_backend.render import to_html
from handlers.features.lessons import lesson_content
from handlers.text.intro import intro_plain_text
from handlers.vocabulary.actions import Action, PostLesson
from handlers.vocabulary.content import to_plain_text
from handlers.vocabulary.domain import ChatRef, Course, MessageRef
from tests.clock import TestClock
from tests.sources.feed_server import FeedServer, Item, atom, rss, serve

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
COURSE = "ai"


class RecordingBackend:
    platform = "test"

    def __init__(self) -> None:
        self.posts: list[str] = []
        self.html: list[str] = []
        self._ids = count(1)

    async def send(self, action: Action) -> MessageRef | None:
        assert isinstance(action, PostLesson)
        self.posts.append(action.lesson.title)
        self.html.append(to_html(action.content))
        return MessageRef(self.platform, action.chat.chat_id, str(next(self._ids)))

    def link_to(self, ref: MessageRef) -> str | None:
        return None


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with serve() as running:
        yield running


def settings_for(tmp_path: Path, feeds: str) -> Settings:
    return Settings(database_path=tmp_path / "f.db", default_language="en", feeds=feeds, _env_file=None)  # type: ignore[call-arg]


@asynccontextmanager
async def bot(settings: Settings, clock: TestClock, backend: RecordingBackend) -> AsyncIterator[App]:
    async with open_app(settings, {"test": backend}, clock, holder="p1") as app:
        if await app.store.get_course(COURSE) is None:
            await app.store.upsert_course(Course(COURSE, "AI", language="en"), clock.now())
            await app.store.setup_group(ChatRef("test", "g"), "G", COURSE, "en")
        yield app


def items(*numbers: int) -> list[Item]:
    return [
        Item(f"urn:lesson:{n}", f"Lesson {n}", T0 - timedelta(days=10 - n), link=f"https://course.example/{n}")
        for n in numbers
    ]


def statuses(server: FeedServer) -> list[int]:
    return [status for _, status in server.log]


async def test_a_new_feed_is_recorded_not_posted_then_new_entries_are_posted_once(
    tmp_path: Path, server: FeedServer
) -> None:
    server.feeds["/rss.xml"] = rss(items(1, 2, 3))
    clock, backend = TestClock(T0), RecordingBackend()
    async with bot(settings_for(tmp_path, f"{COURSE}={server.url('/rss.xml')}"), clock, backend) as app:
        report = await app.scheduler.tick()
        assert backend.posts == []  # the back catalogue is not a flood
        assert report.lessons_imported == 3
        lessons = await app.store.list_lessons(COURSE)
        assert sorted(lesson.title for lesson in lessons) == ["Lesson 1", "Lesson 2", "Lesson 3"]
        assert await app.store.due_lessons(clock.now()) == []
        # An admin can still post one of them: the lessons exist.
        assert await app.store.find_lesson(COURSE, lessons[0].slug) is not None

        later = Item("urn:lesson:4", "Lesson 4", T0 + timedelta(minutes=5), "<p>New <b>stuff</b>.</p>")
        server.feeds["/rss.xml"] = rss([later, *items(1, 2, 3)])
        clock.advance(minutes=10)
        await app.scheduler.tick()
        assert statuses(server) == [200]  # not due yet: no request at all
        clock.advance(minutes=5)
        await app.scheduler.tick()
        assert backend.posts == ["Lesson 4"]
        assert "New <b>stuff</b>." in backend.html[0]
        clock.advance(minutes=15)
        await app.scheduler.tick()  # unchanged: a conditional request answered 304
        clock.advance(minutes=15)
        await app.scheduler.tick()
        assert statuses(server) == [200, 200, 304, 304]
        assert backend.posts == ["Lesson 4"]


async def test_feeds_due_together_are_polled_at_the_same_time(tmp_path: Path, server: FeedServer) -> None:
    """The first feed's site answers only once the second feed has been asked too: polled one after the other,
    the tick would hang on it until the timeout."""
    server.feeds["/slow.xml"], server.feeds["/fast.xml"] = rss(items(1)), rss(items(2))
    server.waits_for["/slow.xml"] = "/fast.xml"
    feeds = f"{COURSE}={server.url('/slow.xml')},{COURSE}={server.url('/fast.xml')}"
    async with bot(settings_for(tmp_path, feeds), TestClock(T0), RecordingBackend()) as app:
        async with asyncio.timeout(5):
            report = await app.scheduler.tick()
        assert report.lessons_imported == 2
        assert sorted(path for path, _ in server.log) == ["/fast.xml", "/slow.xml"]


async def test_entries_published_while_the_bot_was_stopped_are_posted_after_restart(
    tmp_path: Path, server: FeedServer
) -> None:
    server.feeds["/rss.xml"] = rss(items(1, 2))
    settings, clock = settings_for(tmp_path, f"{COURSE}={server.url('/rss.xml')}"), TestClock(T0)
    first = RecordingBackend()
    async with bot(settings, clock, first) as app:
        await app.scheduler.tick()
    assert first.posts == []
    # While the bot is down, two lessons are published.
    server.feeds["/rss.xml"] = rss(
        [
            Item("urn:lesson:4", "Lesson 4", T0 + timedelta(hours=2)),
            Item("urn:lesson:3", "Lesson 3", T0 + timedelta(hours=1)),
            *items(1, 2),
        ]
    )
    clock.set(T0 + timedelta(hours=5))
    second = RecordingBackend()
    async with bot(settings, clock, second) as app:
        await app.scheduler.tick()
        await app.scheduler.tick()
    assert second.posts == ["Lesson 3", "Lesson 4"]  # oldest first, each once


async def test_a_failing_feed_backs_off_then_recovers(tmp_path: Path, server: FeedServer) -> None:
    server.feeds["/atom.xml"] = atom(items(1))
    server.fail = 2
    clock, backend = TestClock(T0), RecordingBackend()
    async with bot(settings_for(tmp_path, f"{COURSE}={server.url('/atom.xml')}"), clock, backend) as app:
        report = await app.scheduler.tick()
        assert report.errors and "HTTP 500" in report.errors[0]
        state = await app.store.feed_state(COURSE, server.url("/atom.xml"))
        assert state is not None and state.failures == 1 and state.next_attempt_at == T0 + timedelta(minutes=15)
        clock.set(T0 + timedelta(minutes=15))
        await app.scheduler.tick()
        state = await app.store.feed_state(COURSE, server.url("/atom.xml"))
        assert state is not None and state.failures == 2
        assert state.next_attempt_at == T0 + timedelta(minutes=45)  # doubled
        assert state.primed_at is None and state.last_error == "HTTP 500 Internal Server Error"
        clock.set(T0 + timedelta(minutes=30))
        await app.scheduler.tick()
        assert statuses(server) == [500, 500]  # backing off: no request
        clock.set(T0 + timedelta(minutes=45))
        await app.scheduler.tick()
        state = await app.store.feed_state(COURSE, server.url("/atom.xml"))
        assert state is not None and state.failures == 0 and state.last_error is None and state.primed_at is not None
        assert statuses(server) == [500, 500, 200]
        assert [lesson.title for lesson in await app.store.list_lessons(COURSE)] == ["Lesson 1"]
    assert backend.posts == []


async def test_a_malformed_feed_is_a_failure_and_changes_nothing(tmp_path: Path, server: FeedServer) -> None:
    server.feeds["/rss.xml"] = rss(items(1, 2))[:-60]  # cut off mid-document
    clock, backend = TestClock(T0), RecordingBackend()
    async with bot(settings_for(tmp_path, f"{COURSE}={server.url('/rss.xml')}"), clock, backend) as app:
        await app.scheduler.tick()
        state = await app.store.feed_state(COURSE, server.url("/rss.xml"))
        assert state is not None and state.failures == 1 and "not a well-formed" in (state.last_error or "")
        assert await app.store.list_lessons(COURSE) == []


def test_atom_entries_become_lessons_with_id_link_and_time() -> None:
    published = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    body = atom([Item("tag:course.example,2026:lesson-7", "Lesson 7", published, "<p>Hi.</p>", "https://c.example/7")])
    (entry,), notes = parse_feed(body, {}, COURSE)
    assert notes == []
    assert entry.key == "tag:course.example,2026:lesson-7"
    assert entry.draft.title == "Lesson 7" and entry.draft.link == "https://c.example/7"
    assert entry.draft.release_at == published
    assert entry.draft.slug.startswith("lesson-7-")


def test_dedupe_key_is_guid_then_link_and_entries_without_either_are_skipped() -> None:
    body = rss(
        [
            Item("urn:a", "With guid", T0, link="https://c.example/a"),
            Item(None, "Link only", T0, link="https://c.example/b"),
            Item(None, "Nothing", T0),
        ]
    )
    entries, notes = parse_feed(body, {}, COURSE)
    assert [e.key for e in entries] == ["urn:a", "https://c.example/b"]
    assert notes == ["entry 3: no guid, id or link; skipped"]


async def test_hostile_html_in_a_feed_is_sanitised_on_every_path(tmp_path: Path) -> None:
    hostile = (
        '<p onclick="x()">Intro <script>alert(1)</script><a href="javascript:alert(2)">bad</a> '
        '<a href="https://ok.example/">good</a> <b>unclosed <i>tags<p>next</div></div><style>*{}</style>'
        "<img src=x onerror=alert(3)>"
    )
    (entry,), _ = parse_feed(rss([Item("urn:h", "Hostile <b>title</b>", T0, hostile)]), {}, COURSE)
    text = intro_plain_text(entry.draft.intro)
    assert "alert" not in text and "*{}" not in text and "bad" in text and "next" in text
    async with open_app(settings_for(tmp_path, "")) as app:
        await app.store.upsert_course(Course(COURSE, "AI"), T0)
        lesson, _ = await app.store.upsert_lesson(entry.draft, T0)
        content = lesson_content(app.services, "en", lesson)
    html = to_html(content)
    assert "<script" not in html and "javascript:" not in html and "onclick" not in html and "onerror" not in html
    assert '<a href="https://ok.example/">good</a>' in html and "<b>unclosed tags</b>" in html
    assert "alert" not in to_plain_text(content)


def test_backoff_doubles_and_is_capped() -> None:
    interval = timedelta(minutes=15)
    assert [backoff(interval, n) for n in (1, 2, 3)] == [interval, interval * 2, interval * 4]
    assert backoff(interval, 50) == timedelta(hours=6)


def test_feeds_setting_is_validated_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert [f.course for f in parse_feeds('{"ai": ["https://a.example/f", "https://b.example/f"]}')] == ["ai", "ai"]
    monkeypatch.setenv("FEEDS", "ai=ftp://example.com/feed")
    with pytest.raises(SettingsError, match="FEEDS"):
        load_settings(None)
