"""Reaction intake: what one turn of the event loop brings travels as one burst, in order, and stop waits for it;
what must wait runs in order, and what comes after it queues behind it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest

from bot.discord_backend.intake import InOrder, ReactionLots
from handlers.vocabulary.domain import Member, MessageRef
from handlers.vocabulary.events import Event, ReactionBurst
from tests.clock import TestClock

REF = MessageRef("discord", "1", "2", "3")


def add(lots: ReactionLots, user: int, added: bool = True) -> None:
    lots.add(REF, Member("discord", str(user), f"u{user}"), "👍", added)


async def test_a_turn_of_the_loop_is_one_lot_and_lots_keep_their_order() -> None:
    bursts: list[list[str]] = []
    release = asyncio.Event()

    async def dispatch(event: Event) -> None:
        assert isinstance(event, ReactionBurst)
        bursts.append([c.member.user_id + ("+" if c.added else "-") for c in event.changes])
        await release.wait()  # the commit is slow: the next lot does not wait for it

    handled: list[list[str]] = []
    lots = ReactionLots(dispatch, TestClock(), lambda lot: handled.append([c.member.user_id for c in lot]))
    for user in (1, 2):
        add(lots, user)
    await asyncio.sleep(0)  # the first lot is dispatched
    add(lots, 1, added=False)
    add(lots, 3)
    await asyncio.sleep(0)
    assert bursts == [["1+", "2+"], ["1-", "3+"]]
    assert handled == []  # nothing is reported handled before its lot returns
    release.set()
    await lots.drain()
    assert handled == [["1", "2"], ["1", "3"]]  # reported once per lot, not reaction by reaction


async def test_a_lot_is_stamped_once_when_it_begins_and_the_next_lot_reads_the_clock_again() -> None:
    """One time for every reaction of a lot, so the store keeps a post's likes of a lot as one group."""
    clock = TestClock()
    times: list[list[datetime]] = []

    async def dispatch(event: Event) -> None:
        assert isinstance(event, ReactionBurst)
        times.append([c.at for c in event.changes])

    lots = ReactionLots(dispatch, clock)
    began = clock.now()
    add(lots, 1)
    clock.advance(seconds=0.2)  # the turn goes on: later reactions of it keep the lot's time
    add(lots, 2)
    await asyncio.sleep(0)
    add(lots, 3)
    await lots.drain()
    assert times == [[began, began], [began + timedelta(seconds=0.2)]]


async def test_a_failed_lot_is_logged_reported_and_the_next_lot_still_goes(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[int] = []

    async def dispatch(event: Event) -> None:
        assert isinstance(event, ReactionBurst)
        seen.append(len(event.changes))
        if len(seen) == 1:
            raise RuntimeError("the store is gone")

    handled: list[str] = []
    lots = ReactionLots(dispatch, TestClock(), lambda lot: handled.extend(c.member.user_id for c in lot))
    add(lots, 1)
    await asyncio.sleep(0)
    add(lots, 2)
    await lots.drain()
    assert seen == [1, 1] and handled == ["1", "2"]  # a failed lot is reported handled too (its failure logged)
    assert "a lot of 1 reactions could not be handled" in caplog.text
    assert (lots.failed_lots, lots.failed_reactions) == (1, 1)  # counted: the benchmark's rounds fail on it


async def test_drain_waits_for_a_lot_queued_just_before_stop() -> None:
    committed: list[int] = []

    async def dispatch(event: Event) -> None:
        assert isinstance(event, ReactionBurst)
        await asyncio.sleep(0.01)
        committed.extend(int(c.member.user_id) for c in event.changes)

    lots = ReactionLots(dispatch, TestClock())
    add(lots, 7)
    await lots.drain()  # nothing was dispatched yet when drain began
    assert committed == [7]


async def test_steps_that_wait_run_in_order_and_keep_the_intake_busy_until_done(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []
    lookup = asyncio.Event()
    in_order = InOrder()
    assert in_order.idle

    def step(name: str, *, wait: bool = False, fail: bool = False) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if wait:
                await lookup.wait()
            if fail:
                raise RuntimeError("no such channel")
            ran.append(name)

        return run

    in_order.later(step("lookup", wait=True))
    in_order.later(step("broken", fail=True))
    in_order.later(step("after"))
    await asyncio.sleep(0.01)
    assert ran == [] and not in_order.idle  # a caller must queue behind the lookup, not overtake it
    lookup.set()
    await in_order.drain()
    assert ran == ["lookup", "after"] and in_order.idle
    assert "a reaction event could not be handled" in caplog.text
    assert in_order.failed == 1
