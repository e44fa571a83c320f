"""Courses, lessons and lesson posts: what the lesson features and the scheduler keep about publishing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import aiosqlite

from handlers.vocabulary.domain import (
    ChatRef,
    Course,
    Lesson,
    LessonDraft,
    LessonPost,
    MessageRef,
)
from storage import codec, queries
from storage.base import BY_REF, StoreBase, _ref

logger = logging.getLogger(__name__)

UPSERT_COURSE = """
    INSERT INTO courses (slug, title, timezone, language, digest_cron, digest_size, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (slug) DO UPDATE SET title = excluded.title, timezone = excluded.timezone,
        language = excluded.language, digest_cron = excluded.digest_cron, digest_size = excluded.digest_size
"""

_MAX_SQL_INT = 2**63 - 1


class LessonRows(StoreBase):
    """The courses, lessons and lesson posts part of :class:`storage.SqliteStore`."""

    # courses ---------------------------------------------------------------------------------------------
    async def upsert_course(self, course: Course, now: datetime) -> Course:
        """Insert the course or overwrite every field of the stored one but its creation time; returns it as stored.

        A new course's creation time is ``course.created_at``, else ``now``, else the current time.
        """
        created = course.created_at or now
        await self._exec(
            UPSERT_COURSE,
            (
                course.slug,
                course.title,
                course.timezone,
                course.language,
                course.digest_cron,
                course.digest_size,
                codec.to_micros(created),
            ),
        )
        stored = await self.get_course(course.slug)
        assert stored is not None  # just written
        return stored

    async def get_course(self, slug: str) -> Course | None:
        row = await self._reader.one("SELECT * FROM courses WHERE slug = ?", (slug,))
        return codec.course_from(row) if row else None

    async def list_courses(self) -> list[Course]:
        return [codec.course_from(r) for r in await self._reader.all("SELECT * FROM courses ORDER BY slug")]

    async def set_course_schedule(self, slug: str, cron: str, timezone: str) -> None:
        await self._exec("UPDATE courses SET digest_cron = ?, timezone = ? WHERE slug = ?", (cron, timezone, slug))

    # lessons ---------------------------------------------------------------------------------------------
    async def upsert_lesson(self, draft: LessonDraft, now: datetime) -> tuple[Lesson, bool]:
        """Insert or update by (course, slug); the bool says whether it was new. created_at never changes.

        In no port: the core and the sources store lessons through :meth:`import_lesson`; tests and benchmarks
        seed with this."""
        created = codec.to_micros(now)
        release = codec.to_micros_or_none(draft.release_at)
        fields = (draft.title, draft.intro, draft.link, draft.number, release)

        async def op(conn: aiosqlite.Connection) -> tuple[Lesson, bool]:
            async with conn.execute(
                "SELECT id FROM lessons WHERE course_slug = ? AND slug = ?", (draft.course_slug, draft.slug)
            ) as cursor:
                found = await cursor.fetchone()
            if found is None:
                async with conn.execute(
                    "INSERT INTO lessons (title, intro, link, number, release_at, course_slug, slug, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (*fields, draft.course_slug, draft.slug, created),
                ) as cursor:
                    lesson_id = cursor.lastrowid
            else:
                lesson_id = found[0]
                await conn.execute(
                    "UPDATE lessons SET title = ?, intro = ?, link = ?, number = ?, release_at = ? WHERE id = ?",
                    (*fields, lesson_id),
                )
            async with conn.execute("SELECT * FROM lessons WHERE id = ?", (lesson_id,)) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            return codec.lesson_from(row), found is None

        return await self._writer.call(op)

    async def get_lesson(self, lesson_id: int) -> Lesson | None:
        row = await self._reader.one("SELECT * FROM lessons WHERE id = ?", (lesson_id,))
        return codec.lesson_from(row) if row else None

    async def find_lesson(self, course_slug: str, key: str) -> Lesson | None:
        """``key`` made only of ASCII digits is a lesson number, anything else a slug."""
        if key.isascii() and key.isdigit():
            number = int(key)
            if number > _MAX_SQL_INT:
                return None
            row = await self._reader.one(
                "SELECT * FROM lessons WHERE course_slug = ? AND number = ? ORDER BY id LIMIT 1", (course_slug, number)
            )
        else:
            row = await self._reader.one("SELECT * FROM lessons WHERE course_slug = ? AND slug = ?", (course_slug, key))
        return codec.lesson_from(row) if row else None

    async def latest_lesson(self, course_slug: str) -> Lesson | None:
        """The lesson released (or, without a release time, added) last; the higher number wins a tie.

        A lesson scheduled for later and not published yet only counts when there is no other: members
        cannot be asking about a lesson they have not seen.
        """
        row = await self._reader.one(
            "SELECT * FROM lessons WHERE course_slug = ?"
            " ORDER BY published_at IS NULL AND release_at IS NOT NULL,"
            " COALESCE(release_at, created_at) DESC, number DESC, id DESC LIMIT 1",
            (course_slug,),
        )
        return codec.lesson_from(row) if row else None

    async def due_lessons(self, now: datetime) -> list[Lesson]:
        """Lessons not yet published whose release time (if any) has come, oldest release first."""
        rows = await self._reader.all(
            "SELECT * FROM lessons WHERE published_at IS NULL AND (release_at IS NULL OR release_at <= ?)"
            " ORDER BY COALESCE(release_at, created_at), number, id",
            (codec.to_micros(now),),
        )
        return [codec.lesson_from(r) for r in rows]

    async def mark_lesson_published(self, lesson_id: int, at: datetime) -> None:
        """The first publication time is kept."""
        await self._exec(
            "UPDATE lessons SET published_at = ? WHERE id = ? AND published_at IS NULL",
            (codec.to_micros(at), lesson_id),
        )

    async def list_lessons(self, course_slug: str) -> list[Lesson]:
        """In course order: by number, lessons without one last, then by release time."""
        rows = await self._reader.all(
            "SELECT * FROM lessons WHERE course_slug = ?"
            " ORDER BY number IS NULL, number, COALESCE(release_at, created_at), id",
            (course_slug,),
        )
        return [codec.lesson_from(r) for r in rows]

    # lesson posts ----------------------------------------------------------------------------------------
    async def claim_lesson_post(
        self, lesson_id: int, group_id: int, holder: str, now: datetime, ttl: timedelta
    ) -> LessonPost:
        """Claim the post for ``holder`` until ``now + ttl`` and return the row as it now is.

        One statement, so two processes can never both win: the insert when there is no row; the update when
        the post FAILED (claimed again, so that a crash during the retry leaves it for
        :func:`handlers.features.lessons.resume_pending_posts`) or is PENDING under ``holder``'s own claim or
        an expired one. A SENT post, or one PENDING under another holder's live claim, is returned unchanged:
        the caller compares ``claimed_by`` with its own holder id to know whether it may send.
        """
        claimed, until = codec.to_micros(now), codec.to_micros(now + ttl)

        async def op(conn: aiosqlite.Connection) -> LessonPost:
            await conn.execute(
                "INSERT INTO lesson_posts (lesson_id, group_id, state, claimed_at, claimed_by, claim_expires_at)"
                " VALUES (?, ?, 'pending', ?, ?, ?)"
                " ON CONFLICT (lesson_id, group_id) DO UPDATE SET state = 'pending', claimed_at = excluded.claimed_at,"
                " claimed_by = excluded.claimed_by, claim_expires_at = excluded.claim_expires_at"
                " WHERE state = 'failed' OR (state = 'pending' AND (claimed_by IS excluded.claimed_by"
                " OR claim_expires_at IS NULL OR claim_expires_at <= excluded.claimed_at))",
                (lesson_id, group_id, claimed, holder, until),
            )
            async with conn.execute(
                queries.LESSON_POST_SELECT + " WHERE lesson_id = ? AND group_id = ?", (lesson_id, group_id)
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            return codec.lesson_post_from(row)

        return await self._writer.call(op)

    async def note_lesson_thread(self, lesson_id: int, group_id: int, holder: str, thread: ChatRef) -> None:
        await self._exec(
            "UPDATE lesson_posts SET platform = ?, chat_id = ?, thread_id = ?"
            " WHERE lesson_id = ? AND group_id = ? AND state = 'pending' AND claimed_by = ?",
            (thread.platform, thread.chat_id, thread.thread_id, lesson_id, group_id, holder),
        )

    async def mark_lesson_posted(self, lesson_id: int, group_id: int, ref: MessageRef, now: datetime) -> None:
        at = codec.to_micros(now)
        await self._exec(
            "INSERT INTO lesson_posts (lesson_id, group_id, state, platform, chat_id, thread_id, message_id,"
            " claimed_at, posted_at) VALUES (?, ?, 'sent', ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (lesson_id, group_id) DO UPDATE SET state = 'sent', platform = excluded.platform,"
            " chat_id = excluded.chat_id, thread_id = excluded.thread_id, message_id = excluded.message_id,"
            " posted_at = excluded.posted_at, claimed_by = NULL, claim_expires_at = NULL",  # the claim is done
            (lesson_id, group_id, ref.platform, ref.chat_id, ref.thread_id, ref.message_id, at, at),
        )

    async def mark_lesson_post_failed(self, lesson_id: int, group_id: int) -> None:
        """A post already SENT stays sent."""
        await self._exec(
            "UPDATE lesson_posts SET state = 'failed' WHERE lesson_id = ? AND group_id = ? AND state <> 'sent'",
            (lesson_id, group_id),
        )

    async def pending_lesson_posts(self) -> list[LessonPost]:
        rows = await self._reader.all(
            queries.LESSON_POST_SELECT + " WHERE state = 'pending' ORDER BY claimed_at, lesson_id, group_id"
        )
        return [codec.lesson_post_from(r) for r in rows]

    async def lesson_post_at(self, ref: MessageRef) -> LessonPost | None:
        row = await self._reader.one(queries.LESSON_POST_SELECT + f" WHERE {BY_REF}", _ref(ref))
        return codec.lesson_post_from(row) if row else None

    async def lesson_post_in_thread(self, chat: ChatRef) -> LessonPost | None:
        if chat.thread_id is None:
            return None
        row = await self._reader.one(
            queries.LESSON_POST_SELECT + " WHERE platform = ? AND chat_id = ? AND thread_id = ? LIMIT 1",
            (chat.platform, chat.chat_id, chat.thread_id),
        )
        return codec.lesson_post_from(row) if row else None

    async def latest_lesson_posted(self, group_id: int) -> Lesson | None:
        row = await self._reader.one(
            "SELECT l.* FROM lesson_posts p JOIN lessons l ON l.id = p.lesson_id"
            " WHERE p.group_id = ? AND p.state = 'sent' ORDER BY p.posted_at DESC, l.id DESC LIMIT 1",
            (group_id,),
        )
        return codec.lesson_from(row) if row else None

    async def recent_lesson_posts(self, platform: str, since: datetime) -> list[LessonPost]:
        rows = await self._reader.all(
            queries.LESSON_POST_SELECT + " WHERE state = 'sent' AND platform = ? AND posted_at >= ?"
            " AND message_id IS NOT NULL ORDER BY posted_at, lesson_id, group_id",
            (platform, codec.to_micros(since)),
        )
        return [codec.lesson_post_from(r) for r in rows]

    async def last_message_id(self, chat: ChatRef) -> str | None:
        """Digits only (``/ask`` answered without a placeholder message keeps no message id), longest first, then
        highest: numbers compared exactly, even past SQLite's 64-bit integers."""
        digits = "message_id <> '' AND message_id NOT GLOB '*[^0-9]*'"
        where = f"platform = ? AND chat_id = ? AND thread_id IS ? AND {digits}"
        params = (chat.platform, chat.chat_id, chat.thread_id)
        row = await self._reader.one(
            f"SELECT message_id FROM (SELECT message_id FROM questions WHERE {where}"
            f" UNION ALL SELECT message_id FROM replies WHERE {where})"
            " ORDER BY length(message_id) DESC, message_id DESC LIMIT 1",
            params * 2,
        )
        return str(row[0]) if row is not None else None

    async def next_release_after(self, now: datetime) -> datetime | None:
        """The earliest release time still to come among lessons not yet published."""
        row = await self._reader.one(
            "SELECT MIN(release_at) FROM lessons WHERE published_at IS NULL AND release_at > ?",
            (codec.to_micros(now),),
        )
        return codec.from_micros_or_none(row[0] if row else None)

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
