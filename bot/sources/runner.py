"""The scheduler's source duty: scan ``LESSONS_DIR`` and poll ``FEEDS`` when each is due.

Due times come from the injected clock, so tests drive this with a test clock and never sleep. Feeds keep
theirs in the database (``feeds.next_attempt_at``: the poll interval after a success, the backoff after a
failure), so a restart neither polls a failing feed at once nor forgets one that is due. The folder is
scanned at the first tick and then every poll interval; a file is read again only when its size or
modification time changed (and every file at start, which updates rather than duplicates).

``LESSONS_DIR`` layout: files directly inside belong to ``DEFAULT_COURSE`` (unless their header names a
course); each sub-folder holds the lessons of the course it is named after (``LESSONS_DIR/ai-systems/…``).
Lessons found there are published like any other: at their release time, or at once without one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bot.config import FeedSource
from bot.lesson_files import LESSON_SUFFIXES, LessonFileError
from bot.sources.feeds import FeedPoller, FeedReport, session
from bot.sources.files import ensure_course, import_source, read_source
from bot.sources.publishing import settle_new_lessons
from handlers.ports import SourceStore
from handlers.services import Services
from handlers.vocabulary.domain import Lesson
from handlers.vocabulary.imported import FeedState

logger = logging.getLogger(__name__)

FEEDS_AT_ONCE = 4  # feeds polled at the same time in one tick


@dataclass(slots=True)
class SourcesReport:
    files: int = 0  # lesson files imported or updated
    skipped: list[str] = field(default_factory=list)
    feeds: list[FeedReport] = field(default_factory=list)

    @property
    def lessons(self) -> int:
        return self.files + sum(len(f.lessons) for f in self.feeds)


class LessonSources:
    def __init__(
        self,
        services: Services,
        store: SourceStore,
        *,
        feeds: Sequence[FeedSource] = (),
        lessons_dir: Path | None = None,
        default_course: str | None = None,
        interval: timedelta = timedelta(minutes=15),
        intro_length: int = 600,
    ) -> None:
        self.services = services
        # The core's services do not carry what only sources need (feeds, imports): that port comes apart.
        self.store = store
        self.feeds = tuple(feeds)
        self.lessons_dir = lessons_dir
        self.default_course = default_course
        self.interval = interval
        self.intro_length = intro_length
        self.poller = FeedPoller(store, services.clock, interval=interval, intro_length=intro_length)
        self._scan_due: datetime | None = None  # None: at the first tick
        self._seen: dict[Path, tuple[int, int]] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.feeds) or self.lessons_dir is not None

    async def run_due(self) -> SourcesReport:
        report = SourcesReport()
        now = self.services.clock.now()
        if self.lessons_dir is not None and (self._scan_due is None or now >= self._scan_due):
            self._scan_due = now + self.interval
            await self.scan_folder(report)
        due = []
        for feed in self.feeds:
            state = await self._state(feed, now)
            if state.next_attempt_at <= now:
                due.append((feed, state))
        if due:
            # At the same time, a few at once: one slow or hanging site (up to the 30 s timeout) must not hold
            # back the other courses' lessons. The reports keep the order of FEEDS.
            limit = asyncio.Semaphore(FEEDS_AT_ONCE)

            async def poll(feed: FeedSource, state: FeedState) -> FeedReport:
                async with limit:
                    return await self.poller.poll(shared, feed, state)

            async with session() as shared:
                report.feeds.extend(await asyncio.gather(*(poll(feed, state) for feed, state in due)))
        return report

    async def next_due(self, now: datetime) -> datetime | None:
        """The earliest moment a scan or a poll is due (for the scheduler's plan)."""
        times: list[datetime] = []
        if self.lessons_dir is not None:
            times.append(self._scan_due or now)
        for feed in self.feeds:
            state = await self.store.feed_state(feed.course, feed.url)
            times.append(state.next_attempt_at if state is not None else now)
        return min(times) if times else None

    async def _state(self, feed: FeedSource, now: datetime) -> FeedState:
        store = self.store
        state = await store.feed_state(feed.course, feed.url)
        if state is None:
            await ensure_course(store, feed.course, None, self.services.default_language, now)
            state = await store.add_feed(feed.course, feed.url, now)
            logger.info("feed %s of %s added: its current entries will be recorded, not posted", feed.url, feed.course)
        return state

    # the folder -------------------------------------------------------------------------------------------
    def _files(self) -> list[tuple[Path, str | None]]:
        assert self.lessons_dir is not None
        found: list[tuple[Path, str | None]] = []
        for path in sorted(self.lessons_dir.rglob("*")):
            if not path.is_file() or path.suffix.lower() not in LESSON_SUFFIXES or path.name.startswith("."):
                continue
            relative = path.relative_to(self.lessons_dir)
            course = relative.parts[0] if len(relative.parts) > 1 else self.default_course
            found.append((path, course))
        return found

    async def scan_folder(self, report: SourcesReport) -> None:
        now = self.services.clock.now()
        created: list[Lesson] = []
        for path, course in self._files():
            try:
                stat = path.stat()
            except OSError:
                continue
            signature = (stat.st_mtime_ns, stat.st_size)
            if self._seen.get(path) == signature:
                continue
            self._seen[path] = signature
            try:
                source = read_source(path, course, self.intro_length)
                done = await import_source(
                    self.store, source, now, language=self.services.default_language, hold=True
                )
            except LessonFileError as error:
                logger.warning("lesson file skipped: %s", error)
                report.skipped.append(str(error))
                continue
            report.files += 1
            if done.result.new:
                created.append(done.result.lesson)
            logger.info("lessons folder: %s", done.describe())
        # As after `lesson add`: of the new lessons due now, the newest per course is posted, the rest shelved.
        publication = await settle_new_lessons(self.store, created, "latest", now)
        for line in publication.describe():
            logger.info("lessons folder: %s", line)
