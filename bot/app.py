"""Composition root: Settings → Store → Services → core → backends.

Everything is created here, inside ``async with``, and passed down; nothing is a module-level singleton.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Protocol, TextIO

from bot.clock import SystemClock
from bot.config import Settings
from bot.console import ConsoleBackend
from bot.cron import CrontabRules
from bot.discord_backend.backend import DiscordBackend, DiscordOptions
from bot.heap import frozen_startup_heap
from bot.outbox import RoutingOutbox
from bot.scheduler import Scheduler
from bot.sources.runner import LessonSources
from bot.telegram_backend.backend import TelegramBackend, TelegramOptions
from handlers.core import build_dispatcher
from handlers.domain import Course
from handlers.events import Event
from handlers.i18n import Translator
from handlers.ports import Clock, Outbox
from handlers.routing import Dispatcher
from handlers.services import Services
from storage import SqliteStore

logger = logging.getLogger(__name__)


class PlatformBackend(Outbox, Protocol):
    """A platform connection: an Outbox for the core, and a source of events while started."""

    platform: str

    async def start(self, dispatch: Callable[[Event], Awaitable[None]]) -> None: ...
    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class App:
    store: SqliteStore
    services: Services
    dispatcher: Dispatcher
    scheduler: Scheduler


async def ensure_default_course(store: SqliteStore, settings: Settings, clock: Clock) -> None:
    """DEFAULT_COURSE exists from the first start, so /setup has something to follow."""
    slug = settings.default_course
    if slug and await store.get_course(slug) is None:
        await store.upsert_course(Course(slug=slug, title=slug, language=settings.default_language), clock.now())
        logger.info("created course %s from DEFAULT_COURSE", slug)


@contextlib.asynccontextmanager
async def open_app(
    settings: Settings,
    backends: Mapping[str, Outbox] | None = None,
    clock: Clock | None = None,
    *,
    holder: str | None = None,
) -> AsyncIterator[App]:
    store = await SqliteStore.open(settings.database_path)
    try:
        clock = clock or SystemClock()
        await ensure_default_course(store, settings, clock)
        services = Services(
            store=store,
            outbox=RoutingOutbox(backends or {}),
            clock=clock,
            i18n=Translator.load(settings.default_language),
            cron=CrontabRules(),
            default_course=settings.default_course,
            empty_digest=settings.empty_digest,
            min_digest_interval=timedelta(minutes=settings.min_digest_interval_minutes),
            lesson_posts_per_hour=settings.lesson_posts_per_hour,
        )
        sources = LessonSources(
            services,
            feeds=settings.feed_sources(),
            lessons_dir=settings.lessons_dir,
            default_course=settings.default_course,
            interval=timedelta(minutes=settings.feed_poll_minutes),
            intro_length=settings.intro_length,
        )
        scheduler = Scheduler(services, holder=holder, sources=sources)
        # The scheduler is built first, so the services handed to handlers can tell it about /schedule.
        services = replace(services, schedule_changed=scheduler.schedule_changed)
        yield App(store, services, build_dispatcher(services), scheduler)
    finally:
        await store.close()


async def run_platforms(settings: Settings, clock: Clock | None = None) -> None:
    """Run every platform whose token is set, in this event loop, until cancelled.

    Cancellation is how it stops (SIGTERM and SIGINT become one, see :mod:`bot.lifecycle`), wherever it is:
    starting, running, or reconnecting. Every backend whose start was begun is stopped, even one cancelled or
    failed half-way, so none leaves a connection or session open; then the database is closed.
    """
    i18n = Translator.load(settings.default_language)
    backends: dict[str, PlatformBackend] = {}
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
        backends[TelegramBackend.platform] = TelegramBackend(options, i18n)
    # discord: same event loop, same core; it also reads the store (autocomplete, catch-up of likes)
    discord_backend = discord_backend_for(settings, i18n)
    if discord_backend is not None:
        backends[discord_backend.platform] = discord_backend
    async with open_app(settings, backends, clock) as app:
        begun: list[PlatformBackend] = []
        try:
            if discord_backend is not None:
                discord_backend.use_services(app.services)
            for backend in backends.values():
                begun.append(backend)
                await backend.start(app.dispatcher.dispatch)
            await app.scheduler.start()
            logger.info("studybot is running on %s", ", ".join(backends))
            with frozen_startup_heap():
                await asyncio.get_running_loop().create_future()  # until cancelled
        finally:
            await app.scheduler.stop()
            for backend in reversed(begun):
                await backend.stop()


def discord_backend_for(settings: Settings, i18n: Translator) -> DiscordBackend | None:
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
    return DiscordBackend(options, i18n)


async def run_console(settings: Settings, source: TextIO, out: TextIO, clock: Clock | None = None) -> None:
    clock = clock or SystemClock()
    console = ConsoleBackend(out, clock, user=settings.console_user)
    async with open_app(settings, {console.platform: console}, clock) as app:
        await app.scheduler.start()
        try:
            await console.run(app.dispatcher.dispatch, source)
        finally:
            await app.scheduler.stop()
