"""The composition of the core: every feature's router in one list, and start-up recovery."""

from __future__ import annotations

import logging

from handlers.features import admin, advice, clusters, digests, follow, help, lessons, likes, questions, reminders, web
from handlers.routing import Dispatcher, Router
from handlers.services import Services

logger = logging.getLogger(__name__)

ROUTERS: tuple[Router, ...] = (
    admin.router,
    lessons.router,
    questions.router,
    clusters.router,
    likes.router,
    digests.router,
    follow.router,
    reminders.router,
    web.router,
    help.router,
    advice.router,
)


def build_dispatcher(services: Services) -> Dispatcher:
    return Dispatcher(services, ROUTERS)


async def recover(services: Services) -> tuple[int, int]:
    """At start-up, finish what a crash or downtime left: pending lesson posts, lessons that came due,
    recorded but unsent digests. Returns (lesson posts made, digests sent)."""
    posts = await lessons.resume_pending_posts(services)
    posts += await lessons.publish_due_lessons(services)
    sent = await digests.resume_unsent_digests(services)
    if posts or sent:
        logger.info("recovered %d lesson posts and %d digests", posts, sent)
    return posts, sent
