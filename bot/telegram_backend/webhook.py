"""Webhook mode: Telegram POSTs each update to TELEGRAM_WEBHOOK_URL, which a proxy passes to TELEGRAM_WEBHOOK_LISTEN.

Several workers (``studybot run`` processes on one database) may serve one URL (issue 13). They listen on the
same address with SO_REUSEPORT, and the kernel spreads Telegram's connections over them. Only processes of the
same user may share the port that way, so another user's program cannot listen in.

Each update is answered 200 only after it is handled, so Telegram redelivers any update whose handling did not
finish. It also redelivers one whose answer came too late, perhaps to another worker. So every update is
recorded by ``update_id`` in the database (:class:`~handlers.ports.backends.UpdateLog`) before it is handled and
marked handled after its effect is committed. A redelivered update that was handled is answered 200 and
dropped. One that another worker began less than :data:`UPDATE_STALE_AFTER` ago is answered 503, so Telegram
tries it again later. After that time its worker is taken to have died, and the update is handled again.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Bot, Update

from handlers.ports import Clock
from handlers.ports.backends import UpdateDelivery, UpdateLog

logger = logging.getLogger(__name__)

# Longer than handling one update takes (a command's replies wait behind the rate limiter at worst for a
# Retry-After or two), so a live worker is not overtaken; the cost is only how late a dead worker's update is
# handled by another.
UPDATE_STALE_AFTER = timedelta(minutes=5)
# Telegram keeps an undelivered update for 24 hours; an update id older than that is never redelivered.
UPDATE_MEMORY = timedelta(hours=25)
PRUNE_EVERY = timedelta(hours=1)


class WebhookServer:
    """The HTTP end of webhook mode: checks the secret, deduplicates by update id, hands updates to ``handle``."""

    def __init__(
        self,
        *,
        url: str,
        secret: str,
        listen: str,
        bot: Bot,
        handle: Callable[[Update], Awaitable[None]],
        clock: Clock,
        log: UpdateLog | None,
    ) -> None:
        self._url, self._secret, self._listen = url, secret, listen
        self._bot, self._handle, self._clock, self._log = bot, handle, clock, log
        self._runner: web.AppRunner | None = None
        self._next_prune: datetime | None = None

    async def start(self) -> None:
        host, _, port = self._listen.rpartition(":")
        app = web.Application()
        app.router.add_post(urlsplit(self._url).path or "/", self._on_webhook)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        # reuse_port: a second worker on this address shares it instead of failing with "address in use".
        await web.TCPSite(self._runner, host or "0.0.0.0", int(port), reuse_port=True).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _on_webhook(self, request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(secret, self._secret):
            return web.Response(status=403, text="wrong secret token")
        try:
            data = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        update = Update.de_json(data, self._bot)
        if update is None:
            return web.Response(status=400, text="not an update")
        if self._log is None:  # no database to share: one process, as before workers
            await self._handle(update)
            return web.Response(text="ok")
        bot_id, now = str(self._bot.id), self._clock.now()
        delivery = await self._log.begin_update(bot_id, update.update_id, now, UPDATE_STALE_AFTER)
        if delivery is UpdateDelivery.HANDLED:
            logger.info("telegram: update %s was delivered again; it was handled already", update.update_id)
            return web.Response(text="ok")
        if delivery is UpdateDelivery.IN_PROGRESS:
            logger.info("telegram: update %s is being handled by another worker; Telegram will retry", update.update_id)
            return web.Response(status=503, text="being handled by another worker")
        await self._handle(update)  # returns once the update's writes are committed
        await self._log.finish_update(bot_id, update.update_id, self._clock.now())
        await self._prune(now)
        return web.Response(text="ok")

    async def _prune(self, now: datetime) -> None:
        """At most once an hour per worker: forget update ids Telegram can no longer redeliver."""
        if self._next_prune is not None and now < self._next_prune:
            return
        assert self._log is not None
        self._next_prune = now + PRUNE_EVERY
        await self._log.forget_updates(now - UPDATE_MEMORY)
