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
