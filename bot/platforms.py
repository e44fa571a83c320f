"""The platforms' side of the composition root: the Telegram and Discord backends built from the settings, and
``studybot run`` with them.

Apart from :mod:`bot.app` so that only the commands that talk to a platform import its library.
"""

from __future__ import annotations

import asyncio
import logging

from bot.app import open_app
from bot.backend import Backend
from bot.clock import SystemClock
from bot.config import Settings
from bot.discord_backend.backend import DiscordBackend, DiscordOptions
from bot.heap import frozen_startup_heap
from bot.telegram_backend.backend import TelegramBackend, TelegramOptions
from handlers.i18n import Translator
from handlers.ports import Clock

logger = logging.getLogger(__name__)


async def run_platforms(settings: Settings, clock: Clock | None = None, *, web: bool = False) -> None:
    """Run every platform whose token is set, in this event loop, until cancelled.

    Cancellation is how it stops (SIGTERM and SIGINT become one, see :mod:`bot.lifecycle`), wherever it is:
    starting, running, or reconnecting. Every backend whose start was begun is stopped, even one cancelled or
    failed half-way, so none leaves a connection or session open; then the database is closed. It also ends
    with :class:`~bot.telegram_backend.backend.PollingConflict` when another process polls with the token.
    """
    i18n = Translator.load(settings.default_language)
    clock = clock or SystemClock()
    backends: dict[str, Backend] = {}
    telegram_backend: TelegramBackend | None = None
    if settings.telegram_bot_token is not None:
        options = TelegramOptions(
            token=settings.telegram_bot_token.get_secret_value(),
            api_base_url=settings.telegram_api_base_url,
            poll_timeout=settings.telegram_poll_timeout,
            webhook_url=settings.telegram_webhook_url,
            webhook_secret=(
                settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else None
            ),
            webhook_listen=settings.telegram_webhook_listen,
        )
        telegram_backend = TelegramBackend(options, i18n, clock)
        telegram: Backend = telegram_backend
        backends[telegram.platform] = telegram
    # discord: same event loop, same core; it also reads the store through narrow ports (autocomplete, catch-up)
    discord_backend = discord_backend_for(settings, i18n, clock)
    if discord_backend is not None:
        backends[discord_backend.platform] = discord_backend
    async with open_app(settings, backends, clock, web=web) as app:
        begun: list[Backend] = []
        page = None
        try:
            if discord_backend is not None:
                discord_backend.use_ports(catalog=app.store, catch_up=app.store)
            if telegram_backend is not None:  # webhook workers share the record of updates handled
                telegram_backend.use_ports(update_log=app.store)
            for backend in backends.values():
                begun.append(backend)
                await backend.start(app.dispatcher.dispatch)
            await app.scheduler.start()
            if web:  # the page (issue 17); aiohttp.web and Jinja2 only imported here
                from bot.web.server import start_page

                page = await start_page(settings, app)
            logger.info("studybot is running on %s", ", ".join(backends) or "the web page")
            with frozen_startup_heap():
                if telegram_backend is not None:
                    await telegram_backend.wait()  # raises PollingConflict if another process polls; else never
                await asyncio.get_running_loop().create_future()  # until cancelled
        finally:
            if page is not None:
                await page.cleanup()
            await app.scheduler.stop()
            for backend in reversed(begun):
                await backend.stop()


def discord_backend_for(settings: Settings, i18n: Translator, clock: Clock) -> DiscordBackend | None:
    """# discord: the backend for DISCORD_BOT_TOKEN, or None when it is not set."""
    if settings.discord_bot_token is None:
        return None
    options = DiscordOptions(
        token=settings.discord_bot_token.get_secret_value(),
        api_base_url=settings.discord_api_base_url,
        shard_count=settings.discord_shard_count,
        shard_ids=settings.discord_shards(),
        reconcile_days=settings.discord_reconcile_days,
        connect_timeout=settings.discord_connect_timeout,
    )
    return DiscordBackend(options, i18n, clock)
