"""Courses, lessons and lesson posts on PostgreSQL: the counterpart of :mod:`storage.lessons`.

Each write is one statement or one transaction and returns after its commit. Where SQLite reads a row back
after writing it (its writer serialises everything), PostgreSQL's ``RETURNING`` hands the written row back in
the same statement, which also stays right when other processes write the same row at the same time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from handlers.vocabulary.domain import ChatRef, Course, Lesson, LessonDraft, LessonPost, MessageRef
from storage import codec
from storage.postgres.base import BY_REF, PgBase, ref_params

logger = logging.getLogger(__name__)

INSERT_COURSE = (
    "INSERT INTO courses (slug, title, timezone, language, digest_cron, digest_size, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)"
)
UPSERT_COURSE = (
    INSERT_COURSE + " ON CONFLICT (slug) DO UPDATE SET title = excluded.title, timezone = excluded.timezone,"
    " language = excluded.language, digest_cron = excluded.digest_cron, digest_size = excluded.digest_size"
    " RETURNING *"
)

# The codec reads a message ref's guild id, which lesson posts do not keep: a NULL of that name stands in
# (asyncpg's records raise KeyError, not IndexError, for a missing column).
LESSON_POST_COLUMNS = (
    "lesson_id, group_id, state, platform, chat_id, thread_id, message_id, claimed_by, claim_expires_at,"
    " NULL::text AS guild_id"
)
LESSON_POST_SELECT = f"SELECT {LESSON_POST_COLUMNS} FROM lesson_posts"

_MAX_SQL_INT = 2**63 - 1


def course_params(course: Course, now: datetime) -> tuple[str, str, str, str, str, int, int]:
    """A course's row; a new course's creation time is ``course.created_at``, else ``now``."""
    created = course.created_at or now
    return (
        course.slug,
        course.title,
        course.timezone,
        course.language,
        course.digest_cron,
        course.digest_size,
        codec.to_micros(created),
    )


class LessonRows(PgBase):
    """The courses, lessons and lesson posts part of :class:`storage.postgres.PostgresStore`."""

    # courses ---------------------------------------------------------------------------------------------
    async def upsert_course(self, course: Course, now: datetime) -> Course:
        """Insert the course or overwrite every field of the stored one but its creation time; returns it as stored."""
        params = course_params(course, now)
        self._check_open()
        row = await self._fetchrow(UPSERT_COURSE, *params)
        assert row is not None  # an upsert always returns its row
        return codec.course_from(row)

    async def get_course(self, slug: str) -> Course | None:
        row = await self._fetchrow("SELECT * FROM courses WHERE slug = $1", slug)
        return codec.course_from(row) if row else None

    async def list_courses(self) -> list[Course]:
        """By slug in byte order, as SQLite sorts text (not the database's collation)."""
        rows = await self._fetch('SELECT * FROM courses ORDER BY slug COLLATE "C"')
        return [codec.course_from(r) for r in rows]

    async def set_course_schedule(self, slug: str, cron: str, timezone: str) -> None:
        await self._execute("UPDATE courses SET digest_cron = $1, timezone = $2 WHERE slug = $3", cron, timezone, slug)

    # lessons ---------------------------------------------------------------------------------------------
    async def upsert_lesson(self, draft: LessonDraft, now: datetime) -> tuple[Lesson, bool]:
        """Insert or update by (course, slug); the bool says whether it was new. created_at never changes.

        One statement: ``xmax = 0`` holds for a row this statement inserted (an updated row carries the
        updating transaction's id), which tells the two apart even when another process races us.
        """
        created = codec.to_micros(now)
        release = codec.to_micros_or_none(draft.release_at)
        self._check_open()
        row = await self._fetchrow(
            "INSERT INTO lessons AS l (title, intro, link, number, release_at, course_slug, slug, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (course_slug, slug) DO UPDATE SET title = excluded.title, intro = excluded.intro,"
            " link = excluded.link, number = excluded.number, release_at = excluded.release_at"
            " RETURNING l.*, (l.xmax = 0) AS inserted",
            draft.title,
            draft.intro,
            draft.link,
            draft.number,
            release,
            draft.course_slug,
            draft.slug,
            created,
        )
        assert row is not None
        return codec.lesson_from(row), bool(row["inserted"])

    async def get_lesson(self, lesson_id: int) -> Lesson | None:
        row = await self._fetchrow("SELECT * FROM lessons WHERE id = $1", lesson_id)
        return codec.lesson_from(row) if row else None

    async def find_lesson(self, course_slug: str, key: str) -> Lesson | None:
        """``key`` made only of ASCII digits is a lesson number, anything else a slug."""
        if key.isascii() and key.isdigit():
            number = int(key)
            if number > _MAX_SQL_INT:
                return None
            row = await self._fetchrow(
                "SELECT * FROM lessons WHERE course_slug = $1 AND number = $2::bigint ORDER BY id LIMIT 1",
                course_slug,
                number,
            )
        else:
            row = await self._fetchrow("SELECT * FROM lessons WHERE course_slug = $1 AND slug = $2", course_slug, key)
        return codec.lesson_from(row) if row else None

    async def latest_lesson(self, course_slug: str) -> Lesson | None:
        """The lesson released (or, without a release time, added) last; the higher number wins a tie.

        A lesson scheduled for later and not published yet only counts when there is no other. NULLS LAST:
        SQLite sorts NULL lowest, so a descending order puts it last.
        """
        row = await self._fetchrow(
            "SELECT * FROM lessons WHERE course_slug = $1"
            " ORDER BY published_at IS NULL AND release_at IS NOT NULL,"
            " COALESCE(release_at, created_at) DESC, number DESC NULLS LAST, id DESC LIMIT 1",
            course_slug,
        )
        return codec.lesson_from(row) if row else None

    async def due_lessons(self, now: datetime) -> list[Lesson]:
        """Lessons not yet published whose release time (if any) has come, oldest release first."""
        rows = await self._fetch(
            "SELECT * FROM lessons WHERE published_at IS NULL AND (release_at IS NULL OR release_at <= $1)"
            " ORDER BY COALESCE(release_at, created_at), number NULLS FIRST, id",
            codec.to_micros(now),
        )
        return [codec.lesson_from(r) for r in rows]

    async def mark_lesson_published(self, lesson_id: int, at: datetime) -> None:
        """The first publication time is kept."""
        await self._execute(
            "UPDATE lessons SET published_at = $1 WHERE id = $2 AND published_at IS NULL",
            codec.to_micros(at),
            lesson_id,
        )

    async def list_lessons(self, course_slug: str) -> list[Lesson]:
        """In course order: by number, lessons without one last, then by release time."""
        rows = await self._fetch(
            "SELECT * FROM lessons WHERE course_slug = $1"
            " ORDER BY number IS NULL, number, COALESCE(release_at, created_at), id",
            course_slug,
        )
        return [codec.lesson_from(r) for r in rows]

    # lesson posts ----------------------------------------------------------------------------------------
    async def claim_lesson_post(
        self, lesson_id: int, group_id: int, holder: str, now: datetime, ttl: timedelta
    ) -> LessonPost:
        """Claim the post for ``holder`` until ``now + ttl`` and return the row as it now is (see the SQLite
        store's docstring for the rule: a FAILED post, or a PENDING one under ``holder``'s own or an expired claim,
        is claimed; a SENT one or another holder's live claim is returned unchanged).

        The upsert's row lock decides between processes. It returns the row only when it wrote it; otherwise the
        row the conflict found is read in the same transaction (lesson posts are never deleted).
        """
        claimed, until = codec.to_micros(now), codec.to_micros(now + ttl)
        async with self._transaction() as conn:
            row = await conn.fetchrow(
                "INSERT INTO lesson_posts AS p (lesson_id, group_id, state, claimed_at, claimed_by, claim_expires_at)"
                " VALUES ($1, $2, 'pending', $3, $4, $5)"
                " ON CONFLICT (lesson_id, group_id) DO UPDATE SET state = 'pending', claimed_at = excluded.claimed_at,"
                " claimed_by = excluded.claimed_by, claim_expires_at = excluded.claim_expires_at"
                " WHERE p.state = 'failed' OR (p.state = 'pending' AND (p.claimed_by IS NOT DISTINCT FROM"
                " excluded.claimed_by OR p.claim_expires_at IS NULL OR p.claim_expires_at <= excluded.claimed_at))"
                f" RETURNING {LESSON_POST_COLUMNS}",
                lesson_id,
                group_id,
                claimed,
                holder,
                until,
            )
            if row is None:
                row = await conn.fetchrow(
                    LESSON_POST_SELECT + " WHERE lesson_id = $1 AND group_id = $2", lesson_id, group_id
                )
        assert row is not None
        return codec.lesson_post_from(row)

    async def note_lesson_thread(self, lesson_id: int, group_id: int, holder: str, thread: ChatRef) -> None:
        await self._execute(
            "UPDATE lesson_posts SET platform = $1, chat_id = $2, thread_id = $3"
            " WHERE lesson_id = $4 AND group_id = $5 AND state = 'pending' AND claimed_by = $6",
            thread.platform, thread.chat_id, thread.thread_id, lesson_id, group_id, holder,
        )  # fmt: skip

    async def mark_lesson_posted(self, lesson_id: int, group_id: int, ref: MessageRef, now: datetime) -> None:
        at = codec.to_micros(now)
        await self._execute(
            "INSERT INTO lesson_posts (lesson_id, group_id, state, platform, chat_id, thread_id, message_id,"
            " claimed_at, posted_at) VALUES ($1, $2, 'sent', $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (lesson_id, group_id) DO UPDATE SET state = 'sent', platform = excluded.platform,"
            " chat_id = excluded.chat_id, thread_id = excluded.thread_id, message_id = excluded.message_id,"
            " posted_at = excluded.posted_at, claimed_by = NULL, claim_expires_at = NULL",  # the claim is done
            lesson_id,
            group_id,
            ref.platform,
            ref.chat_id,
            ref.thread_id,
            ref.message_id,
            at,
            at,
        )

    async def mark_lesson_post_failed(self, lesson_id: int, group_id: int) -> None:
        """A post already SENT stays sent."""
        await self._execute(
            "UPDATE lesson_posts SET state = 'failed' WHERE lesson_id = $1 AND group_id = $2 AND state <> 'sent'",
            lesson_id,
            group_id,
        )

    async def pending_lesson_posts(self) -> list[LessonPost]:
        rows = await self._fetch(
            LESSON_POST_SELECT + " WHERE state = 'pending' ORDER BY claimed_at, lesson_id, group_id"
        )
        return [codec.lesson_post_from(r) for r in rows]

    async def lesson_post_at(self, ref: MessageRef) -> LessonPost | None:
        row = await self._fetchrow(LESSON_POST_SELECT + f" WHERE {BY_REF}", *ref_params(ref))
        return codec.lesson_post_from(row) if row else None

    async def lesson_post_in_thread(self, chat: ChatRef) -> LessonPost | None:
        if chat.thread_id is None:
            return None
        row = await self._fetchrow(
            LESSON_POST_SELECT + " WHERE platform = $1 AND chat_id = $2 AND thread_id = $3 LIMIT 1",
            chat.platform,
            chat.chat_id,
            chat.thread_id,
        )
        return codec.lesson_post_from(row) if row else None

    async def latest_lesson_posted(self, group_id: int) -> Lesson | None:
        row = await self._fetchrow(
            "SELECT l.* FROM lesson_posts p JOIN lessons l ON l.id = p.lesson_id"
            " WHERE p.group_id = $1 AND p.state = 'sent' ORDER BY p.posted_at DESC NULLS LAST, l.id DESC LIMIT 1",
            group_id,
        )
        return codec.lesson_from(row) if row else None

    async def recent_lesson_posts(self, platform: str, since: datetime) -> list[LessonPost]:
        rows = await self._fetch(
            LESSON_POST_SELECT + " WHERE state = 'sent' AND platform = $1 AND posted_at >= $2"
            " AND message_id IS NOT NULL ORDER BY posted_at, lesson_id, group_id",
            platform,
            codec.to_micros(since),
        )
        return [codec.lesson_post_from(r) for r in rows]

    async def last_message_id(self, chat: ChatRef) -> str | None:
        """Digits only (``/ask`` answered without a placeholder message keeps no message id), longest first, then
        highest: numbers compared exactly, as digit strings of one length in byte order."""
        where = "platform = $1 AND chat_id = $2 AND thread_id IS NOT DISTINCT FROM $3::text AND message_id ~ '^[0-9]+$'"
        row = await self._fetchrow(
            f"SELECT message_id FROM (SELECT message_id FROM questions WHERE {where}"
            f" UNION ALL SELECT message_id FROM replies WHERE {where}) AS kept"
            ' ORDER BY length(message_id) DESC, message_id COLLATE "C" DESC LIMIT 1',
            chat.platform,
            chat.chat_id,
            chat.thread_id,
        )
        return str(row[0]) if row is not None else None

    async def next_release_after(self, now: datetime) -> datetime | None:
        """The earliest release time still to come among lessons not yet published."""
        value = await self._fetchval(
            "SELECT MIN(release_at) FROM lessons WHERE published_at IS NULL AND release_at > $1",
            codec.to_micros(now),
        )
        return codec.from_micros_or_none(value)

    async def most_lesson_posts_in_a_group(self, course_slug: str, since: datetime) -> int:
        value = await self._fetchval(
            "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM lesson_posts p JOIN study_groups g ON g.id = p.group_id"
            " WHERE g.course_slug = $1 AND g.active = 1 AND p.state = 'sent' AND p.posted_at >= $2"
            " GROUP BY p.group_id) AS per_group",
            course_slug,
            codec.to_micros(since),
        )
        return int(value or 0)

    async def release_lessons(self, lesson_ids: Sequence[int]) -> None:
        await self._execute(
            "UPDATE lessons SET published_at = NULL WHERE id = ANY($1::bigint[])"
            " AND NOT EXISTS (SELECT 1 FROM lesson_posts p WHERE p.lesson_id = lessons.id)",
            list(lesson_ids),
        )
