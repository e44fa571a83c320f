"""The scheduler lease changing hands between two processes on one database (issue 13): a cleanly stopped
holder releases it, so the other takes over at its next tick; a crashed one never releases it, so the other
takes over once the lease's TTL has passed, and not before."""

from __future__ import annotations

from datetime import timedelta

from bot.config import Settings
from tests.bot.test_scheduler import RecordingBackend, berlin, db, make_course, running
from tests.clock import TestClock

__all__ = ["db"]  # the database fixture, shared with the scheduler's other tests


async def test_a_cleanly_stopped_holder_hands_the_lease_over_at_the_next_tick(db: Settings) -> None:
    clock = TestClock(berlin(2026, 11, 16, 8, 0))
    one, two = RecordingBackend(), RecordingBackend()
    async with running(db, clock, one, holder="one") as a, running(db, clock, two, holder="two") as b:
        await make_course(a, clock)
        assert (await a.scheduler.tick()).leader
        assert (await b.scheduler.tick()).leader is False
        await a.scheduler.stop()  # SIGTERM: what `studybot run` does on the way out
        assert (await a.scheduler.tick()).leader is False  # a late tick of the stopping process takes nothing back
        clock.set(berlin(2026, 11, 16, 9, 0, 5))  # a few seconds later, the digest is due
        report = await b.scheduler.tick()
        assert report.leader and report.digests == 1  # well within the lease's TTL
    assert len(one.dms) == 0 and len(two.dms) == 1


async def test_a_crashed_holder_is_replaced_after_the_ttl_and_not_before(db: Settings) -> None:
    clock = TestClock(berlin(2026, 11, 16, 8, 0))
    one, two = RecordingBackend(), RecordingBackend()
    async with running(db, clock, two, holder="two") as b:
        async with running(db, clock, one, holder="one") as a:
            await make_course(a, clock)
            assert (await a.scheduler.tick()).leader
            ttl = a.scheduler.lease_ttl
        # "one" is gone without releasing its lease (kill -9: its scheduler never stopped).
        clock.advance(seconds=(ttl - timedelta(seconds=1)).total_seconds())
        assert (await b.scheduler.tick()).leader is False
        clock.advance(seconds=1)
        assert (await b.scheduler.tick()).leader
