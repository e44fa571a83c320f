"""When a course's digest is due: its crontab schedule against the periods already recorded.

Kept apart from :mod:`handlers.features.digests` (what a digest says and how it is sent): the scheduler asks
this module what is due and hands each due digest to the core as a ``DigestDue`` event.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from handlers.services import Services
from handlers.vocabulary.domain import Course
from handlers.vocabulary.events import EVERY_PLATFORM, DigestDue, Leading

logger = logging.getLogger(__name__)

# The newest run time is looked for within this window at most, so that a schedule firing every minute and a
# bot that was down for years cannot make start-up walk millions of run times. Older gaps still land in the
# one catch-up digest, because its period starts at the last recorded end whatever this window is.
CATCH_UP_WINDOW = timedelta(days=400)


async def due_period_end(services: Services, course: Course, now: datetime) -> datetime | None:
    """The latest scheduled time at or before ``now`` that no recorded period covers yet, or None.

    Several missed run times give one period: the catch-up after downtime is a single digest.
    """
    anchor = await services.store.last_digest_end(course.slug) or course.created_at
    if anchor is None:
        return None
    anchor = max(anchor, now - CATCH_UP_WINDOW)
    latest: datetime | None = None
    after = anchor
    while True:
        runs = services.cron.next_runs(course.digest_cron, course.timezone, after, 64)
        for run in runs:
            if run > now:
                return latest
            latest = run
        after = runs[-1]


async def next_digest_time(services: Services, course: Course, now: datetime) -> datetime | None:
    """When this course's next digest falls due (now or earlier when one is overdue)."""
    anchor = await services.store.last_digest_end(course.slug) or course.created_at or now
    try:
        return services.cron.next_runs(course.digest_cron, course.timezone, max(anchor, now - CATCH_UP_WINDOW), 1)[0]
    except ValueError:
        logger.exception("course %s has an unusable schedule %r", course.slug, course.digest_cron)
        return None


async def due_digests(services: Services, leading: Leading = EVERY_PLATFORM) -> list[DigestDue]:
    """Every course whose digest period has ended and is not recorded yet; a course with an unusable schedule
    is logged and skipped, and does not hold the others back. ``leading``: whom the sends are for."""
    due, now = [], services.clock.now()
    for course in await services.store.list_courses():
        try:
            end = await due_period_end(services, course, now)
        except ValueError:
            logger.exception("course %s has an unusable schedule %r", course.slug, course.digest_cron)
            continue
        if end is not None:
            due.append(DigestDue(course.slug, end, leading))
    return due
