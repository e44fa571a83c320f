"""A lesson broadcast on Telegram: at Telegram's rate and never above it, concurrent, exactly once per group.

The local Bot API server enforces Telegram's published limits (30 messages a second, 20 a minute per group)
and answers 429 above them; it adds a round trip to every call, so sends one after another would show.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bot.app import App
from bot.config import Settings
from handlers.features.lessons import publish_lesson
from handlers.vocabulary.domain import ChatRef, Course, LessonDraft
from tests.clock import TestClock
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.harness import TelegramHarness

COURSE = "ai-systems"


async def following_groups(app: App, tg: FakeTelegram, n: int) -> list[dict[str, Any]]:
    """``n`` supergroups where the bot may post, each set up to follow the course."""
    await app.store.upsert_course(Course(COURSE, "AI"), app.services.clock.now())
    chats = []
    for i in range(n):
        chat = tg.add_chat("supergroup", f"Group {i}")
        tg.set_bot_admin(chat, True)
        await app.store.setup_group(ChatRef("telegram", str(chat["id"])), f"Group {i}", COURSE, "en")
        chats.append(chat)
    return chats


async def test_a_broadcast_to_60_groups_draws_no_429_overlaps_and_reaches_each_once(
    settings: Settings, clock: TestClock, tg: FakeTelegram
) -> None:
    async with TelegramHarness.open(settings, clock, tg) as harness:
        app = harness.app
        chats = await following_groups(app, tg, 60)
        lesson, _ = await app.store.upsert_lesson(LessonDraft(COURSE, "l1", "Lesson 1"), clock.now())
        tg.enable_rate_limits()
        tg.latency = 0.05
        started = time.monotonic()
        assert await publish_lesson(app.services, lesson.id) == 60
        took = time.monotonic() - started
    assert tg.floods == []  # paced under the limits, never answered 429
    assert [len(tg.sent(chat)) for chat in chats] == [1] * 60
    # One at a time, each group costs two round trips (getChat, sendMessage): 60 × 2 × 0.05 = 6 s.
    # Overlapping, the 30 messages a second set the pace: about 2 s.
    assert took < 60 * tg.latency, took
    assert took >= 59 / 30  # never above Telegram's rate
    assert tg.server_errors == []


async def test_retry_after_in_one_group_does_not_stop_the_others(
    settings: Settings, clock: TestClock, tg: FakeTelegram
) -> None:
    async with TelegramHarness.open(settings, clock, tg) as harness:
        app = harness.app
        chats = await following_groups(app, tg, 20)
        lesson, _ = await app.store.upsert_lesson(LessonDraft(COURSE, "l1", "Lesson 1"), clock.now())
        tg.flood("sendMessage", chat_id=chats[0]["id"], times=1, retry_after=3)
        broadcast = asyncio.create_task(publish_lesson(app.services, lesson.id))
        others = chats[1:]
        await tg.wait_for(
            lambda tg: all(len(tg.sent(chat)) == 1 for chat in others), timeout=2, what="the other groups' posts"
        )
        assert tg.sent(chats[0]) == []  # still waiting out its Retry-After
        assert await broadcast == 20
    assert [len(tg.sent(chat)) for chat in chats] == [1] * 20
