"""Messages written while the bot was down are read back from Discord at start (issue 11, item 4).

Each story: the bot runs, stops; people write (and like) while it is down, which Discord keeps but never sends
over the gateway; the bot starts again and must count all of it, once, however often it restarts.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import pytest

from bot.config import Settings
from handlers.vocabulary.domain import LessonDraft
from tests.clock import TestClock
from tests.discord.harness import DiscordHarness
from tests.fakes.discord_api import P_CREATE_PUBLIC_THREADS, P_READ_MESSAGE_HISTORY, FakeChannel

if TYPE_CHECKING:
    from bot.discord_backend.reconcile import ReconcileReport
    from bot.discord_backend.replay import ReplayReport

COURSE = "ai-systems"
LESSON = "Why learn AI systems"


async def ready(h: DiscordHarness) -> None:
    """The course, its lesson 0, #general following it and the lesson posted there."""
    await h.add_course(COURSE, "AI Systems in Practice")
    await h.add_lesson(LessonDraft(COURSE, "intro", LESSON, "Welcome.", "https://example.com/0", 0))
    assert "now follows" in await h.command("anna", f"/setup {COURSE}", admin=True)
    await h.command("anna", "/lesson", admin=True)


async def caught_up(h: DiscordHarness) -> ReconcileReport:
    """Start-up's catch-up report, once it is done (what people see is only then certain)."""
    report = await h.backend.reconciled()
    assert report is not None
    return report


def replay_of(report: ReconcileReport) -> ReplayReport:
    assert report.replayed is not None, report
    return report.replayed


def history_reads(h: DiscordHarness, channel_id: int) -> list[dict[str, str]]:
    """The query of every successful read of a channel's history, in order."""
    path = f"/channels/{channel_id}/messages"
    return [r.query for r in h.dc.requests if r.method == "GET" and r.path == path and r.status == 200]


def thread_of(h: DiscordHarness, channel: FakeChannel) -> FakeChannel:
    [thread] = h.dc.threads(channel)
    return thread


async def test_questions_a_reply_and_likes_given_while_offline_count_after_restart_and_only_once(
    settings: Settings, clock: TestClock
) -> None:
    async with DiscordHarness.server(clock) as h:
        async with h.running(settings):
            await ready(h)
            post = h.lesson_post(LESSON)
            kept = await h.say("alice", "How do I start?", reply_to=post)  # the last message kept before the stop
        gpu = await h.say_offline("bob", "What GPU do I need?", reply_to=post)
        answer = await h.say_offline("carol", "Any card with 24 GB works.", reply_to=gpu)
        # A reply to a reply answers no question: at the top of the lesson's thread, it is a question of its own.
        cuda = await h.say_offline("dave", "Does it have to support CUDA?", reply_to=answer)
        thread = int(post.key)
        h.dc.react_while_offline(thread, int(gpu.key), h.user("erin"), "👍")
        for name in ("bob", "erin"):
            h.dc.react_while_offline(thread, int(cuda.key), h.user(name), "👍")
        h.dc.react_while_offline(thread, int(cuda.key), h.user("dave"), "👍")  # his own: never counts

        async with h.running(settings):
            report = await caught_up(h)
            top = await h.command("erin", "/top")
            assert re.search(r"👍2 💬0 Does it have to support CUDA\?", top), top
            assert re.search(r"👍1 💬1 What GPU do I need\?", top), top
            assert re.search(r"👍0 💬0 How do I start\?", top), top
            assert "24 GB" not in top  # discussion, not a question
            replayed = replay_of(report)
            assert (replayed.messages, replayed.read, replayed.unreadable) == (3, 1, 0)
            assert report.added == 3  # the likes of questions it had never seen, reconciled after the replay
            # From the last message it kept, until a page comes back empty.
            assert [q["after"] for q in history_reads(h, thread)] == [kept.key, cuda.key]
            stats = await h.app.store.stats(COURSE)

        async with h.running(settings):  # again: nothing new, nothing twice
            report = await caught_up(h)
            replayed = replay_of(report)
            assert (replayed.messages, replayed.read) == (0, 1)
            assert (report.added, report.removed) == (0, 0)
            assert [q["after"] for q in history_reads(h, thread)][2:] == [cuda.key]
            assert await h.command("erin", "/top") == top
            assert await h.app.store.stats(COURSE) == stats
        assert (stats.questions, stats.replies, stats.likes) == (3, 1, 3)


async def test_a_long_downtime_is_read_back_page_after_page_oldest_first(settings: Settings, clock: TestClock) -> None:
    """101 missed messages: two pages of history (Discord gives at most 100 at once), and the reply that opens the
    second page answers the question that closes the first, so it is discussion only if the pages go in order."""
    async with DiscordHarness.server(clock) as h:
        async with h.running(settings):
            await ready(h)
            post = h.lesson_post(LESSON)
        questions = [await h.say_offline(f"member-{n % 7}", f"Question {n}?", reply_to=post) for n in range(1, 101)]
        last = questions[-1]
        reply = await h.say_offline("carol", "Same question here.", reply_to=last)
        h.dc.react_while_offline(int(post.key), int(last.key), h.user("erin"), "👍")  # first in /top
        async with h.running(settings):
            report = await caught_up(h)
            stats = await h.app.store.stats(COURSE)
            assert (stats.questions, stats.replies) == (100, 1)
            top = await h.command("erin", "/top 1")
            assert re.search(r"👍1 💬1 Question 100\?", top), top
            reads = [(q["after"], q["limit"]) for q in history_reads(h, int(post.key))]
            assert reads == [(post.key, "100"), (last.key, "100"), (reply.key, "100")]
            assert replay_of(report).messages == 101


async def test_replies_to_a_lesson_posted_without_a_thread_are_read_back_from_its_channel(
    settings: Settings, clock: TestClock
) -> None:
    async with DiscordHarness.server(clock) as h:
        # The bot may not start threads in #general: the lesson is a plain post; replies to it are its questions.
        h.general.overwrites.append({"id": h.dc.bot.id, "type": 1, "allow": 0, "deny": P_CREATE_PUBLIC_THREADS})
        async with h.running(settings):
            await ready(h)
            post = h.lesson_post(LESSON)
            assert h.dc.threads(h.general) == []
        await h.say_offline("bob", "Lunch anyone?")  # the channel's chatter is none of its business
        question = await h.say_offline("carol", "Is there homework?", reply_to=post)
        await h.say_offline("dave", "Yes, every week.", reply_to=question)
        h.dc.react_while_offline(h.general, int(question.key), h.user("erin"), "👍")
        async with h.running(settings):
            report = await caught_up(h)
            top = await h.command("erin", "/top")
            assert re.search(r"👍1 💬1 Is there homework\?", top), top
            assert "Lunch" not in top and "every week" not in top
            replayed = replay_of(report)
            assert (replayed.messages, replayed.read) == (3, 1)
            assert history_reads(h, h.general.id)[0]["after"] == post.key


async def test_a_live_reply_during_the_replay_waits_for_the_question_it_answers(
    settings: Settings, clock: TestClock
) -> None:
    """The replay is held up by a 429; a reply written live meanwhile to a question it has not read back yet
    waits for it, so it counts as that question's discussion (not as a question), once."""
    async with DiscordHarness.server(clock) as h:
        async with h.running(settings):
            await ready(h)
            post = h.lesson_post(LESSON)
        gpu = await h.say_offline("bob", "What GPU do I need?", reply_to=post)
        h.dc.rate_limit(f"GET /channels/{post.key}/messages", retry_after=0.5)
        async with h.running(settings):
            await h.dc.wait_for(lambda: any(r.status == 429 for r in h.dc.requests), timeout=10)
            await h.say("carol", "Any card with 24 GB works.", reply_to=gpu)
            report = await caught_up(h)
            top = await h.command("erin", "/top")
            assert re.search(r"👍0 💬1 What GPU do I need\?", top), top
            assert "24 GB" not in top
            stats = await h.app.store.stats(COURSE)
            assert (stats.questions, stats.replies) == (1, 1)
            assert replay_of(report).messages >= 1  # at least the question; the live reply too if it was read


async def test_a_thread_the_bot_cannot_read_is_logged_and_skipped(
    settings: Settings, clock: TestClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with DiscordHarness.server(clock) as h:
        forum = h.dc.add_channel(h.guild, "lessons", "forum")
        locked = h.dc.add_channel(h.guild, "locked")
        quiet = h.dc.add_channel(h.guild, "quiet")
        async with h.running(settings):
            await ready(h)
            for channel in (forum, locked, quiet):
                await h.command("anna", f"/setup {COURSE}", admin=True, channel=channel.id)
                await h.command("anna", "/lesson", admin=True, channel=channel.id)
        threads = {channel.name: thread_of(h, channel) for channel in (h.general, forum, locked, quiet)}
        for name, thread in threads.items():
            await h.say_offline(f"{name}-member", f"A question from #{name}?", channel=thread.id)
        threads["locked"].history_refused = True  # 403 Missing Access
        # No Read Message History: Discord would answer an empty list, so the bot must see it for itself.
        quiet.overwrites.append({"id": h.dc.bot.id, "type": 1, "allow": 0, "deny": P_READ_MESSAGE_HISTORY})
        with caplog.at_level(logging.INFO):
            async with h.running(settings):
                report = await caught_up(h)
                top = await h.command("erin", "/top")
        assert "from #general" in top and "from #lessons" in top, top
        assert "from #locked" not in top and "from #quiet" not in top, top
        replayed = replay_of(report)
        assert (replayed.messages, replayed.read, replayed.unreadable) == (2, 2, 2)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        for name in ("locked", "quiet"):
            assert any(str(threads[name].id) in w and "cannot read" in w for w in warnings), warnings
        assert "replayed 2 message(s) from 2 thread(s)/channel(s), 2 unreadable" in caplog.text
        assert report.summary() in caplog.text
