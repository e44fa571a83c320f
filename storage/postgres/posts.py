"""Members' posts on PostgreSQL: questions, comments and discussion replies, kept by their platform message
(the counterpart of :mod:`storage.posts`)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from handlers.vocabulary.domain import Member, MessageRef, NewPost, Question
from storage import codec, queries
from storage.postgres import clusters
from storage.postgres.base import BY_REF, Conn, PgBase, affected, numbered, ref_params

logger = logging.getLogger(__name__)

QUESTION_BY_REF = f"{queries.QUESTIONS_FROM} WHERE q.{BY_REF}"
_SAME_REF = "platform = $3 AND chat_id = $4 AND message_id = $5"
EDIT_QUESTION = f"UPDATE questions SET text = $1, edited_at = $2 WHERE {_SAME_REF} RETURNING id, course_slug"
EDIT_REPLY = f"UPDATE replies SET text = $1, edited_at = $2 WHERE {_SAME_REF}"
QUESTION_BY_ID = f"{queries.QUESTIONS_FROM} WHERE q.id = $1"

# The advisory locks new posts are inserted under (two-key form, a key space apart from the migration lock):
# the course's, exclusive, keyed by the slug's hash; and the id barrier, shared. See :func:`lock_course_posts`.
POSTS_LOCK = 0x504F5354  # "POST"
BARRIER_LOCK = POSTS_LOCK + 1
LOCK_COURSE_POSTS = "SELECT pg_advisory_xact_lock_shared($1, 0), pg_advisory_xact_lock($2, hashtext($3))"


async def lock_course_posts(conn: Conn, course_slug: str) -> None:
    """Take the locks a transaction inserting posts of ``course_slug`` holds until it ends.

    Why: a digest's window is a range of post ids (``digests.through_post`` is a watermark, read by
    ``newest_post_id``), which assumes posts become visible in id order. On SQLite the one writer guarantees
    that; on PostgreSQL two transactions may draw ids 7 and 8 and commit 8 first, and a digest reading then would
    pass 7 by for good. So every insert of posts takes, before its ids are drawn and until its commit:

    * the course's lock, exclusive (``pg_advisory_xact_lock``): a course's post ids commit in id order;
    * the id barrier, shared: posts of all courses go side by side, and :func:`newest_settled_post_id` takes the
      barrier exclusively, so it reads the newest id only when no insert of any course is in flight (the
      watermark is over every course's ids, so a course's lock alone could not protect it).
    """
    await conn.execute(LOCK_COURSE_POSTS, BARRIER_LOCK, POSTS_LOCK, course_slug)


async def newest_settled_post_id(conn: Conn) -> int:
    """The newest post id (0 when there is none), read once no insert of posts is in flight: every id at or
    below it is committed or never will be, so a window ending there misses no post. ``conn`` must be in a
    transaction (the barrier is held to its end, briefly holding back new posts)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, 0)", BARRIER_LOCK)
    return int(await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM questions"))


class PostRows(PgBase):
    """The members' posts part of :class:`storage.postgres.PostgresStore`."""

    # members' posts --------------------------------------------------------------------------------------
    async def add_post(self, post: NewPost) -> Question:
        """Store a question or comment; a redelivered message (same ref) returns the stored one unchanged.

        One transaction: the author's upsert, the course's post lock (:func:`lock_course_posts`: its ids
        commit in id order), the insert and the question's place in its cluster, so it is never seen unplaced.
        Raises LookupError when the lesson does not exist.
        """
        created = codec.to_micros(post.created_at)
        ref = post.ref
        async with self._transaction() as conn:
            course = await conn.fetchval("SELECT course_slug FROM lessons WHERE id = $1", post.lesson_id)
            if course is not None:
                await lock_course_posts(conn, course)
            await self._upsert_member(conn, post.author)
            inserted = await conn.fetchval(
                "INSERT INTO questions (lesson_id, course_slug, group_id, author_id, kind, platform, chat_id,"
                " thread_id, message_id, guild_id, text, created_at)"
                " SELECT l.id, l.course_slug, $1, m.id, $2, $3, $4, $5, $6, $7, $8, $9"
                " FROM lessons l, members m WHERE l.id = $10 AND m.platform = $11 AND m.user_id = $12"
                " ON CONFLICT (platform, chat_id, message_id) DO NOTHING RETURNING id",
                post.group_id,
                post.kind.value,
                ref.platform,
                ref.chat_id,
                ref.thread_id,
                ref.message_id,
                ref.guild_id,
                post.text,
                created,
                post.lesson_id,
                post.author.platform,
                post.author.user_id,
            )
            if inserted is not None:
                await clusters.place(conn, inserted)  # in the insert's transaction: never seen unplaced
            row = await conn.fetchrow(QUESTION_BY_REF, *ref_params(ref))
        if row is None:
            raise LookupError(f"lesson {post.lesson_id} does not exist")
        return codec.question_from(row)

    async def add_reply(self, question_id: int, author: Member, ref: MessageRef, text: str, at: datetime) -> bool:
        """Keep a discussion reply; False if this ref was already kept (the trigger counts it in the same
        transaction)."""
        created = codec.to_micros(at)
        async with self._transaction() as conn:
            await self._upsert_member(conn, author)
            status = await conn.execute(
                "INSERT INTO replies (question_id, author_id, platform, chat_id, thread_id, message_id, text,"
                " created_at) SELECT $1, m.id, $2, $3, $4, $5, $6, $7 FROM members m"
                " WHERE m.platform = $8 AND m.user_id = $9"
                " ON CONFLICT (platform, chat_id, message_id) DO NOTHING",
                question_id,
                ref.platform,
                ref.chat_id,
                ref.thread_id,
                ref.message_id,
                text,
                created,
                author.platform,
                author.user_id,
            )
        return affected(status) > 0

    async def question_by_ref(self, ref: MessageRef) -> Question | None:
        row = await self._fetchrow(QUESTION_BY_REF, *ref_params(ref))
        return codec.question_from(row) if row else None

    async def get_question(self, question_id: int) -> Question | None:
        row = await self._fetchrow(QUESTION_BY_ID, question_id)
        return codec.question_from(row) if row else None

    async def edit_post(self, ref: MessageRef, text: str, at: datetime) -> bool:
        """New text for a question, comment or reply; False when ``ref`` is none of ours. An edited question is
        placed again among the duplicates in the same transaction (:func:`storage.clusters.place_edited`)."""
        edited = codec.to_micros(at)
        async with self._transaction() as conn:
            question = await conn.fetchrow(EDIT_QUESTION, text, edited, *ref_params(ref))
            if question is not None:
                # Under the course's post lock, as a new question is placed: the two see each other's keys.
                await lock_course_posts(conn, question["course_slug"])
                await clusters.place_edited(conn, question["id"])
                return True
            return affected(await conn.execute(EDIT_REPLY, text, edited, *ref_params(ref))) > 0

    async def delete_post(self, ref: MessageRef, at: datetime) -> bool:
        """Mark a question, comment or reply deleted (the row stays); False if unknown or already deleted.

        The condition ``deleted = 0`` is re-checked on the latest row by PostgreSQL's update, so of two
        processes deleting one post only one gets True (and the reply trigger counts it once)."""
        deleted = codec.to_micros(at)
        return await self._update_post("deleted = 1, deleted_at = ?", (deleted,), ref, " AND deleted = 0")

    async def _update_post(self, assignments: str, values: tuple[Any, ...], ref: MessageRef, extra: str = "") -> bool:
        async with self._transaction() as conn:
            for table in ("questions", "replies"):
                where = "platform = ? AND chat_id = ? AND message_id = ?"
                sql = numbered(f"UPDATE {table} SET {assignments} WHERE {where}{extra}")
                if affected(await conn.execute(sql, *values, *ref_params(ref))) > 0:
                    return True
        return False

    async def mark_answered(self, question_id: int, answer: str, at: datetime) -> None:
        answered = codec.to_micros(at)
        await self._execute(
            "UPDATE questions SET answered = 1, answer_text = $1, answered_at = $2 WHERE id = $3",
            answer,
            answered,
            question_id,
        )

    async def recent_questions(self, platform: str, since: datetime) -> list[Question]:
        rows = await self._fetch(
            # The ids from questions_by_platform_time (on `questions`, whose own time the view does not show).
            f"{queries.QUESTIONS_FROM} WHERE q.id IN (SELECT id FROM questions WHERE platform = $1"
            " AND created_at >= $2 AND deleted = 0 AND message_id IS NOT NULL) ORDER BY q.created_at, q.id",
            platform,
            codec.to_micros(since),
        )
        return [codec.question_from(r) for r in rows]
