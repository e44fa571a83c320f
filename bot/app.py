"""Composition root: Settings → Store → Services → core → backends.

Everything is created here, inside ``async with``, and passed down; nothing is a module-level singleton.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TextIO

from bot.clock import SystemClock
from bot.config import Settings
from bot.console import ConsoleBackend
from bot.cron import CrontabRules
from bot.outbox import RoutingOutbox
from handlers.core import build_dispatcher, recover
from handlers.domain import Course
from handlers.i18n import Translator
from handlers.lessons import publish_due_lessons
from handlers.ports import Clock, Outbox
from handlers.routing import Dispatcher
from handlers.services import Services
from storage import SqliteStore

logger = logging.getLogger(__name__)

LESSON_POLL_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class App:
    store: SqliteStore
    services: Services
    dispatcher: Dispatcher


async def ensure_default_course(store: SqliteStore, settings: Settings) -> None:
    """DEFAULT_COURSE exists from the first start, so /setup has something to follow."""
    slug = settings.default_course
    if slug and await store.get_course(slug) is None:
        await store.upsert_course(Course(slug=slug, title=slug, language=settings.default_language))
        logger.info("created course %s from DEFAULT_COURSE", slug)


@contextlib.asynccontextmanager
async def open_app(
    settings: Settings, backends: Mapping[str, Outbox] | None = None, clock: Clock | None = None
) -> AsyncIterator[App]:
    store = await SqliteStore.open(settings.database_path)
    try:
        await ensure_default_course(store, settings)
        services = Services(
            store=store,
            outbox=RoutingOutbox(backends or {}),
            clock=clock or SystemClock(),
            i18n=Translator.load(settings.default_language),
            cron=CrontabRules(),
            default_course=settings.default_course,
        )
        yield App(store, services, build_dispatcher(services))
    finally:
        await store.close()


async def release_lessons_forever(services: Services, interval: float) -> None:
    """Until the scheduler takes this over: publish lessons as they come due or are imported."""
    while True:
        await asyncio.sleep(interval)
        try:
            await publish_due_lessons(services)
        except Exception:
            logger.exception("publishing due lessons failed; retrying in %.0f s", interval)


async def run_console(settings: Settings, source: TextIO, out: TextIO, clock: Clock | None = None) -> None:
    clock = clock or SystemClock()
    console = ConsoleBackend(out, clock, user=settings.console_user)
    async with open_app(settings, {console.platform: console}, clock) as app:
        await recover(app.services)
        releases = asyncio.create_task(release_lessons_forever(app.services, LESSON_POLL_SECONDS))
        try:
            await console.run(app.dispatcher.dispatch, source)
        finally:
            releases.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await releases
