"""Telling people on PostgreSQL (issue 16): follows, reminders of questions left unanswered, answer posts, and
answers reused for a new duplicate (with the asker's ❓ that reopens it).

The rules are :mod:`storage.notify`'s. Several processes may remind at once: a reminder is claimed by inserting
its row, and only the transaction whose insert went in (``ON CONFLICT DO NOTHING`` waits for a concurrent one
and then does nothing) marks the question and sends. A reopening is one transaction that starts with a
conditional update of the reuse's row, so of two at once one reopens and the other finds it done.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from handlers.vocabulary.domain import Member, MessageRef, Question
from storage import codec, notify
from storage.postgres import clusters
from storage.postgres.base import PgBase, affected
from storage.postgres.named import named

logger = logging.getLogger(__name__)

# The open, liked, unreminded questions are found in question_counts (migration 0020), by its partial index.
REMINDER_CANDIDATES = notify.reminder_candidates("counted_questions o")

# Members who liked any of the questions and follow answers (each once).
_FOLLOWING_LIKERS = """
    SELECT DISTINCT m.platform, m.user_id, m.display_name, m.is_bot
    FROM reactions r JOIN members m ON m.id = r.member_id
    JOIN follows f ON f.platform = m.platform AND f.user_id = m.user_id
    WHERE r.question_id = ANY($1::bigint[]) AND m.is_bot = 0
    ORDER BY m.platform, m.user_id
"""


class PgNotifyRows(PgBase):
    """Follows, reminders, answer posts and reused answers (:class:`handlers.ports.notify.NotifyStore`)."""

    # follows ----------------------------------------------------------------------------------------------------
    async def set_follow(self, platform: str, user_id: str, on: bool, at: datetime) -> None:
        if on:
            await self._execute(
                "INSERT INTO follows (platform, user_id, followed_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                platform, user_id, codec.to_micros(at),
            )  # fmt: skip
        else:
            await self._execute("DELETE FROM follows WHERE platform = $1 AND user_id = $2", platform, user_id)

    async def follows(self, platform: str, user_id: str) -> bool:
        row = await self._fetchrow("SELECT 1 FROM follows WHERE platform = $1 AND user_id = $2", platform, user_id)
        return row is not None

    async def following_likers(self, question_ids: Sequence[int]) -> list[Member]:
        if not question_ids:
            return []
        rows = await self._fetch(_FOLLOWING_LIKERS, list(question_ids))
        return [Member(r["platform"], r["user_id"], r["display_name"], bool(r["is_bot"])) for r in rows]

    # reminders --------------------------------------------------------------------------------------------------
    async def set_remind_days(self, course_slug: str, days: int | None) -> None:
        if days is None:
            await self._execute("DELETE FROM course_reminders WHERE course_slug = $1", course_slug)
        else:
            await self._execute(
                "INSERT INTO course_reminders (course_slug, days) VALUES ($1, $2)"
                " ON CONFLICT (course_slug) DO UPDATE SET days = excluded.days",
                course_slug, days,
            )  # fmt: skip

    async def remind_days(self, course_slug: str) -> int | None:
        value = await self._fetchval("SELECT days FROM course_reminders WHERE course_slug = $1", course_slug)
        return int(value) if value is not None else None

    async def reminder_courses(self) -> list[tuple[str, int]]:
        rows = await self._fetch("SELECT course_slug, days FROM course_reminders ORDER BY course_slug")
        return [(r["course_slug"], int(r["days"])) for r in rows]

    async def reminder_candidates(self, course_slug: str, asked_before: datetime, limit: int) -> list[Question]:
        sql, args = named(
            REMINDER_CANDIDATES, {"course": course_slug, "cutoff": codec.to_micros(asked_before), "limit": limit}
        )
        rows = await self._fetch(sql, *args)
        return [codec.question_from(r) for r in rows]

    async def claim_reminder(self, question_id: int, course_slug: str, at: datetime) -> bool:
        micros = codec.to_micros(at)
        async with self._transaction() as conn:
            status = await conn.execute(
                "INSERT INTO question_reminders (question_id, course_slug, reminded_at) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING",
                question_id, course_slug, micros,
            )  # fmt: skip
            if affected(status) != 1:
                return False
            # The claim's mirror on the question, which takes it out of the candidates' index.
            await conn.execute("UPDATE questions SET reminded_at = $1 WHERE id = $2", micros, question_id)
            return True

    async def reminders_to_deliver(
        self, course_slug: str, platform: str, since: datetime, limit: int
    ) -> list[Question]:
        sql, args = named(
            notify.REMINDERS_TO_DELIVER,
            {"course": course_slug, "platform": platform, "since": codec.to_micros(since), "limit": limit},
        )
        return [codec.question_from(r) for r in await self._fetch(sql, *args)]

    async def claim_reminder_delivery(self, question_id: int, platform: str, at: datetime) -> bool:
        status = await self._execute(
            "INSERT INTO reminder_deliveries (question_id, platform, claimed_at) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING",
            question_id, platform, codec.to_micros(at),
        )  # fmt: skip
        return affected(status) == 1

    async def reminded_among(self, question_ids: Sequence[int]) -> set[int]:
        if not question_ids:
            return set()
        rows = await self._fetch(
            "SELECT question_id FROM question_reminders WHERE question_id = ANY($1::bigint[])", list(question_ids)
        )
        return {int(r["question_id"]) for r in rows}

    # answers ----------------------------------------------------------------------------------------------------
    async def record_answer_post(self, question_id: int, ref: MessageRef, at: datetime) -> None:
        await self._execute(
            "INSERT INTO answer_posts (question_id, platform, chat_id, thread_id, message_id, guild_id, posted_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            question_id, ref.platform, ref.chat_id, ref.thread_id, ref.message_id, ref.guild_id, codec.to_micros(at),
        )  # fmt: skip

    async def answer_post(self, question_ids: Sequence[int], platform: str, chat_id: str) -> MessageRef | None:
        """Where an answer to one of the questions was posted: in ``chat_id`` if it was, else anywhere on the
        platform (a link to another group's message), the latest first."""
        if not question_ids:
            return None
        row = await self._fetchrow(
            "SELECT platform, chat_id, thread_id, message_id, guild_id FROM answer_posts"
            " WHERE question_id = ANY($1::bigint[]) AND platform = $2"
            " ORDER BY chat_id = $3 DESC, posted_at DESC LIMIT 1",
            list(question_ids), platform, chat_id,
        )  # fmt: skip
        if row is None:
            return None
        return MessageRef(
            row["platform"], row["chat_id"], row["message_id"], row["thread_id"], guild_id=row["guild_id"]
        )

    async def reuse_answer(self, question_id: int, source_id: int, answer: str, at: datetime) -> None:
        micros = codec.to_micros(at)
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO answer_reuses (question_id, source_id, reused_at) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING",
                question_id, source_id, micros,
            )  # fmt: skip
            await conn.execute(
                "UPDATE questions SET answered = 1, answer_text = $1, answered_at = $2 WHERE id = $3",
                answer, micros, question_id,
            )  # fmt: skip

    async def reused_answer_of(self, question_id: int) -> int | None:
        value = await self._fetchval(
            "SELECT source_id FROM answer_reuses WHERE question_id = $1 AND reopened_at IS NULL", question_id
        )
        return int(value) if value is not None else None

    async def reopen_question(self, question_id: int, at: datetime) -> bool:
        micros = codec.to_micros(at)
        async with self._transaction() as conn:
            status = await conn.execute(
                "UPDATE answer_reuses SET reopened_at = $1 WHERE question_id = $2 AND reopened_at IS NULL",
                micros, question_id,
            )  # fmt: skip
            if affected(status) != 1:
                return False
            await clusters.split(conn, question_id, at)  # what /split records
            await conn.execute(
                "UPDATE questions SET answered = 0, answer_text = NULL, answered_at = NULL WHERE id = $1", question_id
            )
            return True
