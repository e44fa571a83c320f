"""A lesson broadcast on Discord: at Discord's global rate and never above it, exactly once per channel.

The local Discord server enforces the global limit (50 requests a second, a 429 with ``"global": true``
above it) and each route's bucket, and adds a round trip to every call. discord.py keeps the buckets and waits
out a route's 429 alone; the global limit is ours to keep ahead (bot/discord_backend/pacing.py).
"""

from __future__ import annotations

import asyncio
import itertools
import time

from bot.config import Settings
from bot.discord_backend.pacing import GlobalPacer, is_paced
from handlers.features.lessons import publish_lesson
from handlers.vocabulary.domain import ChatRef, Course, LessonDraft
from tests.clock import TestClock
from tests.discord.harness import DiscordHarness
from tests.fakes.discord_api import FakeChannel

COURSE = "ai-systems"


async def following_channels(harness: DiscordHarness, n: int) -> list[FakeChannel]:
    """``n`` text channels of the harness's guild; set up to follow the course once the bot runs."""
    return [harness.dc.add_channel(harness.guild, f"study-{i}") for i in range(n)]


async def follow(harness: DiscordHarness, channels: list[FakeChannel]) -> int:
    """Every channel follows the course; the id of a one-lesson draft published next."""
    app = harness.app
    await app.store.upsert_course(Course(COURSE, "AI"), harness.clock.now())
    for channel in channels:
        await app.store.setup_group(ChatRef("discord", str(channel.id)), channel.name, COURSE, "en")
    lesson, _ = await app.store.upsert_lesson(LessonDraft(COURSE, "l1", "Lesson 1"), harness.clock.now())
    return lesson.id


async def test_a_broadcast_to_150_channels_draws_no_429_and_reaches_each_once(
    settings: Settings, clock: TestClock
) -> None:
    async with DiscordHarness.server(clock) as harness:
        channels = await following_channels(harness, 150)
        async with harness.running(settings):
            dc = harness.dc
            lesson_id = await follow(harness, channels)
            dc.enable_global_limit()
            dc.latency = 0.05
            before = len(dc.requests)
            started = time.monotonic()
            assert await publish_lesson(harness.app.services, lesson_id) == 150
            took = time.monotonic() - started
            requests = len(dc.requests) - before
    assert dc.rate_limited == []  # paced under the global limit, never answered 429
    assert [len(dc.sent_by_bot(channel)) for channel in channels] == [1] * 150
    # Each channel: the lesson's message and its thread. One after another that is 150 × 2 × 0.05 = 15 s;
    # overlapping, the 50 requests a second set the pace: about 6 s, and never less.
    assert requests >= 300
    assert took >= (requests - 1) / 50, (took, requests)
    assert took < 150 * 2 * dc.latency, took


async def test_retry_after_on_one_route_slows_that_route_only(settings: Settings, clock: TestClock) -> None:
    async with DiscordHarness.server(clock) as harness:
        channels = await following_channels(harness, 20)
        async with harness.running(settings):
            dc = harness.dc
            lesson_id = await follow(harness, channels)
            dc.enable_global_limit()
            first = channels[0]
            dc.rate_limit(f"POST /channels/{first.id}/messages", times=1, retry_after=3.0)
            broadcast = asyncio.create_task(publish_lesson(harness.app.services, lesson_id))
            others = channels[1:]
            await dc.wait_for(
                lambda: all(len(dc.sent_by_bot(channel)) == 1 for channel in others),
                timeout=2.5,
                what="the other channels' lessons",
            )
            assert dc.sent_by_bot(first) == []  # still waiting out its Retry-After
            assert await broadcast == 20
    assert [len(dc.sent_by_bot(channel)) for channel in channels] == [1] * 20
    assert [(hit.source, hit.is_global) for hit in dc.rate_limited] == [("injected", False)]


def test_the_global_limit_paces_rest_requests_only() -> None:
    """Discord exempts interaction callbacks and webhook-token routes from the global limit, and the gateway's
    websocket is not a REST request: slash-command answers never queue behind a broadcast."""
    assert is_paced("/api/v10/channels/1/messages", None)
    assert is_paced("/api/v10/gateway/bot", None)
    assert not is_paced("/api/v10/interactions/1/token/callback", None)
    assert not is_paced("/api/v10/webhooks/1/token/messages/@original", None)
    assert not is_paced("/", "websocket")


async def test_the_pacer_spaces_requests_from_the_first_one_on() -> None:
    """No burst at start: request n starts n intervals after the first, never sooner."""
    pacer = GlobalPacer(per_second=50, margin=0.08)
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def one() -> None:
        await pacer.wait()
        starts.append(loop.time())

    await asyncio.gather(*(one() for _ in range(10)))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # A start may be up to ``slack`` late on its plan, and the next then on time (bot/spacing.py).
    assert all(gap >= pacer.interval - pacer.slack - 0.002 for gap in gaps), gaps  # (the clock's granularity aside)
    assert starts[-1] - starts[0] >= 9 * pacer.interval - pacer.slack
