"""Questions asked while the bot was down reach a digest, exactly once (issue 11).

Telegram keeps a bot's updates while it is down; a restarted bot reads that backlog some moments after start,
and the catch-up digest for the missed run time may be recorded before it (at the first tick, or by
``studybot digest --send`` in another process). A question dated inside the caught-up period must then be in
the next digest, not in none.
"""

from __future__ import annotations

from datetime import timedelta

from bot.app import open_app
from bot.config import Settings
from handlers.features.digest_schedule import next_digest_time
from handlers.features.digests import record_period
from tests.clock import TestClock
from tests.fakes.telegram_api import FakeTelegram
from tests.scenarios.stories import COURSE, prepare_course
from tests.telegram.harness import TelegramHarness

LIVE = "What is asked while the bot runs?"
MISSED = "Why was this asked while the bot was down?"
LATER = "How is this asked after the restart?"


def appearances(text: str, digests: list[str]) -> list[int]:
    """Which digests (by position) list ``text`` among their period's questions (an unanswered question of an
    earlier period is named again under "Still open", issue 16: that is not its period)."""
    return [n for n, digest in enumerate(digests) if text in digest.split("Still open")[0]]


async def test_questions_and_likes_given_while_the_bot_was_down_reach_exactly_one_digest(
    settings: Settings, clock: TestClock, tg: FakeTelegram
) -> None:
    async with TelegramHarness.open(settings, clock, tg) as first:
        await prepare_course(first)
        await first.command("anna", f"/setup {COURSE}", admin=True)
        await first.command("tyler", "/instructor", admin=True)
        post = first.lesson_post("Why learn AI systems")
        await first.say("alice", LIVE, reply_to=post)
        await first.say("bob", "I will ask later.", reply_to=post)
        await first.say("carol", "Me too.", reply_to=post)
        course = await first.app.store.get_course(COURSE)
        assert course is not None
        due = await next_digest_time(first.app.services, course, clock.now())
        assert due is not None

    # The bot is down: Telegram keeps what happens meanwhile, dated before the digest's run time.
    clock.set(due - timedelta(minutes=30))
    missed = tg.user_sends(first.chat, first.user("bob"), MISSED, reply_to=int(post.key))
    tg.user_reacts(first.chat, missed["message_id"], first.user("carol"), new=["👍"], old=[])
    clock.set(due + timedelta(hours=2))
    assert tg.pending_updates() == 2

    # The catch-up digest is recorded before the backlog is read, as `studybot digest --send` does it (and as
    # the first tick of a restarted bot may); the restarted bot delivers it, then reads the backlog.
    async with open_app(settings, {}, clock) as elsewhere:
        assert await record_period(elsewhere.services, COURSE, due) is not None
    async with TelegramHarness.open(settings, clock, tg, restart_of=first) as second:
        await second.settle()
        await second.say("alice", LATER, reply_to=post)
        top = await second.command("dora", "/top")
        [missed_line] = [line for line in top.splitlines() if MISSED in line]
        assert "👍1" in missed_line

        clock.advance(days=7)  # past the next run time
        await second.app.scheduler.tick()
        await second.app.scheduler.tick()  # a second tick sends nothing again
        digests = second.direct_messages("tyler")

    assert len(digests) == 2, digests
    assert appearances(LIVE, digests) == [0]
    assert appearances(MISSED, digests) == [1]
    assert appearances(LATER, digests) == [1]
    assert "2 questions" in digests[1] and "1 like" in digests[1]
