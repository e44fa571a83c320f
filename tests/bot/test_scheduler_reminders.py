"""Reminders driven by the scheduler (issue 16): a wake-up sends a due reminder once, and neither the next
wake-up, nor a restarted process, nor a second process on the same database sends it again."""

from __future__ import annotations

from bot.config import Settings
from handlers.vocabulary.domain import Member
from tests.clock import TestClock
from tests.scenarios.harness import ConsoleHarness
from tests.scenarios.notify_stories import COURSE, a_group_with_an_instructor


def bob(platform: str) -> Member:
    return Member(platform, "bob", "bob")


def reminders(h: ConsoleHarness) -> list[str]:
    return [m for m in h.direct_messages("tyler") if "Unanswered for over" in m]


async def test_a_reminder_is_sent_once_across_wake_ups_restarts_and_processes(
    settings: Settings, clock: TestClock
) -> None:
    async with ConsoleHarness.open(settings, clock) as h:
        post = await a_group_with_an_instructor(h)
        await h.command("anna", "/remind 2", admin=True)
        question = await h.say("alice", "How do I profile a training loop?", reply_to=post)
        await h.react("bob", question, "👍")
        clock.advance(days=1)
        await h.app.scheduler.tick()
        assert reminders(h) == []
        clock.advance(days=2)
        report = await h.app.scheduler.tick()
        assert report.leader and not report.errors
        assert len(reminders(h)) == 1
        await h.app.scheduler.tick()
        assert len(reminders(h)) == 1

    clock.advance(minutes=5)  # past the lease of the process that stopped
    async with ConsoleHarness.open(settings, clock) as restarted, ConsoleHarness.open(settings, clock) as other:
        await restarted.app.scheduler.tick()
        await other.app.scheduler.tick()
        clock.advance(days=3)
        await restarted.app.scheduler.tick()
        await other.app.scheduler.tick()
        assert reminders(restarted) == [] and reminders(other) == []
        assert await restarted.app.store.remind_days(COURSE) == 2  # the setting survived the restart

        # Both processes can remind: a new question is reminded once, by whichever holds the lease.
        await restarted.command("carol", "/ask Is the final exam open book?")
        asked = await restarted.app.store.top_questions(COURSE, 5)
        newest = max(asked, key=lambda r: r.question.id).question
        assert newest.ref is not None and "open book" in newest.text
        await restarted.app.store.add_reaction(newest.ref, bob(newest.ref.platform), "👍", clock.now())
        clock.advance(days=3)
        await restarted.app.scheduler.tick()
        await other.app.scheduler.tick()
        sent = reminders(restarted) + reminders(other)
        assert len(sent) == 1 and "open book" in sent[0], sent
