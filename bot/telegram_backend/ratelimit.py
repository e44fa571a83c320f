"""Telegram's sending limits, kept by pacing instead of by answering 429s.

Why not python-telegram-bot's AIORateLimiter: its overall limiter is a leaky bucket that lets a full bucket
(30) through at once and then 30 a second, so a broadcast's first second carries about 60 messages and
Telegram answers 429; and on a Retry-After for any one chat it pauses *every* request of the bot, so one group
under flood control stalls the broadcast to all the others.

This limiter spaces messages evenly (slightly under 30 a second, so the server's one-second windows never see
a 31st), keeps each group to 20 messages in any minute, and on a Retry-After makes only that chat wait.
Only methods that post a message are paced: Telegram's limits count messages, and pacing the ``getChat`` that
precedes a lesson post would halve a broadcast's rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.spacing import Spacing

logger = logging.getLogger(__name__)

JSONDict = dict[str, Any]
Result = bool | JSONDict | list[JSONDict]

OVERALL_PER_SECOND = 30
GROUP_PER_MINUTE = 20
# Headroom for the time between our start of a request and the server counting it, which varies by a few ms.
MARGIN = 0.05


def posts_a_message(endpoint: str) -> bool:
    return (
        endpoint.startswith(("send", "copyMessage", "forwardMessage")) and endpoint != "sendChatAction"
    ) or endpoint == "createForumTopic"  # a topic starts with a service message in the group


class _Window:
    """At most ``limit`` starts in any ``span`` seconds (a log of the last ``limit`` reserved start times)."""

    def __init__(self, limit: int, span: float) -> None:
        self.limit, self.span = limit, span
        self._starts: deque[float] = deque(maxlen=limit)

    def idle(self, now: float) -> bool:
        return not self._starts or self._starts[-1] <= now - self.span

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = now if len(self._starts) < self.limit else max(now, self._starts[0] + self.span)
        self._starts.append(slot)
        if slot > now:
            await asyncio.sleep(slot - now)


class TelegramRateLimiter(BaseRateLimiter[int]):
    """python-telegram-bot's rate limiter interface; ``rate_limit_args`` is a request's retry count."""

    def __init__(
        self,
        *,
        overall_per_second: int = OVERALL_PER_SECOND,
        group_per_minute: int = GROUP_PER_MINUTE,
        max_retries: int = 5,
        margin: float = MARGIN,
    ) -> None:
        self._overall = Spacing((1.0 + margin) / overall_per_second, name="telegram-overall-pacer")
        self._group_per_minute, self._group_span = group_per_minute, 60.0 * (1.0 + margin)
        self._groups: dict[int | str, _Window] = {}
        self._blocked_until: dict[int | str, float] = {}
        self._max_retries = max_retries

    async def initialize(self) -> None:
        """Nothing to open: the limiter is plain state."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def _group(self, chat: int | str) -> _Window:
        window = self._groups.get(chat)
        if window is None:
            if len(self._groups) > 4 * self._group_per_minute * 60:  # forget groups idle for a minute
                now = asyncio.get_running_loop().time()
                self._groups = {k: w for k, w in self._groups.items() if not w.idle(now)}
            window = self._groups[chat] = _Window(self._group_per_minute, self._group_span)
        return window

    async def _wait_out_retry_after(self, chat: int | str | None) -> None:
        if chat is None:
            return
        until = self._blocked_until.get(chat)
        if until is None:
            return
        delay = until - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            self._blocked_until.pop(chat, None)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Result:
        """Pace ``endpoint`` if it posts a message, call it, and retry it alone after a Retry-After."""
        max_retries = self._max_retries if rate_limit_args is None else rate_limit_args
        chat: int | str | None = data.get("chat_id")
        with contextlib.suppress(ValueError, TypeError):
            chat = int(chat)  # type: ignore[arg-type]
        is_group = (isinstance(chat, int) and chat < 0) or isinstance(chat, str)  # as Telegram's ids go
        paced = chat is not None and posts_a_message(endpoint)
        for attempt in range(max_retries + 1):
            await self._wait_out_retry_after(chat)
            if paced:
                if is_group:
                    assert chat is not None
                    await self._group(chat).wait()
                await self._overall.wait()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                if attempt == max_retries:
                    raise
                delay = error.retry_after
                seconds = delay if isinstance(delay, int | float) else delay.total_seconds()
                logger.info("telegram: %s in chat %s hit flood control; retrying in %.1f s", endpoint, chat, seconds)
                if chat is None:
                    await asyncio.sleep(seconds + 0.1)
                else:
                    until = asyncio.get_running_loop().time() + seconds + 0.1
                    self._blocked_until[chat] = max(until, self._blocked_until.get(chat, 0.0))
        raise AssertionError("unreachable")
