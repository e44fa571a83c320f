"""The ports the core needs. Implementations live outside: storage/ for the stores, bot/ for the rest.

The store is split by role, so each caller names what it uses: the core's features get :class:`Store`, composed
of the role ports (courses, lessons, groups, lesson posts, members' posts, likes, instructors, ranking reads,
digests); the scheduler, the lesson sources and a backend's catch-up after downtime take
:class:`SchedulerStore`, :class:`SourceStore` and :class:`handlers.ports.backends.CatchUpStore`, which the core
never calls. A second
store implements the same ports (``tests/storage`` checks that :class:`storage.SqliteStore` implements them all).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from handlers.ports.clusters import ClusterStore
from handlers.ports.notify import NotifyStore
from handlers.vocabulary.actions import Action
from handlers.vocabulary.charts import LocalDay
from handlers.vocabulary.digest_report import Activity, ChartCounts, DigestReport, StillOpen
from handlers.vocabulary.domain import (
    ChatRef,
    Course,
    Digest,
    DigestItem,
    ExportRow,
    Group,
    Instructor,
    Lesson,
    LessonDraft,
    LessonPost,
    Member,
    MessageRef,
    NewPost,
    PeriodSummary,
    PostWindow,
    Question,
    RankedQuestion,
    ReactionChange,
    Stats,
)
from handlers.vocabulary.imported import FeedEntry, FeedState, ImportedPost, LessonImport


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class Outbox(Protocol):
    async def send(self, action: Action) -> MessageRef | None:
        """Deliver ``action``; return the posted message, or None where the platform gives none.

        Raises :class:`handlers.vocabulary.errors.DeliveryError` subclasses when delivery fails for good.
        """
        ...

    def link_to(self, ref: MessageRef) -> str | None:
        """A link that opens the message for a person, where the platform has such links.

        The core does not make links (it keeps messages: ``ContentBuilder.message_link``); bot/'s outbox calls
        this when it sends content that links to a message."""
        ...


class CronRules(Protocol):
    """Understands crontab expressions. The core must not import APScheduler, so bot/ provides this."""

    def next_runs(self, cron: str, timezone: str, after: datetime, count: int) -> list[datetime]:
        """The next ``count`` run times after ``after``; raises ValueError for a bad expression."""
        ...


class CourseStore(Protocol):
    """Courses: what /setup, /schedule and the digests read and change of them."""

    async def get_course(self, slug: str) -> Course | None: ...
    async def list_courses(self) -> list[Course]: ...
    async def set_course_schedule(self, slug: str, cron: str, timezone: str) -> None: ...


class LessonStore(Protocol):
    """Lessons: found by number or slug, the latest, and those due for publication."""

    async def get_lesson(self, lesson_id: int) -> Lesson | None: ...
    async def find_lesson(self, course_slug: str, key: str) -> Lesson | None:
        """By number (``"3"``) or slug (``"intro"``)."""
        ...

    async def latest_lesson(self, course_slug: str) -> Lesson | None: ...
    async def list_lessons(self, course_slug: str) -> list[Lesson]: ...
    async def due_lessons(self, now: datetime) -> list[Lesson]:
        """Lessons not yet published whose release time (if any) has come, oldest release first."""
        ...

    async def mark_lesson_published(self, lesson_id: int, at: datetime) -> None: ...


class GroupStore(Protocol):
    """Study groups and their settings, and what follows a chat when the platform changes it."""

    async def get_group(self, chat: ChatRef) -> Group | None: ...
    async def get_group_by_id(self, group_id: int) -> Group | None: ...
    async def setup_group(self, chat: ChatRef, title: str, course_slug: str, language: str) -> Group:
        """Create the group or point it at ``course_slug``; it becomes active."""
        ...

    async def unfollow_group(self, group_id: int) -> None: ...
    async def set_group_language(self, group_id: int, language: str) -> None: ...
    async def set_like_emojis(self, group_id: int, emojis: Sequence[str]) -> None: ...
    async def set_group_active(self, group_id: int, active: bool) -> None: ...
    async def groups_following(self, course_slug: str) -> list[Group]:
        """Active groups following the course."""
        ...

    async def groups_on(self, platform: str) -> list[Group]:
        """Every group on ``platform`` that follows a course and is active."""
        ...

    async def set_group_attention(self, group_id: int, reason: str | None) -> None:
        """Mark (or, with None, clear) why the group needs an admin's attention; it stays active."""
        ...

    async def move_chat(self, platform: str, old_chat_id: str, new_chat_id: str) -> int:
        """Everything kept under a chat id follows the chat to its new id; returns the groups moved."""
        ...


class LessonPostStore(Protocol):
    """A lesson's posts in the groups: claimed before sending, marked after; replies to them are questions."""

    async def claim_lesson_post(
        self, lesson_id: int, group_id: int, holder: str, now: datetime, ttl: timedelta
    ) -> LessonPost:
        """Record the intent to post (PENDING, claimed by ``holder`` until ``now + ttl``) unless the post is SENT
        or PENDING under another holder's unexpired claim; return the row as it now is. ``holder`` may send
        only when the returned post is PENDING and ``claimed_by`` is ``holder``. (A holder here is one attempt:
        :func:`handlers.features.lessons.claim_token`.)"""
        ...

    async def note_lesson_thread(self, lesson_id: int, group_id: int, holder: str, thread: ChatRef) -> None:
        """The post's own thread or topic exists while it is still being sent: record it on the PENDING post, if
        ``holder`` still holds the claim, so that messages in it are about the lesson (see ``PostLesson``)."""
        ...

    async def mark_lesson_posted(self, lesson_id: int, group_id: int, ref: MessageRef, now: datetime) -> None: ...
    async def mark_lesson_post_failed(self, lesson_id: int, group_id: int) -> None: ...
    async def pending_lesson_posts(self) -> list[LessonPost]: ...
    async def lesson_post_at(self, ref: MessageRef) -> LessonPost | None:
        """The lesson post that is ``ref`` (its message id) — replies to it are questions."""
        ...

    async def lesson_post_in_thread(self, chat: ChatRef) -> LessonPost | None:
        """The lesson post whose own thread/topic is ``chat.thread_id`` in ``chat``."""
        ...

    async def latest_lesson_posted(self, group_id: int) -> Lesson | None:
        """The lesson posted last in the group (by the time it was posted), or None before the first."""
        ...

    async def most_lesson_posts_in_a_group(self, course_slug: str, since: datetime) -> int:
        """The most lesson posts any one group following the course got since ``since`` (0 when none)."""
        ...


class PostStore(Protocol):
    """Members' posts: questions and comments (one thing, of two kinds) and the discussion replies under them."""

    async def add_post(self, post: NewPost) -> Question:
        """Store a question or comment; a redelivered message (same ref) returns the stored one."""
        ...

    async def add_reply(self, question_id: int, author: Member, ref: MessageRef, text: str, at: datetime) -> bool:
        """Keep a discussion reply; False if this ref was already kept."""
        ...

    async def question_by_ref(self, ref: MessageRef) -> Question | None: ...
    async def get_question(self, question_id: int) -> Question | None: ...
    async def edit_post(self, ref: MessageRef, text: str, at: datetime) -> bool: ...
    async def delete_post(self, ref: MessageRef, at: datetime) -> bool: ...
    async def mark_answered(self, question_id: int, answer: str, at: datetime) -> None: ...


class LikeStore(Protocol):
    """The like path: reactions kept as likes by the one like rule (see :mod:`storage.likes`)."""

    async def add_reaction(self, ref: MessageRef, member: Member, emoji: str, at: datetime) -> None:
        """Count a like when ``emoji`` is one of the group's like emojis and ``member`` is not the author.

        One like per member per question, however many like emojis; idempotent for redelivered events.
        """
        ...

    async def remove_reaction(self, ref: MessageRef, member: Member, emoji: str) -> None: ...
    async def apply_reactions(self, changes: Sequence[ReactionChange]) -> None:
        """Many additions and removals, applied in order, as add_reaction/remove_reaction would one by one, all
        or none; returns once all are committed. For bursts: one wait for the lot instead of one per reaction."""
        ...

    async def keep_reactions(self, changes: Sequence[ReactionChange]) -> None:
        """As apply_reactions, but returns once the changes are kept, which may be before they are counted: then
        they are counted before any write queued after this call returns and any read started after it, and
        after a crash when the store next opens. For a caller that must confirm receipt before it may fetch more
        (Telegram's getUpdates offset), so that the count runs while it fetches."""
        ...

    async def settled(self) -> None:
        """Until every change kept so far is counted (reads wait for it by themselves)."""
        ...

    async def clear_reactions(self, ref: MessageRef, emoji: str | None) -> None: ...
    async def set_anonymous_likes(self, ref: MessageRef, counts: Sequence[tuple[str, int]]) -> None:
        """Per-emoji reaction totals that include reactions without a member (anonymous admins, channels)."""
        ...


class InstructorStore(Protocol):
    """A course's instructors, and the channel where its digest goes when a DM cannot."""

    async def add_instructor(self, instructor: Instructor) -> bool:
        """False if already an instructor."""
        ...

    async def instructors(self, course_slug: str) -> list[Instructor]: ...
    async def instructor_courses(self, platform: str, user_id: str) -> list[str]: ...
    async def set_instructors_channel(self, course_slug: str, chat: ChatRef) -> None:
        """Where the course's digest goes on ``chat.platform`` when an instructor there cannot get a DM."""
        ...

    async def instructors_channel(self, course_slug: str, platform: str) -> ChatRef | None: ...


class RankingReads(Protocol):
    """Rankings and counts: /top, a digest's period, /stats and the export."""

    async def top_questions(
        self, course_slug: str, limit: int, *, lesson_id: int | None = None, include_answered: bool = True
    ) -> list[RankedQuestion]:
        """Most liked first (members' + imported likes), earlier first on ties; deleted ones left out."""
        ...

    async def period_questions(self, course_slug: str, window: PostWindow, limit: int) -> list[RankedQuestion]:
        """The most liked questions of the window, same order as top_questions."""
        ...

    async def period_summary(self, course_slug: str, window: PostWindow) -> PeriodSummary: ...
    async def newest_post_id(self) -> int:
        """The id of the newest post stored (0 when there is none): where a digest recorded now ends."""
        ...

    async def stats(self, course_slug: str) -> Stats: ...
    async def still_open(self, course_slug: str, window: PostWindow, now: datetime, limit: int) -> StillOpen:
        """Unanswered questions stored before ``window``: counts by age, the oldest and the most-liked few."""
        ...

    async def activity_between(self, course_slug: str, start: datetime, stop: datetime) -> Activity:
        """Questions asked, likes given and members active in ``[start, stop)``."""
        ...

    async def chart_counts(self, course_slug: str, window: PostWindow, days: Sequence[LocalDay]) -> ChartCounts:
        """The window's questions and their likes per local day (of ``days``) and lesson, in one query."""
        ...

    async def export_rows(self, course_slug: str) -> list[ExportRow]: ...


class DigestStore(Protocol):
    """Digests: the periods recorded per course, and to whom each one was delivered."""

    async def last_digest_end(self, course_slug: str) -> datetime | None:
        """End of the latest recorded period (sent or not)."""
        ...

    async def digested_through(self, course_slug: str) -> int:
        """The newest post that the course's recorded digests cover (0 when none was recorded)."""
        ...

    async def record_digest(
        self,
        course_slug: str,
        start: datetime,
        end: datetime,
        through_post: int,
        items: Sequence[DigestItem],
        summary: PeriodSummary,
        now: datetime,
        report: DigestReport | None = None,
    ) -> tuple[Digest, bool]:
        """Record the period's digest unless that period already has one; the bool says it is new. The report
        is kept with it, so a resumed send says the same."""
        ...

    async def unsent_digests(self) -> list[Digest]: ...
    async def digest_deliveries(self, digest_id: int) -> set[tuple[str, str]]:
        """(platform, user id) of every instructor the digest has reached."""
        ...

    async def mark_digest_delivered(self, digest_id: int, platform: str, user_id: str, at: datetime) -> None: ...
    async def mark_digest_sent(self, digest_id: int, now: datetime) -> None: ...


class Store(
    CourseStore,
    LessonStore,
    GroupStore,
    LessonPostStore,
    PostStore,
    LikeStore,
    InstructorStore,
    RankingReads,
    DigestStore,
    ClusterStore,
    NotifyStore,
    Protocol,
):
    """Everything the core's features keep (what :attr:`handlers.services.Services.store` is). Every write is
    committed before its coroutine returns.

    The scheduler, the lesson sources and a backend's catch-up after downtime need more, which the core never
    calls: they take :class:`SchedulerStore`, :class:`SourceStore` and :class:`handlers.ports.backends.CatchUpStore`.
    """


class SchedulerStore(Protocol):
    """What only the scheduler needs: the lease that makes one process the leader, and when to wake."""

    async def acquire_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew a lease; False while another holder's lease has not expired."""
        ...

    async def release_lease(self, name: str, holder: str) -> None: ...
    async def lease_holders(self, prefix: str) -> dict[str, tuple[str, datetime]]:
        """Leases named ``prefix``…: holder and expiry, expired ones included (a crashed holder's row stays)."""
        ...

    async def next_release_after(self, now: datetime) -> datetime | None:
        """The earliest future release time of a lesson not yet published."""
        ...


class SourceStore(CourseStore, LessonStore, GroupStore, Protocol):
    """What only the lesson sources (files, course pages, feeds) need beyond the core's reads."""

    async def upsert_course(self, course: Course, now: datetime) -> Course:
        """Insert or update by slug; a new course is created at ``course.created_at`` or ``now``."""
        ...

    async def import_lesson(
        self,
        draft: LessonDraft,
        posts: Iterable[ImportedPost],
        now: datetime,
        *,
        course: Course | None = None,
        hold: bool = False,
        listed: Collection[str] | None = None,
    ) -> LessonImport:
        """Upsert the lesson and its imported posts, after creating ``course`` when it is not stored yet, in ONE
        transaction: a failure (or a kill) changes nothing. ``hold``: a new lesson due now is stored as
        published, without a post, until :meth:`release_lessons` lets the scheduler publish it. ``listed``: every
        post's key, when ``posts`` is a stream to be read once (a course page's comments, parsed as they go).

        A post whose key is already stored gets its likes, replies and kind updated, never a second row.
        """
        ...

    async def release_lessons(self, lesson_ids: Sequence[int]) -> None:
        """Let the scheduler publish these held lessons (never one already posted anywhere)."""
        ...

    async def feed_state(self, course_slug: str, url: str) -> FeedState | None: ...
    async def add_feed(self, course_slug: str, url: str, now: datetime) -> FeedState:
        """Register the feed unless known (due at once, not yet primed); return its state."""
        ...

    async def feed_polled(
        self,
        course_slug: str,
        url: str,
        entries: Sequence[FeedEntry],
        etag: str | None,
        last_modified: str | None,
        now: datetime,
        next_attempt: datetime,
    ) -> list[Lesson]:
        """A successful poll, in one transaction: entries not known yet become lessons and are recorded as
        known, the validators are kept and the failures reset. On the feed's first successful poll the new
        lessons are marked published without being posted (no flood of the back catalogue); after it they
        are left for publication. Returns the lessons created."""
        ...

    async def feed_failed(self, course_slug: str, url: str, error: str, now: datetime, next_attempt: datetime) -> None:
        """A failed poll: one more consecutive failure, the error kept, the next attempt put off."""
        ...
