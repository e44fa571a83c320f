"""Even spacing of starts, shared by the platforms' pacers: Telegram's overall 30 messages a second
(bot/telegram_backend/ratelimit.py) and Discord's global 50 requests a second (bot/discord_backend/pacing.py)."""

from __future__ import annotations

import asyncio
from collections import deque


class Spacing:
    """At most one start per ``interval`` on average, in the order asked: starts are planned ``interval`` apart,
    and a start is never earlier than its plan.

    Planned, not spaced from the actual start before: each wake-up of the event loop comes a little late (the
    selector's timeout is rounded up to the millisecond, then the loop finishes what it is running), and
    spacing from the late start adds that lateness to every interval: 1-3 % of the rate lost on Telegram's
    35 ms. But a start that is late by more than ``slack`` (half an interval) moves the plan: when the loop
    stalls, the sends that came due meanwhile do not all go out at once to catch up (a burst the server would
    count as over the limit): the first goes at once and the rest one interval apart after it. So a start is
    never more than ``slack`` after its plan, and in any span of time the starts number at most
    (span + slack) / interval + 1: with the callers' margins, Telegram's 30 in a second still leave 32 ms for
    the network to bunch arrivals (50 ms before), Discord's 50 in a second 30 ms.

    One ticker task releases the waiters in turn; a caller that finds nobody waiting and its slot come starts
    at once.
    """

    def __init__(self, interval: float, name: str = "pacer") -> None:
        self.interval = interval
        self.slack = interval / 2
        self._name = name
        self._last = float("-inf")  # the planned time of the last start
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._ticker: asyncio.Task[None] | None = None

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not self._waiting and now >= self._last + self.interval:
            self._started(now)
            return
        turn: asyncio.Future[None] = loop.create_future()
        self._waiting.append(turn)
        if self._ticker is None:
            self._ticker = loop.create_task(self._tick(), name=self._name)
        await turn

    def _started(self, now: float) -> None:
        """A start at ``now``: its plan stays one interval after the last one's unless it is more than ``slack``
        late (a stall, or the first start after an idle spell), when the plan moves to ``now``."""
        planned = self._last + self.interval
        self._last = planned if now - planned <= self.slack else now

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                delay = self._last + self.interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                turn = self._waiting.popleft()
                if turn.done():  # cancelled meanwhile: the slot goes to the next
                    continue
                self._started(loop.time())
                turn.set_result(None)
        finally:
            self._ticker = None
