"""APScheduler decides *when*; the core decides *what*; the database is the source of truth.

There is one job, ``wake``: a date trigger at the earliest moment something may be due (a course's next
digest, a lesson's release, or the next look at the database for changes made elsewhere). When it fires,
:meth:`Scheduler.tick` asks the core what is due *now* by the injected clock and hands each duty to the core as
an event through the dispatcher (``DigestDue``, ``LessonPublished``, ``SendsUnfinished``, ``RemindersDue``),
behind the same
error boundary as every chat event; then it plans the next wake-up.
Nothing depends on pickled jobs: after a restart the plan is rebuilt from the database, and work that
came due while the bot was down is found by the same tick.

Several processes may share one database (two ``studybot run`` or shards). Each platform has its own lease,
``scheduler:<platform>`` (a row with an expiry, renewed at every tick), and a process competes for the leases of
the platforms it runs (its outbox's backends): a Telegram webhook worker for Telegram's, a Discord shard for
Discord's, a process running both may hold both. A holder does the duties for the platforms it leads only
(:class:`~handlers.vocabulary.events.Leading` on each duty event), because only a process running a platform
can send there; so in a mixed deployment every platform's posts and digests go out, each once (issue 13). A
crashed holder's lease expires and another process of that platform takes over. A process without backends
(tests, tools) holds the one ``scheduler`` lease and leads every platform, as before.

APScheduler's default misfire grace time (one second) would silently drop a wake-up that runs late because the
loop was busy or the machine slept; here it is unlimited, and late wake-ups are coalesced into one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.sources.runner import LessonSources
from handlers.features.digest_schedule import due_digests, next_digest_time
from handlers.features.lessons import due_lessons
from handlers.ports import SchedulerStore
from handlers.services import Services
from handlers.vocabulary.events import Dispatch, Leading, RemindersDue, SendsUnfinished

logger = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
PLATFORM_LEASE = LEASE_NAME + ":"  # + platform: one leader per platform
# A platform whose lease expired longer ago than this is no longer waited for (its processes are gone for good,
# not being restarted): its share of a digest no longer keeps the digest unsent.
ABANDONED_AFTER = timedelta(hours=1)
WAKE_JOB = "wake"


def default_holder() -> str:
    """Unique per process, readable in the database: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(slots=True)
class TickReport:
    at: datetime
    leader: bool
    digests: int = 0  # digest periods that came due and were handed to the core
    lessons_published: int = 0  # lessons that came due and were handed to the core
    lessons_imported: int = 0  # from LESSONS_DIR and FEEDS
    leading: Leading = field(default_factory=Leading)  # the platforms this tick's duties were for
    next_wake: datetime | None = None
    errors: list[str] = field(default_factory=list)


class Scheduler:
    def __init__(
        self,
        services: Services,
        store: SchedulerStore,
        dispatch: Dispatch,
        *,
        holder: str | None = None,
        lease_ttl: timedelta = timedelta(seconds=90),
        poll_interval: timedelta = timedelta(seconds=30),
        sources: LessonSources | None = None,
        platforms: Iterable[str] = (),
    ) -> None:
        if poll_interval >= lease_ttl:
            raise ValueError("poll_interval must be shorter than lease_ttl, or the lease lapses between ticks")
        self.services = services
        # Leases and release times are the scheduler's own port, not the core's (see handlers.ports).
        self.store = store
        self.dispatch = dispatch
        self.holder = holder or default_holder()
        self.lease_ttl = lease_ttl
        self.poll_interval = poll_interval
        self.sources = sources if sources is not None and sources.enabled else None
        # The platforms this process runs, each a lease to compete for; none: the one lease for every platform.
        self.platforms = tuple(sorted(set(platforms)))
        self._aps = AsyncIOScheduler(
            timezone=UTC, job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
        )
        self._lock = asyncio.Lock()
        self._stopped = False
        self._waking: asyncio.Task[None] | None = None  # the wake-up job's tick while it runs
        self.last_report: TickReport | None = None
        self.tick_count = 0
        self._ticked = asyncio.Condition()

    # lifecycle --------------------------------------------------------------------------------------------
    async def start(self) -> TickReport:
        self._aps.start()
        return await self.tick()

    async def stop(self) -> None:
        """Hand the lease over at once: another process takes it at its next tick instead of after the TTL.

        A tick that comes after this (one already woken, or a replan) does no duties and takes no lease, so a
        stopping process cannot take the lease back after releasing it."""
        self._stopped = True
        if self._aps.running:
            self._aps.shutdown(wait=False)
        waking = self._waking
        if waking is not None and waking is not asyncio.current_task():
            # A tick cut short is as safe as a process killed mid-tick (each duty claims, records, then sends);
            # left running, it would meet the store closing under it, and APScheduler would log a traceback.
            waking.cancel()
            await asyncio.gather(waking, return_exceptions=True)
        for name in self._lease_names():
            await self.store.release_lease(name, self.holder)

    def _lease_names(self) -> list[str]:
        return [PLATFORM_LEASE + p for p in self.platforms] or [LEASE_NAME]

    async def _lead(self, now: datetime) -> Leading | None:
        """Take or renew this process's leases; what it leads now, or None when it leads nothing."""
        if not self.platforms:
            won = await self.store.acquire_lease(LEASE_NAME, self.holder, now, self.lease_ttl)
            return Leading() if won else None
        led = frozenset(
            [
                p
                for p in self.platforms
                if await self.store.acquire_lease(PLATFORM_LEASE + p, self.holder, now, self.lease_ttl)
            ]
        )
        if not led:
            return None
        holders = await self.store.lease_holders(PLATFORM_LEASE)
        elsewhere = frozenset(
            name.removeprefix(PLATFORM_LEASE)
            for name, (holder, expires_at) in holders.items()
            if holder != self.holder and expires_at > now - ABANDONED_AFTER
        )
        return Leading(led, elsewhere - led)

    @property
    def next_wake(self) -> datetime | None:
        job = self._aps.get_job(WAKE_JOB)
        return job.next_run_time if job is not None else None

    async def schedule_changed(self, course_slug: str) -> None:
        """Called by the core after /schedule or /setup: replan now rather than at the next poll."""
        logger.info("schedule of %s changed; replanning", course_slug)
        await self.tick()

    # the work ---------------------------------------------------------------------------------------------
    async def _wake(self) -> None:
        """The wake-up job: a tick, which a stop may cut short (see :meth:`stop`), quietly."""
        self._waking = asyncio.current_task()
        try:
            await self.tick()
        except asyncio.CancelledError:
            if not self._stopped:
                raise
            logger.info("stopping: the scheduler's tick was cut short; what is left of it is done at the next start")
        finally:
            self._waking = None

    async def tick(self) -> TickReport:
        """Do what is due now (if this process holds the lease), then plan the next wake-up."""
        async with self._lock:
            services = self.services
            now = services.clock.now()
            leading = None if self._stopped else await self._lead(now)
            leader = leading is not None
            report = TickReport(at=now, leader=leader, leading=leading or Leading(frozenset()))
            if leader:
                await self._duties(report)
            report.next_wake = await self.plan(services.clock.now(), leader)
            self._arm(report.next_wake)
            self.last_report = report
        async with self._ticked:
            self.tick_count += 1
            self._ticked.notify_all()
        return report

    async def wait_for_tick(self, count: int) -> None:
        """Wait until ``count`` ticks have run (health checks and tests watch the timer this way)."""
        async with self._ticked:
            await self._ticked.wait_for(lambda: self.tick_count >= count)

    async def _duties(self, report: TickReport) -> None:
        steps = [("unfinished sends", self._unfinished), ("digests", self._digests)]
        if self.sources is not None:
            steps.append(("lesson sources", self._sources))  # before "lessons", so what they bring is posted now
        steps.append(("lessons", self._lessons))
        steps.append(("reminders", self._reminders))
        for name, step in steps:
            try:
                await step(report)
            except Exception as error:
                logger.exception("scheduled %s failed; retrying at the next wake-up", name)
                report.errors.append(f"{name}: {error}")

    async def _digests(self, report: TickReport) -> None:
        for due in await due_digests(self.services, report.leading):
            await self.dispatch(due)
            report.digests += 1

    async def _unfinished(self, report: TickReport) -> None:
        """Digests recorded elsewhere (``studybot digest --send``) or that reached nobody last time, and lesson
        posts whose claim expired (an attempt that died mid-send)."""
        await self.dispatch(SendsUnfinished(report.at, leading=report.leading))

    async def _reminders(self, report: TickReport) -> None:
        """Unanswered questions past their course's ``/remind`` days: the core finds them by this tick's time and
        claims each before sending, so a second process or a restart never sends one twice. Looked at every
        wake-up (at most ``poll_interval`` apart), which is close enough for a reminder counted in days."""
        await self.dispatch(RemindersDue(report.at, leading=report.leading))

    async def _sources(self, report: TickReport) -> None:
        """LESSONS_DIR and FEEDS, each when due by the clock; see :mod:`bot.sources.runner`."""
        assert self.sources is not None
        found = await self.sources.run_due()
        report.lessons_imported += found.lessons
        report.errors.extend(f"feed {f.feed.url}: {f.error}" for f in found.feeds if f.error)

    async def _lessons(self, report: TickReport) -> None:
        async for due in due_lessons(self.services, report.leading):
            await self.dispatch(due)
            report.lessons_published += 1

    async def plan(self, now: datetime, leader: bool = True) -> datetime:
        """The next moment worth waking for: a digest, a release, or the next look for changes."""
        candidates = [now + self.poll_interval]
        if leader:
            store = self.services.store
            for course in await store.list_courses():
                when = await next_digest_time(self.services, course, now)
                if when is not None:
                    candidates.append(when)
            release = await self.store.next_release_after(now)
            if release is not None:
                candidates.append(release)
            if self.sources is not None:
                due = await self.sources.next_due(now)
                if due is not None:
                    candidates.append(due)
        return max(min(candidates), now)

    def _arm(self, when: datetime) -> None:
        """(Re)place the single wake-up job. The clock may be a test's, so convert its time to the wall clock."""
        if not self._aps.running:
            return
        delay = when - self.services.clock.now()
        run_at = datetime.now(UTC) + max(delay, timedelta(0))
        self._aps.add_job(self._wake, DateTrigger(run_date=run_at, timezone=UTC), id=WAKE_JOB, replace_existing=True)


async def describe_schedule(services: Services) -> list[str]:
    """Lines for ``studybot schedule``: each course's next digest, then the lessons waiting for release."""
    now = services.clock.now()
    lines: list[str] = []
    for course in await services.store.list_courses():
        when = await next_digest_time(services, course, now)
        local = when.astimezone(ZoneInfo(course.timezone)).strftime("%Y-%m-%d %H:%M %Z") if when else "never"
        overdue = " (overdue: sent at the next start)" if when and when <= now else ""
        lines.append(f"{course.slug}: next digest {local}{overdue} — {course.digest_cron} ({course.timezone})")
    for course in await services.store.list_courses():
        for lesson in await services.store.list_lessons(course.slug):
            if lesson.release_at is not None and lesson.release_at > now:
                lines.append(f"{course.slug}: lesson {lesson.slug!r} released {lesson.release_at.isoformat()}")
    return lines
