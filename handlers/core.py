"""The composition of the core: every feature's router in one list, and start-up recovery."""

from __future__ import annotations

import logging

from handlers import admin, digests, help, lessons, likes, questions
from handlers.routing import Dispatcher, Router
from handlers.services import Services

logger = logging.getLogger(__name__)

ROUTERS: tuple[Router, ...] = (
    admin.router,
    lessons.router,
    questions.router,
    likes.router,
    digests.router,
    help.router,
)


def build_dispatcher(services: Services) -> Dispatcher:
    return Dispatcher(services, ROUTERS)


async def recover(services: Services) -> tuple[int, int]:
    """Finish what a crash interrupted: pending lesson posts, recorded but unsent digests."""
    posts = await lessons.resume_pending_posts(services)
    sent = await digests.resume_unsent_digests(services)
    if posts or sent:
        logger.info("recovered %d lesson posts and %d digests", posts, sent)
    return posts, sent
