"""Lesson sources: imported lessons with their posts, and the state of the feeds polled for new lessons (the SQL
is in :mod:`storage.import_ops`)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from handlers.vocabulary.domain import (
    Course,
    Lesson,
    LessonDraft,
)
from handlers.vocabulary.imported import FeedEntry, FeedState, ImportedPost, LessonImport
from storage import codec, import_ops
from storage.base import StoreBase

logger = logging.getLogger(__name__)


class SourceRows(StoreBase):
    """The lesson sources part of :class:`storage.SqliteStore`."""

    # sources ---------------------------------------------------------------------------------------------
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
        """The course when new, the lesson and all its imported posts in ONE transaction (see
        :mod:`storage.import_ops`)."""
        return await self._writer.call(import_ops.import_lesson_op(draft, posts, now, course, hold, listed))

    async def most_lesson_posts_in_a_group(self, course_slug: str, since: datetime) -> int:
        row = await self._reader.one(
            "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM lesson_posts p JOIN study_groups g ON g.id = p.group_id"
            " WHERE g.course_slug = ? AND g.active = 1 AND p.state = 'sent' AND p.posted_at >= ? GROUP BY p.group_id)",
            (course_slug, codec.to_micros(since)),
        )
        return int(row[0] or 0) if row else 0

    async def release_lessons(self, lesson_ids: Sequence[int]) -> None:
        await self._writer.call(
            lambda conn: conn.executemany(
                "UPDATE lessons SET published_at = NULL WHERE id = ?"
                " AND NOT EXISTS (SELECT 1 FROM lesson_posts p WHERE p.lesson_id = lessons.id)",
                [(lesson_id,) for lesson_id in lesson_ids],
            )
        )

    async def feed_state(self, course_slug: str, url: str) -> FeedState | None:
        row = await self._reader.one(import_ops.FEED_SELECT + " WHERE course_slug = ? AND url = ?", (course_slug, url))
        return import_ops.feed_state_from(row) if row else None

    async def add_feed(self, course_slug: str, url: str, now: datetime) -> FeedState:
        return await self._writer.call(import_ops.add_feed_op(course_slug, url, now))

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
        op = import_ops.feed_polled_op(course_slug, url, entries, etag, last_modified, now, next_attempt)
        return await self._writer.call(op)

    async def feed_failed(self, course_slug: str, url: str, error: str, now: datetime, next_attempt: datetime) -> None:
        await self._exec(
            "UPDATE feeds SET failures = failures + 1, last_error = ?, next_attempt_at = ?"
            " WHERE course_slug = ? AND url = ?",
            (error[:500], codec.to_micros(next_attempt), course_slug, url),
        )
