"""The SQL of telling people (issue 16): members who follow answers, reminders of questions left unanswered, and
answers reused for a new duplicate (with the asker's ❓ that reopens it).

Reminders are claimed before they are sent: :meth:`NotifyRows.claim_reminder` inserts the question's row and says
whether this call inserted it, so two processes (or a process before and after a restart) never both send one.
Reopening a reused answer is one transaction: the question leaves its cluster by the same decision ``/split``
records (so re-clustering keeps it apart), loses the borrowed answer, and the reuse is marked reopened.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from handlers.vocabulary.domain import Member, MessageRef, Question
from storage import clusters, codec, queries
from storage.base import StoreBase

logger = logging.getLogger(__name__)


def reminder_candidates(to_remind: str) -> str:
    """Unanswered questions of the course older than the cutoff and liked, not reminded, oldest first; a cluster
    is reminded as its first copy (liked through any copy). The inner scan reads ``to_remind`` (as ``o``): on
    SQLite the partial index questions_to_remind, which holds only liked, open, unreminded questions, on
    PostgreSQL its like on question_counts through ``counted_questions``; it stops after LIMIT."""
    return f"""
    {queries.QUESTIONS_FROM}
    WHERE q.id IN (
        SELECT COALESCE(o.duplicate_of, o.id) FROM {to_remind}
        WHERE o.course_slug = :course AND o.created_at <= :cutoff
          AND o.answered = 0 AND o.deleted = 0 AND o.kind = 'question' AND o.score >= 1 AND o.reminded_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM question_reminders r WHERE r.question_id = COALESCE(o.duplicate_of, o.id))
        ORDER BY o.created_at, o.id LIMIT :limit
    )
    AND q.answered = 0 AND q.deleted = 0
    ORDER BY q.created_at, q.id
"""


REMINDER_CANDIDATES = reminder_candidates("questions o INDEXED BY questions_to_remind")

# Reminded questions of the course not yet delivered on the platform, oldest reminder first: each platform's
# leader sends its own share (reminder_deliveries, 0016). Only reminders since the cutoff: a platform whose leader
# was away for long, or whose first instructor joined later, is not sent the course's whole history.
REMINDERS_TO_DELIVER = f"""
    {queries.QUESTIONS_FROM}
    JOIN question_reminders r ON r.question_id = q.id
    WHERE r.course_slug = :course AND r.reminded_at >= :since AND q.answered = 0 AND q.deleted = 0
      AND NOT EXISTS (SELECT 1 FROM reminder_deliveries d WHERE d.question_id = q.id AND d.platform = :platform)
    ORDER BY r.reminded_at, q.id
    LIMIT :limit
"""

# Members who liked any of the questions and follow answers (each once).
_FOLLOWING_LIKERS = """
    SELECT DISTINCT m.platform, m.user_id, m.display_name, m.is_bot
    FROM reactions r JOIN members m ON m.id = r.member_id
    JOIN follows f ON f.platform = m.platform AND f.user_id = m.user_id
    WHERE r.question_id IN ({ids}) AND m.is_bot = 0
    ORDER BY m.platform, m.user_id
"""


class NotifyRows(StoreBase):
    """Follows, reminders, answer posts and reused answers (:class:`handlers.ports.notify.NotifyStore`)."""

    # follows ----------------------------------------------------------------------------------------------------
    async def set_follow(self, platform: str, user_id: str, on: bool, at: datetime) -> None:
        if on:
            await self._exec(
                "INSERT OR IGNORE INTO follows (platform, user_id, followed_at) VALUES (?, ?, ?)",
                (platform, user_id, codec.to_micros(at)),
            )
        else:
            await self._exec("DELETE FROM follows WHERE platform = ? AND user_id = ?", (platform, user_id))

    async def follows(self, platform: str, user_id: str) -> bool:
        row = await self._reader.one("SELECT 1 FROM follows WHERE platform = ? AND user_id = ?", (platform, user_id))
        return row is not None

    async def following_likers(self, question_ids: Sequence[int]) -> list[Member]:
        if not question_ids:
            return []
        sql = _FOLLOWING_LIKERS.format(ids=",".join("?" * len(question_ids)))
        rows = await self._reader.all(sql, list(question_ids))
        return [Member(r["platform"], r["user_id"], r["display_name"], bool(r["is_bot"])) for r in rows]

    # reminders --------------------------------------------------------------------------------------------------
    async def set_remind_days(self, course_slug: str, days: int | None) -> None:
        if days is None:
            await self._exec("DELETE FROM course_reminders WHERE course_slug = ?", (course_slug,))
        else:
            await self._exec(
                "INSERT INTO course_reminders (course_slug, days) VALUES (?, ?)"
                " ON CONFLICT (course_slug) DO UPDATE SET days = excluded.days",
                (course_slug, days),
            )

    async def remind_days(self, course_slug: str) -> int | None:
        row = await self._reader.one("SELECT days FROM course_reminders WHERE course_slug = ?", (course_slug,))
        return int(row[0]) if row else None

    async def reminder_courses(self) -> list[tuple[str, int]]:
        rows = await self._reader.all("SELECT course_slug, days FROM course_reminders ORDER BY course_slug")
        return [(r[0], int(r[1])) for r in rows]

    async def reminder_candidates(self, course_slug: str, asked_before: datetime, limit: int) -> list[Question]:
        rows = await self._reader.all(
            REMINDER_CANDIDATES, {"course": course_slug, "cutoff": codec.to_micros(asked_before), "limit": limit}
        )
        return [codec.question_from(r) for r in rows]

    async def claim_reminder(self, question_id: int, course_slug: str, at: datetime) -> bool:
        async def op(conn: aiosqlite.Connection) -> bool:
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO question_reminders (question_id, course_slug, reminded_at) VALUES (?, ?, ?)",
                (question_id, course_slug, codec.to_micros(at)),
            )
            if cursor.rowcount != 1:
                return False
            # The claim's mirror on the question, which takes it out of the candidates' index.
            await conn.execute("UPDATE questions SET reminded_at = ? WHERE id = ?", (codec.to_micros(at), question_id))
            return True

        return await self._writer.call(op)

    async def reminders_to_deliver(
        self, course_slug: str, platform: str, since: datetime, limit: int
    ) -> list[Question]:
        rows = await self._reader.all(
            REMINDERS_TO_DELIVER,
            {"course": course_slug, "platform": platform, "since": codec.to_micros(since), "limit": limit},
        )
        return [codec.question_from(r) for r in rows]

    async def claim_reminder_delivery(self, question_id: int, platform: str, at: datetime) -> bool:
        async def op(conn: aiosqlite.Connection) -> bool:
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO reminder_deliveries (question_id, platform, claimed_at) VALUES (?, ?, ?)",
                (question_id, platform, codec.to_micros(at)),
            )
            return cursor.rowcount == 1

        return await self._writer.call(op)

    async def reminded_among(self, question_ids: Sequence[int]) -> set[int]:
        if not question_ids:
            return set()
        marks = ",".join("?" * len(question_ids))
        rows = await self._reader.all(
            f"SELECT question_id FROM question_reminders WHERE question_id IN ({marks})", list(question_ids)
        )
        return {int(r[0]) for r in rows}

    # answers ----------------------------------------------------------------------------------------------------
    async def record_answer_post(self, question_id: int, ref: MessageRef, at: datetime) -> None:
        await self._exec(
            "INSERT OR IGNORE INTO answer_posts (question_id, platform, chat_id, thread_id, message_id, guild_id,"
            " posted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (question_id, ref.platform, ref.chat_id, ref.thread_id, ref.message_id, ref.guild_id, codec.to_micros(at)),
        )

    async def answer_post(self, question_ids: Sequence[int], platform: str, chat_id: str) -> MessageRef | None:
        """Where an answer to one of the questions was posted: in ``chat_id`` if it was, else anywhere on the
        platform (a link to another group's message), the latest first."""
        if not question_ids:
            return None
        marks = ",".join("?" * len(question_ids))
        row = await self._reader.one(
            "SELECT platform, chat_id, thread_id, message_id, guild_id FROM answer_posts"
            f" WHERE question_id IN ({marks}) AND platform = ?"
            " ORDER BY chat_id = ? DESC, posted_at DESC LIMIT 1",
            (*question_ids, platform, chat_id),
        )
        if row is None:
            return None
        return MessageRef(row[0], row[1], row[3], row[2], guild_id=row[4])

    async def reuse_answer(self, question_id: int, source_id: int, answer: str, at: datetime) -> None:
        micros = codec.to_micros(at)

        async def op(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT OR IGNORE INTO answer_reuses (question_id, source_id, reused_at) VALUES (?, ?, ?)",
                (question_id, source_id, micros),
            )
            await conn.execute(
                "UPDATE questions SET answered = 1, answer_text = ?, answered_at = ? WHERE id = ?",
                (answer, micros, question_id),
            )

        await self._writer.call(op)

    async def reused_answer_of(self, question_id: int) -> int | None:
        row = await self._reader.one(
            "SELECT source_id FROM answer_reuses WHERE question_id = ? AND reopened_at IS NULL", (question_id,)
        )
        return int(row[0]) if row else None

    async def reopen_question(self, question_id: int, at: datetime) -> bool:
        micros = codec.to_micros(at)
        split = clusters.split_op(question_id, at)

        async def op(conn: aiosqlite.Connection) -> bool:
            cursor = await conn.execute(
                "UPDATE answer_reuses SET reopened_at = ? WHERE question_id = ? AND reopened_at IS NULL",
                (micros, question_id),
            )
            if cursor.rowcount != 1:
                return False
            await split(conn)
            await conn.execute(
                "UPDATE questions SET answered = 0, answer_text = NULL, answered_at = NULL WHERE id = ?",
                (question_id,),
            )
            return True

        return await self._writer.call(op)
