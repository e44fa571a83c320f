"""Composition root: Settings → Store → Services → core → backends.

Everything is created here, inside ``async with``, and passed down; nothing is a module-level singleton.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, TextIO

from bot.backend import Backend
from bot.clock import SystemClock
from bot.config import Settings
from bot.outbox import RoutingOutbox
from handlers.i18n import Translator
from handlers.ports import Clock, Outbox
from handlers.services import Services
from handlers.vocabulary.domain import Course
from storage import AnyStore, open_store

if TYPE_CHECKING:  # imported by open_app: a command that only reads the store (lesson list) skips them
    from bot.scheduler import Scheduler
    from handlers.routing import Dispatcher

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class App:
    store: AnyStore
    services: Services
    dispatcher: Dispatcher
    scheduler: Scheduler


async def ensure_default_course(store: AnyStore, settings: Settings, clock: Clock) -> None:
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
    web: bool = False,
) -> AsyncIterator[App]:
    from bot.charts import ChartDrawer
    from bot.cron import CrontabRules
    from bot.scheduler import Scheduler, default_holder
    from bot.sources.runner import LessonSources
    from handlers.core import build_dispatcher

    store = await open_store(settings.database(), pool_size=settings.database_pool_size)
    # One id per process: its scheduler lease and its lesson-post claims are held under it (issue 13).
    holder = holder or default_holder()
    try:
        clock = clock or SystemClock()
        await ensure_default_course(store, settings, clock)
        i18n = Translator.load(settings.default_language)
        services = Services(
            store=store,
            outbox=RoutingOutbox(backends or {}, ChartDrawer(i18n)),
            clock=clock,
            i18n=i18n,
            cron=CrontabRules(),
            default_course=settings.default_course,
            empty_digest=settings.empty_digest,
            min_digest_interval=timedelta(minutes=settings.min_digest_interval_minutes),
            lesson_posts_per_hour=settings.lesson_posts_per_hour,
            holder=holder,
        )
        sources = LessonSources(
            services,
            store,
            feeds=settings.feed_sources(),
            lessons_dir=settings.lessons_dir,
            default_course=settings.default_course,
            interval=timedelta(minutes=settings.feed_poll_minutes),
            intro_length=settings.intro_length,
        )
        scheduler: Scheduler | None = None

        async def schedule_changed(course_slug: str) -> None:
            if scheduler is not None:
                await scheduler.schedule_changed(course_slug)

        # Handlers tell the scheduler about /schedule; the scheduler hands its duties to the dispatcher.
        services = replace(services, schedule_changed=schedule_changed)
        if web:  # the page runs in this process: /web can hand out its links (issue 17)
            from bot.web.links import SignedWebLinks

            secret = settings.web_secret.get_secret_value() if settings.web_secret else None
            services = replace(services, web_links=SignedWebLinks(store, clock, settings.web_url(), secret))
        dispatcher = build_dispatcher(services)
        # It leads the platforms whose backends run here (issue 13): their sends can only go out from here.
        scheduler = Scheduler(
            services, store, dispatcher.dispatch, holder=holder, sources=sources, platforms=(backends or {}).keys()
        )
        yield App(store, services, dispatcher, scheduler)
    finally:
        await store.close()


async def run_console(
    settings: Settings, source: TextIO, out: TextIO, clock: Clock | None = None, *, web: bool = False
) -> None:
    from bot.console import ConsoleBackend

    clock = clock or SystemClock()
    charts = settings.database_path.resolve().parent / "charts"  # digest charts, beside the database
    console = ConsoleBackend(out, clock, user=settings.console_user, charts_dir=charts)
    backend: Backend = console  # (the contract, checked where the backend is built)
    async with open_app(settings, {backend.platform: backend}, clock, web=web) as app:
        await backend.start(app.dispatcher.dispatch)
        await app.scheduler.start()
        page = None
        try:
            if web:  # the page (issue 17) beside the console; aiohttp.web and Jinja2 only imported here
                from bot.web.server import start_page

                page = await start_page(settings, app)
            await console.run(app.dispatcher.dispatch, source)
        finally:
            if page is not None:
                await page.cleanup()
            await app.scheduler.stop()
            await backend.stop()
