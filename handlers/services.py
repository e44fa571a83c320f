"""What every handler is given: the ports and the few settings the core needs, passed in, never global."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from handlers.i18n import Translator
from handlers.ports import Clock, CronRules, Outbox, Store
from handlers.ports.web import WebLinks

ScheduleListener = Callable[[str], Awaitable[None]]
EMPTY_SKIP, EMPTY_NOTE = "skip", "note"


async def _no_listener(course_slug: str) -> None:
    """Default for deployments without a scheduler (tests, one-shot CLI commands)."""


@dataclass(frozen=True, slots=True)
class Services:
    store: Store
    outbox: Outbox
    clock: Clock
    i18n: Translator
    cron: CronRules
    default_course: str | None = None
    # What an empty digest period gives the instructors: nothing ("skip") or a short note ("note").
    empty_digest: str = EMPTY_NOTE
    # The shortest time /schedule allows between two digests of a course (MIN_DIGEST_INTERVAL_MINUTES).
    min_digest_interval: timedelta = timedelta(minutes=60)
    # How many lessons the scheduler may post to one group in an hour (LESSON_POSTS_PER_HOUR); /lesson is not
    # limited. The safety net behind the import's rule that only the newest new lesson is posted.
    lesson_posts_per_hour: int = 3
    # Called after /schedule or /setup changed a course's schedule, so the scheduler rebuilds its jobs.
    schedule_changed: ScheduleListener = field(default=_no_listener)
    # The web page's links (issue 17); None when this process serves no page (``studybot run`` without --web).
    web_links: WebLinks | None = None
    # This process among those sharing the database (issue 13): the owner of its lesson-post claims, the same
    # id its scheduler holds the lease under. bot.app makes a unique one per process; the default serves tests
    # and tools that run alone.
    holder: str = "local"

    @property
    def default_language(self) -> str:
        return self.i18n.default_language
