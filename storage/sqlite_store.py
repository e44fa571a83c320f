"""SqliteStore: :class:`handlers.ports.Store` on one SQLite file.

Two connections: the writer (owned by :class:`storage.writer.GroupCommitWriter`, which batches every write
into group commits) and a read-only reader. WAL lets the reader run while the writer writes; it sees
committed data only, and since a write method returns after its commit, a handler always reads its own
writes.

Usage::

    store = await SqliteStore.open(settings.database_path)
    try:
        ...
    finally:
        await store.close()          # commits everything still queued

    # or
    async with await SqliteStore.open(path) as store:
        ...

Likes: the ``reactions`` table keeps only like-emoji reactions, one row per (question, member, emoji);
triggers keep ``questions.likes`` (members with at least one row) in the same transaction, and ``score`` is a
generated column (``likes + base_likes``). Changing a group's like emojis does not recount reactions already
kept: they stay counted until removed, and only new reactions are checked against the new emojis.

Deleting a reply marks it deleted and takes it off its question's reply count; deleted questions keep their
row (and likes) but leave every ranking, count and export.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

from handlers.domain import (
    DEFAULT_LIKE_EMOJIS,
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
    ReactionFix,
    Reply,
    Stats,
)
from handlers.sources import FeedEntry, FeedState, ImportedPost, LessonImport
from storage import clusters, codec, queries, sources
from storage.cluster_store import ClusterMixin
from storage.connection import check_writable, connect, connect_raw, explained
from storage.queries import Reader
from storage.schema import migrate
from storage.writer import Batch, Call, GroupCommitWriter, Statement, WriterStats

logger = logging.getLogger(__name__)

# writes ----------------------------------------------------------------------------------------------------
UPSERT_MEMBER = """
    INSERT INTO members (platform, user_id, display_name, is_bot) VALUES (?, ?, ?, ?)
    ON CONFLICT (platform, user_id) DO UPDATE SET display_name = excluded.display_name, is_bot = excluded.is_bot
    WHERE display_name IS NOT excluded.display_name OR is_bot IS NOT excluded.is_bot
"""
# "WHERE true" lets SQLite tell the SELECT's end from the upsert clause.
UPSERT_MEMBERS_BATCH = """
    INSERT INTO members (platform, user_id, display_name, is_bot)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?) WHERE true ORDER BY key
    ON CONFLICT (platform, user_id) DO UPDATE SET display_name = excluded.display_name, is_bot = excluded.is_bot
    WHERE display_name IS NOT excluded.display_name OR is_bot IS NOT excluded.is_bot
"""

# One statement per like, so a burst of them is one executemany: the question is found by its message, the
# emoji must be one of its group's like emojis, and the member must not be its author.
ADD_REACTION = """
    INSERT OR IGNORE INTO reactions (question_id, member_id, emoji, created_at)
    SELECT q.id, m.id, e.emoji, ?
    FROM questions q
    JOIN group_like_emojis e ON e.group_id = q.group_id AND e.emoji = ?
    JOIN members m ON m.platform = ? AND m.user_id = ?
    WHERE q.platform = ? AND q.chat_id = ? AND q.message_id = ? AND m.id <> q.author_id AND m.is_bot = 0
"""

# The same for a whole group of reactions at once: their parameter lists as one JSON array. CROSS JOIN keeps
# json_each first, so each row finds its question through the message index (never a scan of questions).
ADD_REACTIONS_BATCH = """
    INSERT OR IGNORE INTO reactions (question_id, member_id, emoji, created_at)
    SELECT q.id, m.id, e.emoji, j.value ->> 0
    FROM json_each(?) AS j
    CROSS JOIN questions q ON q.platform = j.value ->> 4 AND q.chat_id = j.value ->> 5 AND q.message_id = j.value ->> 6
    CROSS JOIN group_like_emojis e ON e.group_id = q.group_id AND e.emoji = j.value ->> 1
    CROSS JOIN members m ON m.platform = j.value ->> 2 AND m.user_id = j.value ->> 3
    WHERE m.id <> q.author_id AND m.is_bot = 0
"""

# A burst of likes with new members, set-based through the like_bursts view (migration 0007): two JSON arrays,
# the members to upsert and the likes as ADD_REACTION's parameters.
LIKE_BURST = "INSERT INTO like_bursts (members, likes) VALUES (?, ?)"
# Bursts queued together (the next lot's, while this one commits) still go as one statement: a view row each.
LIKE_BURSTS_BATCH = (
    "INSERT INTO like_bursts (members, likes) SELECT value ->> 0, value ->> 1 FROM json_each(?) ORDER BY key"
)

# A burst of changes, in order, through the reaction_changes view (migration 0006): adds, removes and the upserts
# of new members in ONE statement. Its row: platform, chat, message, user, emoji, added, time, name or NULL, bot.
APPLY_CHANGE = """
    INSERT INTO reaction_changes (platform, chat_id, message_id, user_id, emoji, added, created_at, display_name,
        is_bot)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
APPLY_CHANGES_BATCH = """
    INSERT INTO reaction_changes (platform, chat_id, message_id, user_id, emoji, added, created_at, display_name,
        is_bot)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7,
        value ->> 8
    FROM json_each(?) ORDER BY key
"""

REMOVE_REACTION = """
    DELETE FROM reactions
    WHERE question_id = (SELECT id FROM questions WHERE platform = ? AND chat_id = ? AND message_id = ?)
      AND member_id = (SELECT id FROM members WHERE platform = ? AND user_id = ?)
      AND emoji = ?
"""

CLEAR_REACTIONS = """
    DELETE FROM reactions
    WHERE question_id = (SELECT id FROM questions WHERE platform = ? AND chat_id = ? AND message_id = ?)
"""
CLEAR_EMOJI = CLEAR_REACTIONS + " AND emoji = ?"

UPSERT_COURSE = """
    INSERT INTO courses (slug, title, timezone, language, digest_cron, digest_size, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (slug) DO UPDATE SET title = excluded.title, timezone = excluded.timezone,
        language = excluded.language, digest_cron = excluded.digest_cron, digest_size = excluded.digest_size
"""

BY_REF = "platform = ? AND chat_id = ? AND message_id = ?"
_MAX_SQL_INT = 2**63 - 1


def _json(rows: Sequence[Sequence[Any]]) -> str:
    return json.dumps(rows, ensure_ascii=False)


def _ref(ref: MessageRef) -> tuple[str, str, str]:
    return (ref.platform, ref.chat_id, ref.message_id)


def _member_op(member: Member) -> Statement:
    """Members are upserted ahead of the rest of the batch (hoisted): idempotent, and needed by what follows."""
    params = (member.platform, member.user_id, member.display_name, int(member.is_bot))
    return Statement(UPSERT_MEMBER, params, True, batch_sql=UPSERT_MEMBERS_BATCH)


class _KnownMembers:
    """Members whose current name is known to be committed, so a burst of their likes skips the upsert.

    Only a committed upsert adds a member, and members are never deleted, so a hit is always true of the
    database (a rename by another process is the one thing missed, until the member's name changes again).
    Bounded by forgetting everything when full: cheap, and the next upsert of each member refills it.
    """

    LIMIT = 100_000

    def __init__(self) -> None:
        self._names: dict[tuple[str, str], tuple[str, bool]] = {}
        # Upserts queued but not committed yet: a burst of one member's reactions shares a single upsert
        # instead of queuing one per reaction before the first commit.
        self._queued: dict[tuple[str, str, str, bool], asyncio.Future[Any]] = {}

    def current(self, member: Member) -> bool:
        return self._names.get((member.platform, member.user_id)) == (member.display_name, member.is_bot)

    def queued(self, member: Member) -> asyncio.Future[Any] | None:
        future = self._queued.get((member.platform, member.user_id, member.display_name, member.is_bot))
        return future if future is not None and not future.done() else None

    def queue(self, member: Member, future: asyncio.Future[Any]) -> None:
        self._queued[(member.platform, member.user_id, member.display_name, member.is_bot)] = future

    def committed(self, member: Member) -> None:
        if len(self._names) >= self.LIMIT:
            self._names.clear()
        self._names[(member.platform, member.user_id)] = (member.display_name, member.is_bot)
        self._queued.pop((member.platform, member.user_id, member.display_name, member.is_bot), None)


class SqliteStore(ClusterMixin):
    """The studybot store. Create with :meth:`open`; every write is committed before its coroutine returns."""

    def __init__(self, path: str, writer: GroupCommitWriter, reader: Reader, version: int) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self.schema_version = version
        self._members = _KnownMembers()

    @classmethod
    async def open(cls, path: str | Path, *, batch_max: int = 2000) -> SqliteStore:
        """Open (creating if needed) and migrate the database, and check that it can be written.

        Raises :class:`storage.DatabaseTooNew` for a newer schema, and :class:`storage.DatabaseUnusable` when
        the file cannot be used where it is (a folder, a read-only file, ...) or is damaged: at start, before
        anything was written, rather than at the first write.
        """
        with explained(path):
            conn = await connect_raw(path)
            try:
                _, version = await migrate(conn, str(path))
                await check_writable(conn)
                await clusters.cluster_pending(conn)
                reader = await connect(path, read_only=True)
            except BaseException:
                await conn.close()
                raise
        writer = GroupCommitWriter(conn, batch_max)
        writer.start()
        logger.debug("opened %s at schema version %d", path, version)
        return cls(str(path), writer, Reader(reader), version)

    async def close(self) -> None:
        """Commit every write already queued, then close both connections. Safe to call twice."""
        await self._writer.close()
        await self._writer.close_connection()
        await self._reader.conn.close()

    async def __aenter__(self) -> SqliteStore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def writer_stats(self) -> WriterStats:
        """How the writer grouped the writes so far (``stats`` is taken by the port's course statistics)."""
        return self._writer.stats

    async def _exec(self, sql: str, params: Sequence[Any]) -> None:
        await self._writer.execute(sql, params)

    def _upsert_member(self, member: Member) -> asyncio.Future[Any] | None:
        """Queue the member's upsert unless it is known to be stored as it is; await the result with
        :meth:`_member_stored`."""
        if self._members.current(member):
            return None
        future = self._members.queued(member)
        if future is None:
            future = self._writer.submit(_member_op(member))
            self._members.queue(member, future)
        return future

    async def _member_stored(self, member: Member, upsert: asyncio.Future[Any] | None) -> None:
        if upsert is not None:
            await upsert
            self._members.committed(member)

    # courses ---------------------------------------------------------------------------------------------
    async def upsert_course(self, course: Course, now: datetime | None = None) -> Course:
        """Insert the course or overwrite every field of the stored one but its creation time; returns it as stored.

        A new course's creation time is ``course.created_at``, else ``now``, else the current time.
        """
        created = course.created_at or now or datetime.now(UTC)
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
        """Insert or update by (course, slug); the bool says whether it was new. created_at never changes."""
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

    # groups ----------------------------------------------------------------------------------------------
    async def get_group(self, chat: ChatRef) -> Group | None:
        """Exactly this chat (or topic): a topic does not fall back to its chat here; handlers.groups does that."""
        row = await self._reader.one(
            queries.GROUP_SELECT + " WHERE g.platform = ? AND g.chat_id = ? AND COALESCE(g.thread_id, '') = ?",
            (chat.platform, chat.chat_id, chat.thread_id or ""),
        )
        return codec.group_from(row) if row else None

    async def get_group_by_id(self, group_id: int) -> Group | None:
        row = await self._reader.one(queries.GROUP_SELECT + " WHERE g.id = ?", (group_id,))
        return codec.group_from(row) if row else None

    async def setup_group(self, chat: ChatRef, title: str, course_slug: str, language: str) -> Group:
        """Create the group (with the default like emojis) or point it at ``course_slug``; it becomes active."""

        async def op(conn: aiosqlite.Connection) -> Group:
            async with conn.execute(
                "SELECT id FROM study_groups WHERE platform = ? AND chat_id = ? AND COALESCE(thread_id, '') = ?",
                (chat.platform, chat.chat_id, chat.thread_id or ""),
            ) as cursor:
                found = await cursor.fetchone()
            if found is not None:
                group_id = found[0]
                await conn.execute(
                    "UPDATE study_groups SET title = ?, course_slug = ?, language = ?, active = 1, attention = NULL"
                    " WHERE id = ?",
                    (title, course_slug, language, group_id),
                )
            else:
                async with conn.execute(
                    "INSERT INTO study_groups (platform, chat_id, thread_id, title, course_slug, language, active)"
                    " VALUES (?, ?, ?, ?, ?, ?, 1)",
                    (chat.platform, chat.chat_id, chat.thread_id, title, course_slug, language),
                ) as cursor:
                    group_id = cursor.lastrowid
                await _write_emojis(conn, group_id, DEFAULT_LIKE_EMOJIS)
            async with conn.execute(queries.GROUP_SELECT + " WHERE g.id = ?", (group_id,)) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            return codec.group_from(row)

        return await self._writer.call(op)

    async def unfollow_group(self, group_id: int) -> None:
        """The group stops following its course (and gets no lessons or /top); its history stays."""
        await self._exec("UPDATE study_groups SET course_slug = NULL WHERE id = ?", (group_id,))

    async def set_group_language(self, group_id: int, language: str) -> None:
        await self._exec("UPDATE study_groups SET language = ? WHERE id = ?", (language, group_id))

    async def set_like_emojis(self, group_id: int, emojis: Sequence[str]) -> None:
        """Replace the group's like emojis (duplicates dropped, order kept). Old reactions are not recounted."""
        wanted = tuple(dict.fromkeys(emojis))

        async def op(conn: aiosqlite.Connection) -> None:
            await conn.execute("DELETE FROM group_like_emojis WHERE group_id = ?", (group_id,))
            await _write_emojis(conn, group_id, wanted)

        await self._writer.call(op)

    async def set_group_active(self, group_id: int, active: bool) -> None:
        await self._exec("UPDATE study_groups SET active = ? WHERE id = ?", (int(active), group_id))

    async def groups_following(self, course_slug: str) -> list[Group]:
        rows = await self._reader.all(
            queries.GROUP_SELECT + " WHERE g.course_slug = ? AND g.active = 1 ORDER BY g.id", (course_slug,)
        )
        return [codec.group_from(r) for r in rows]

    # lesson posts ----------------------------------------------------------------------------------------
    async def claim_lesson_post(self, lesson_id: int, group_id: int, now: datetime) -> LessonPost:
        """Record the intent (PENDING) unless one exists; a FAILED post is claimed again (back to PENDING)
        so that a crash during the retry leaves it for :func:`handlers.lessons.resume_pending_posts`."""
        claimed = codec.to_micros(now)

        async def op(conn: aiosqlite.Connection) -> LessonPost:
            await conn.execute(
                "INSERT INTO lesson_posts (lesson_id, group_id, state, claimed_at) VALUES (?, ?, 'pending', ?)"
                " ON CONFLICT (lesson_id, group_id) DO UPDATE SET state = 'pending', claimed_at = excluded.claimed_at"
                " WHERE state = 'failed'",
                (lesson_id, group_id, claimed),
            )
            async with conn.execute(
                queries.LESSON_POST_SELECT + " WHERE lesson_id = ? AND group_id = ?", (lesson_id, group_id)
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            return codec.lesson_post_from(row)

        return await self._writer.call(op)

    async def mark_lesson_posted(self, lesson_id: int, group_id: int, ref: MessageRef, now: datetime) -> None:
        at = codec.to_micros(now)
        await self._exec(
            "INSERT INTO lesson_posts (lesson_id, group_id, state, platform, chat_id, thread_id, message_id,"
            " claimed_at, posted_at) VALUES (?, ?, 'sent', ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (lesson_id, group_id) DO UPDATE SET state = 'sent', platform = excluded.platform,"
            " chat_id = excluded.chat_id, thread_id = excluded.thread_id, message_id = excluded.message_id,"
            " posted_at = excluded.posted_at",
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

    # members' posts --------------------------------------------------------------------------------------
    async def add_post(self, post: NewPost) -> Question:
        """Store a question or comment; a redelivered message (same ref) returns the stored one unchanged.

        Raises LookupError when the lesson does not exist.
        """
        created = codec.to_micros(post.created_at)
        ref = post.ref

        async def op(conn: aiosqlite.Connection) -> Question:
            async with conn.execute(
                "INSERT INTO questions (lesson_id, course_slug, group_id, author_id, kind, platform, chat_id,"
                " thread_id, message_id, text, created_at)"
                " SELECT l.id, l.course_slug, ?, m.id, ?, ?, ?, ?, ?, ?, ?"
                " FROM lessons l, members m WHERE l.id = ? AND m.platform = ? AND m.user_id = ?"
                " ON CONFLICT (platform, chat_id, message_id) DO NOTHING",
                (
                    post.group_id,
                    post.kind.value,
                    ref.platform,
                    ref.chat_id,
                    ref.thread_id,
                    ref.message_id,
                    post.text,
                    created,
                    post.lesson_id,
                    post.author.platform,
                    post.author.user_id,
                ),
            ) as cursor:
                inserted = cursor.lastrowid if cursor.rowcount > 0 else None
            if inserted is not None:
                await clusters.place(conn, inserted)  # in the insert's transaction: never seen unplaced
            async with conn.execute(f"{queries.QUESTIONS_FROM} WHERE q.{BY_REF}", _ref(ref)) as cursor:
                row = await cursor.fetchone()
            if row is None:
                raise LookupError(f"lesson {post.lesson_id} does not exist")
            return codec.question_from(row)

        member = self._upsert_member(post.author)
        question: Question = await self._writer.submit(Call(op))
        await self._member_stored(post.author, member)
        return question

    async def add_reply(self, question_id: int, author: Member, ref: MessageRef, text: str, at: datetime) -> bool:
        """Keep a discussion reply; False if this ref was already kept."""
        created = codec.to_micros(at)

        async def op(conn: aiosqlite.Connection) -> bool:
            async with conn.execute(
                "INSERT INTO replies (question_id, author_id, platform, chat_id, thread_id, message_id, text,"
                " created_at) SELECT ?, m.id, ?, ?, ?, ?, ?, ? FROM members m WHERE m.platform = ? AND m.user_id = ?"
                " ON CONFLICT (platform, chat_id, message_id) DO NOTHING",
                (
                    question_id,
                    ref.platform,
                    ref.chat_id,
                    ref.thread_id,
                    ref.message_id,
                    text,
                    created,
                    author.platform,
                    author.user_id,
                ),
            ) as cursor:
                return cursor.rowcount > 0

        member = self._upsert_member(author)
        added: bool = await self._writer.submit(Call(op))
        await self._member_stored(author, member)
        return added

    async def question_by_ref(self, ref: MessageRef) -> Question | None:
        row = await self._reader.one(f"{queries.QUESTIONS_FROM} WHERE q.{BY_REF}", _ref(ref))
        return codec.question_from(row) if row else None

    async def get_question(self, question_id: int) -> Question | None:
        row = await self._reader.one(f"{queries.QUESTIONS_FROM} WHERE q.id = ?", (question_id,))
        return codec.question_from(row) if row else None

    async def edit_post(self, ref: MessageRef, text: str, at: datetime) -> bool:
        """New text for a question, comment or reply; False when ``ref`` is none of ours."""
        edited = codec.to_micros(at)
        return await self._update_post("text = ?, edited_at = ?", (text, edited), ref)

    async def delete_post(self, ref: MessageRef, at: datetime) -> bool:
        """Mark a question, comment or reply deleted (the row stays); False if unknown or already deleted."""
        deleted = codec.to_micros(at)
        return await self._update_post("deleted = 1, deleted_at = ?", (deleted,), ref, " AND deleted = 0")

    async def _update_post(self, assignments: str, values: tuple[Any, ...], ref: MessageRef, extra: str = "") -> bool:
        async def op(conn: aiosqlite.Connection) -> bool:
            for table in ("questions", "replies"):
                sql = f"UPDATE {table} SET {assignments} WHERE {BY_REF}{extra}"
                async with conn.execute(sql, (*values, *_ref(ref))) as cursor:
                    if cursor.rowcount > 0:
                        return True
            return False

        return await self._writer.call(op)

    async def mark_answered(self, question_id: int, answer: str, at: datetime) -> None:
        answered = codec.to_micros(at)
        await self._exec(
            "UPDATE questions SET answered = 1, answer_text = ?, answered_at = ? WHERE id = ?",
            (answer, answered, question_id),
        )

    # likes -----------------------------------------------------------------------------------------------
    async def add_reaction(self, ref: MessageRef, member: Member, emoji: str, at: datetime) -> None:
        """Count a like when ``emoji`` is one of the group's like emojis and ``member`` is not the author.

        One like per member per question, however many like emojis; idempotent for redelivered events. One
        batched INSERT … SELECT, preceded (hoisted to the front of the batch) by the member's upsert unless the
        member is already known to be stored under this name.
        """
        await self.apply_reactions([ReactionChange(ref, member, emoji, at)])

    async def apply_reactions(self, changes: Sequence[ReactionChange]) -> None:
        """Apply the changes in order, all or none, and wait once.

        Every time is checked before anything is queued, so a bad change (a naive datetime) changes nothing.
        A burst is always one statement, so one call into SQLite and one commit, chosen for what SQLite pays
        per like: a lone change, or a burst of likes by members already stored, takes the plain statement (which
        the writer groups with its neighbours); a burst of likes that brings new members, the like_bursts view
        (the members' upserts, then every like, set-based); a burst with removals, the reaction_changes view,
        which applies its rows one by one in order.
        """
        times = [codec.to_micros(change.at) for change in changes]
        if len(changes) == 1:
            await self._apply_one(changes[0], times[0])
            return
        humans = [(change, created) for change, created in zip(changes, times, strict=True) if not change.member.is_bot]
        if not humans:
            return
        if all(change.added for change, _ in humans):
            await self._apply_likes(humans)
            return
        rows: list[tuple[str, Sequence[Any], str | None]] = []
        new_members: dict[tuple[str, str], Member] = {}
        for change, created in humans:
            member, ref = change.member, change.ref
            name = None
            if change.added and not self._members.current(member):
                key = (member.platform, member.user_id)
                if new_members.get(key) != member:
                    new_members[key] = member
                    name = member.display_name
            params = (*_ref(ref), member.user_id, change.emoji, int(change.added), created, name, 0)
            rows.append((APPLY_CHANGE, params, APPLY_CHANGES_BATCH))
        await self._writer.submit(Batch(rows))
        for member in new_members.values():
            self._members.committed(member)

    async def _apply_likes(self, likes: list[tuple[ReactionChange, int]]) -> None:
        """A burst of adds by members who are not bots: the plain statement, or like_bursts with new members."""
        params = [(t, c.emoji, c.member.platform, c.member.user_id, *_ref(c.ref)) for c, t in likes]
        new_members = {
            (c.member.platform, c.member.user_id): c.member for c, _ in likes if not self._members.current(c.member)
        }
        if not new_members:
            await self._writer.submit(Batch([(ADD_REACTION, p, ADD_REACTIONS_BATCH) for p in params]))
            return
        members = [[m.platform, m.user_id, m.display_name, int(m.is_bot)] for m in new_members.values()]
        await self._writer.submit(Statement(LIKE_BURST, (_json(members), _json(params)), batch_sql=LIKE_BURSTS_BATCH))
        for member in new_members.values():
            self._members.committed(member)

    async def _apply_one(self, change: ReactionChange, created: int) -> None:
        member, ref = change.member, change.ref
        if member.is_bot:
            return
        if not change.added:
            await self._exec(REMOVE_REACTION, (*_ref(ref), member.platform, member.user_id, change.emoji))
            return
        upsert = self._upsert_member(member)
        params = (created, change.emoji, member.platform, member.user_id, *_ref(ref))
        await self._writer.submit(Batch([(ADD_REACTION, params, ADD_REACTIONS_BATCH)]))
        await self._member_stored(member, upsert)

    async def remove_reaction(self, ref: MessageRef, member: Member, emoji: str) -> None:
        await self._exec(REMOVE_REACTION, (*_ref(ref), member.platform, member.user_id, emoji))

    async def clear_reactions(self, ref: MessageRef, emoji: str | None) -> None:
        """All of the message's reactions (``emoji`` None) or only those with ``emoji``."""
        if emoji is None:
            await self._exec(CLEAR_REACTIONS, _ref(ref))
        else:
            await self._exec(CLEAR_EMOJI, (*_ref(ref), emoji))

    async def set_base_likes(self, question_id: int, likes: int) -> None:
        """Imported likes without members; kept apart from members' likes and added in ``score``."""
        if likes < 0:
            raise ValueError(f"base likes cannot be negative (got {likes})")
        await self._exec("UPDATE questions SET base_likes = ? WHERE id = ?", (likes, question_id))

    # instructors -----------------------------------------------------------------------------------------
    async def add_instructor(self, instructor: Instructor) -> bool:
        """False if already an instructor (the stored display name is then left as it is)."""

        async def op(conn: aiosqlite.Connection) -> bool:
            async with conn.execute(
                "INSERT INTO instructors (course_slug, platform, user_id, display_name) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (instructor.course_slug, instructor.platform, instructor.user_id, instructor.display_name),
            ) as cursor:
                return cursor.rowcount > 0

        return await self._writer.call(op)

    async def instructors(self, course_slug: str) -> list[Instructor]:
        rows = await self._reader.all("SELECT * FROM instructors WHERE course_slug = ? ORDER BY rowid", (course_slug,))
        return [codec.instructor_from(r) for r in rows]

    async def instructor_courses(self, platform: str, user_id: str) -> list[str]:
        rows = await self._reader.all(
            "SELECT course_slug FROM instructors WHERE platform = ? AND user_id = ? ORDER BY course_slug",
            (platform, user_id),
        )
        return [r[0] for r in rows]

    # queries ---------------------------------------------------------------------------------------------
    async def top_questions(
        self, course_slug: str, limit: int, *, lesson_id: int | None = None, include_answered: bool = True
    ) -> list[RankedQuestion]:
        """Most liked first (members' + imported likes), earlier first on ties; deleted ones left out. A cluster
        of near-duplicates counts as one question with its distinct likers (see storage.clusters)."""
        answered = "" if include_answered else "AND answered = 0"
        template = queries.TOP if lesson_id is None else queries.TOP_IN_LESSON
        params: dict[str, Any] = {"course": course_slug, "lesson": lesson_id, "answered": include_answered}
        sql = template.format(answered=answered)
        return await clusters.ranked_by_cluster(self._reader, course_slug, limit, sql, params, clusters.TOP_SCOPE)

    async def period_questions(self, course_slug: str, window: PostWindow, limit: int) -> list[RankedQuestion]:
        """The most liked questions (clusters, see storage.clusters) of the window, same order as top_questions."""
        params = _window(course_slug, window)
        return await clusters.ranked_by_cluster(
            self._reader, course_slug, limit, queries.PERIOD, params, clusters.PERIOD_SCOPE
        )

    async def period_summary(self, course_slug: str, window: PostWindow) -> PeriodSummary:
        """The window's posts that are not deleted: questions, comments, their likes now (score), and the
        lesson with the most of them (the earlier lesson on a tie)."""
        row = await self._reader.one(queries.PERIOD_SUMMARY, _window(course_slug, window))
        assert row is not None  # an aggregate always has a row
        return PeriodSummary(row["questions"], row["comments"], row["likes"], row["most_active"])

    async def newest_post_id(self) -> int:
        row = await self._reader.one("SELECT MAX(id) FROM questions")
        return int(row[0] or 0) if row else 0

    async def stats(self, course_slug: str) -> Stats:
        """Counts over the course's posts that are not deleted. likes = their total score (members' + imported);
        members = distinct authors of those posts and of their replies."""
        row = await self._reader.one(queries.STATS, {"course": course_slug})
        assert row is not None
        return Stats(
            lessons=row["lessons"],
            questions=row["questions"],
            comments=row["comments"],
            replies=row["replies"],
            likes=row["likes"],
            answered=row["answered"],
            members=row["members"],
        )

    async def export_rows(self, course_slug: str) -> list[ExportRow]:
        """Every question and comment that is not deleted, with its lesson's title and its replies, in course
        order (lesson number, then time)."""
        params = {"course": course_slug}
        posts = await self._reader.all(queries.EXPORT_POSTS, params)
        replies: dict[int, list[Reply]] = {}
        for row in await self._reader.all(queries.EXPORT_REPLIES, params):
            replies.setdefault(row["question_id"], []).append(codec.reply_from(row))
        return [ExportRow(codec.question_from(r), r["lesson_title"], tuple(replies.get(r["id"], ()))) for r in posts]

    # digests ---------------------------------------------------------------------------------------------
    async def last_digest_end(self, course_slug: str) -> datetime | None:
        row = await self._reader.one("SELECT MAX(period_end) FROM digests WHERE course_slug = ?", (course_slug,))
        return codec.from_micros_or_none(row[0] if row else None)

    async def digested_through(self, course_slug: str) -> int:
        row = await self._reader.one(
            "SELECT through_post FROM digests WHERE course_slug = ? ORDER BY period_end DESC LIMIT 1", (course_slug,)
        )
        return int(row[0]) if row else 0

    async def record_digest(
        self,
        course_slug: str,
        start: datetime,
        end: datetime,
        through_post: int,
        items: Sequence[DigestItem],
        summary: PeriodSummary,
        now: datetime,
    ) -> tuple[Digest, bool]:
        """Record the period's digest unless that period (course, end) already has one; the bool says it is new."""
        values = (
            course_slug,
            codec.to_micros(start),
            codec.to_micros(end),
            through_post,
            codec.items_to_json(items),
            codec.summary_to_json(summary),
            codec.to_micros(now),
        )

        async def op(conn: aiosqlite.Connection) -> tuple[Digest, bool]:
            async with conn.execute(
                "INSERT INTO digests (course_slug, period_start, period_end, through_post, items, summary, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (course_slug, period_end) DO NOTHING",
                values,
            ) as cursor:
                new = cursor.rowcount > 0
            async with conn.execute(
                queries.DIGEST_SELECT + " WHERE course_slug = ? AND period_end = ?", (values[0], values[2])
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            return codec.digest_from(row), new

        return await self._writer.call(op)

    async def digest_deliveries(self, digest_id: int) -> set[tuple[str, str]]:
        rows = await self._reader.all(
            "SELECT platform, user_id FROM digest_deliveries WHERE digest_id = ?", (digest_id,)
        )
        return {(r[0], r[1]) for r in rows}

    async def mark_digest_delivered(self, digest_id: int, platform: str, user_id: str, at: datetime) -> None:
        await self._exec(
            "INSERT OR IGNORE INTO digest_deliveries (digest_id, platform, user_id, delivered_at) VALUES (?, ?, ?, ?)",
            (digest_id, platform, user_id, codec.to_micros(at)),
        )

    # discord: instructors' channels, groups needing attention, reconciliation of likes ----------------------
    async def set_instructors_channel(self, course_slug: str, chat: ChatRef) -> None:
        await self._exec(
            "INSERT INTO instructor_channels (course_slug, platform, chat_id, thread_id) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (course_slug, platform) DO UPDATE SET chat_id = excluded.chat_id,"
            " thread_id = excluded.thread_id",
            (course_slug, chat.platform, chat.chat_id, chat.thread_id),
        )

    async def instructors_channel(self, course_slug: str, platform: str) -> ChatRef | None:
        row = await self._reader.one(
            "SELECT chat_id, thread_id FROM instructor_channels WHERE course_slug = ? AND platform = ?",
            (course_slug, platform),
        )
        return ChatRef(platform, row["chat_id"], row["thread_id"]) if row else None

    async def set_group_attention(self, group_id: int, reason: str | None) -> None:
        await self._exec("UPDATE study_groups SET attention = ? WHERE id = ?", (reason, group_id))

    async def groups_needing_attention(self, platform: str) -> list[Group]:
        rows = await self._reader.all(
            queries.GROUP_SELECT + " WHERE g.platform = ? AND g.attention IS NOT NULL ORDER BY g.id", (platform,)
        )
        return [codec.group_from(r) for r in rows]

    async def groups_on(self, platform: str) -> list[Group]:
        rows = await self._reader.all(
            queries.GROUP_SELECT + " WHERE g.platform = ? AND g.active = 1 AND g.course_slug IS NOT NULL ORDER BY g.id",
            (platform,),
        )
        return [codec.group_from(r) for r in rows]

    async def recent_questions(self, platform: str, since: datetime) -> list[Question]:
        rows = await self._reader.all(
            f"{queries.QUESTIONS_FROM} WHERE q.platform = ? AND q.created_at >= ? AND q.deleted = 0"
            " AND q.message_id IS NOT NULL ORDER BY q.created_at, q.id",
            (platform, codec.to_micros(since)),
        )
        return [codec.question_from(r) for r in rows]

    async def reconcile_reactions(
        self, ref: MessageRef, reactions: Sequence[tuple[Member, str]], at: datetime
    ) -> ReactionFix | None:
        """Kept reactions become exactly ``reactions`` (by the add_reaction rules), in one transaction.

        A reported reaction whose emoji is no longer a like emoji stays kept if it was (as add/remove events
        would leave it); the like-count triggers follow every insert and delete.
        """
        created = codec.to_micros(at)
        reported = [(m, e) for m, e in dict.fromkeys(reactions) if not m.is_bot]

        async def op(conn: aiosqlite.Connection) -> ReactionFix | None:
            async with conn.execute(f"SELECT id, author_id, group_id FROM questions WHERE {BY_REF}", _ref(ref)) as cur:
                found = await cur.fetchone()
            if found is None:
                return None
            question_id, author_id, group_id = found[0], found[1], found[2]
            async with conn.execute("SELECT emoji FROM group_like_emojis WHERE group_id = ?", (group_id,)) as cur:
                like_emojis = {r[0] for r in await cur.fetchall()}
            users: dict[int, str] = {}
            wanted: set[tuple[int, str]] = set()
            for member, emoji in reported:
                op_ = _member_op(member)
                await conn.execute(op_.sql, op_.params)
                async with conn.execute(
                    "SELECT id FROM members WHERE platform = ? AND user_id = ?", (member.platform, member.user_id)
                ) as cur:
                    row = await cur.fetchone()
                assert row is not None  # just upserted
                if row[0] != author_id:
                    users[row[0]] = member.user_id
                    wanted.add((row[0], emoji))
            async with conn.execute(
                "SELECT r.member_id, r.emoji, m.user_id FROM reactions r JOIN members m ON m.id = r.member_id"
                " WHERE r.question_id = ?",
                (question_id,),
            ) as cur:
                kept_rows = await cur.fetchall()
            kept = {(r[0], r[1]) for r in kept_rows}
            users.update({r[0]: r[2] for r in kept_rows})
            removed = sorted(kept - wanted)
            added = sorted(k for k in wanted - kept if k[1] in like_emojis)
            await conn.executemany(
                "DELETE FROM reactions WHERE question_id = ? AND member_id = ? AND emoji = ?",
                [(question_id, member_id, emoji) for member_id, emoji in removed],
            )
            await conn.executemany(
                "INSERT INTO reactions (question_id, member_id, emoji, created_at) VALUES (?, ?, ?, ?)",
                [(question_id, member_id, emoji, created) for member_id, emoji in added],
            )
            return ReactionFix(
                question_id,
                tuple((users[m], e) for m, e in added),
                tuple((users[m], e) for m, e in removed),
            )

        return await self._writer.call(op)

    # platform changes ------------------------------------------------------------------------------------
    async def move_chat(self, platform: str, old_chat_id: str, new_chat_id: str) -> int:
        """A chat got a new id (a Telegram group became a supergroup): everything kept for it follows.

        One transaction over every table that points at chats, so the group's questions, likes, replies and
        lesson posts are found under the new id. Returns how many groups moved (0 when already moved).
        """

        async def op(conn: aiosqlite.Connection) -> int:
            async with conn.execute(
                "UPDATE study_groups SET chat_id = ? WHERE platform = ? AND chat_id = ?",
                (new_chat_id, platform, old_chat_id),
            ) as cursor:
                moved = cursor.rowcount
            for table in ("questions", "replies", "lesson_posts"):
                await conn.execute(
                    f"UPDATE {table} SET chat_id = ? WHERE platform = ? AND chat_id = ?",
                    (new_chat_id, platform, old_chat_id),
                )
            return moved

        return await self._writer.call(op)

    async def set_anonymous_likes(self, ref: MessageRef, counts: Sequence[tuple[str, int]]) -> None:
        """Anonymous reactions arrive as totals per emoji. What the totals of the group's like emojis hold beyond
        the members' reactions we know is kept as the question's base likes (likes without member ids)."""
        if not counts:
            counts = [("", 0)]
        values = ", ".join("(?, ?)" for _ in counts)
        flat = [item for pair in counts for item in pair]
        await self._exec(
            f"WITH totals(emoji, n) AS (VALUES {values})"
            " UPDATE questions SET base_likes = MAX(0,"
            "   COALESCE((SELECT SUM(t.n) FROM totals t JOIN group_like_emojis e"
            "             ON e.emoji = t.emoji AND e.group_id = questions.group_id), 0)"
            "   - (SELECT COUNT(*) FROM reactions r WHERE r.question_id = questions.id))"
            " WHERE platform = ? AND chat_id = ? AND message_id = ?",
            (*flat, *_ref(ref)),
        )

    # leases ----------------------------------------------------------------------------------------------
    async def acquire_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; False while another holds it.

        One statement: the insert wins when nobody holds the lease, the update when ``holder`` already does or
        the other holder's lease has expired (it crashed or stalled). SQLite serialises writers, so two processes
        can never both win.
        """
        until, at = codec.to_micros(now + ttl), codec.to_micros(now)

        async def op(conn: aiosqlite.Connection) -> bool:
            await conn.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
                " WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
                (name, holder, until, at),
            )
            async with conn.execute("SELECT holder FROM leases WHERE name = ?", (name,)) as cursor:
                row = await cursor.fetchone()
            return row is not None and row[0] == holder

        return await self._writer.call(op)

    async def release_lease(self, name: str, holder: str) -> None:
        await self._exec("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    async def next_release_after(self, now: datetime) -> datetime | None:
        """The earliest release time still to come among lessons not yet published."""
        row = await self._reader.one(
            "SELECT MIN(release_at) FROM lessons WHERE published_at IS NULL AND release_at > ?",
            (codec.to_micros(now),),
        )
        return codec.from_micros_or_none(row[0] if row else None)

    async def unsent_digests(self) -> list[Digest]:
        rows = await self._reader.all(queries.DIGEST_SELECT + " WHERE sent_at IS NULL ORDER BY period_end, id")
        return [codec.digest_from(r) for r in rows]

    async def mark_digest_sent(self, digest_id: int, now: datetime) -> None:
        """The first send time is kept."""
        await self._exec(
            "UPDATE digests SET sent_at = ? WHERE id = ? AND sent_at IS NULL", (codec.to_micros(now), digest_id)
        )

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
        :mod:`storage.sources`)."""
        return await self._writer.call(sources.import_lesson_op(draft, posts, now, course, hold, listed))

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
        row = await self._reader.one(sources.FEED_SELECT + " WHERE course_slug = ? AND url = ?", (course_slug, url))
        return sources.feed_state_from(row) if row else None

    async def add_feed(self, course_slug: str, url: str, now: datetime) -> FeedState:
        return await self._writer.call(sources.add_feed_op(course_slug, url, now))

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
        op = sources.feed_polled_op(course_slug, url, entries, etag, last_modified, now, next_attempt)
        return await self._writer.call(op)

    async def feed_failed(self, course_slug: str, url: str, error: str, now: datetime, next_attempt: datetime) -> None:
        await self._exec(
            "UPDATE feeds SET failures = failures + 1, last_error = ?, next_attempt_at = ?"
            " WHERE course_slug = ? AND url = ?",
            (error[:500], codec.to_micros(next_attempt), course_slug, url),
        )


async def _write_emojis(conn: aiosqlite.Connection, group_id: int | None, emojis: Sequence[str]) -> None:
    await conn.executemany(
        "INSERT INTO group_like_emojis (group_id, emoji, position) VALUES (?, ?, ?)",
        [(group_id, emoji, position) for position, emoji in enumerate(emojis)],
    )


def _window(course_slug: str, window: PostWindow) -> dict[str, Any]:
    since = queries.MIN_TIME if window.since is None else codec.to_micros(window.since)
    return {"course": course_slug, "after": window.after, "through": window.through, "since": since}

