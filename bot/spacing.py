"""Even spacing of starts, shared by the platforms' pacers: Telegram's overall 30 messages a second
(bot/telegram_backend/ratelimit.py) and Discord's global 50 requests a second (bot/discord_backend/pacing.py)."""

from __future__ import annotations

import asyncio
from collections import deque


class Spacing:
    """At most one start per ``interval``, in the order asked, spaced from the *actual* start before.

    Never from a planned one: when the event loop stalls, the sends that came due meanwhile still go out one
    interval apart after it, instead of all at once to catch up (a burst the server counts as over the limit).
    One ticker task releases the waiters in turn; a caller that finds nobody waiting and the interval over
    starts at once.
    """

    def __init__(self, interval: float, name: str = "pacer") -> None:
        self.interval = interval
        self._name = name
        self._last = float("-inf")
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._ticker: asyncio.Task[None] | None = None

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not self._waiting and now >= self._last + self.interval:
            self._last = now
            return
        turn: asyncio.Future[None] = loop.create_future()
        self._waiting.append(turn)
        if self._ticker is None:
            self._ticker = loop.create_task(self._tick(), name=self._name)
        await turn

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
                self._last = loop.time()
                turn.set_result(None)
        finally:
            self._ticker = None
