"""Members' posts: questions, comments and discussion replies, kept by their platform message."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import aiosqlite

from handlers.vocabulary.domain import (
    Member,
    MessageRef,
    NewPost,
    Question,
)
from storage import clusters, codec, queries
from storage.base import BY_REF, StoreBase, _ref
from storage.writer import Call

logger = logging.getLogger(__name__)


class PostRows(StoreBase):
    """The members' posts part of :class:`storage.SqliteStore`."""

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
                " thread_id, message_id, guild_id, text, created_at)"
                " SELECT l.id, l.course_slug, ?, m.id, ?, ?, ?, ?, ?, ?, ?, ?"
                " FROM lessons l, members m WHERE l.id = ? AND m.platform = ? AND m.user_id = ?"
                " ON CONFLICT (platform, chat_id, message_id) DO NOTHING",
                (
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
        """New text for a question, comment or reply; False when ``ref`` is none of ours. An edited question is
        placed again among the duplicates in the same transaction (:func:`storage.clusters.place_edited`)."""
        values = (text, codec.to_micros(at), *_ref(ref))

        async def op(conn: aiosqlite.Connection) -> bool:
            sql = f"UPDATE questions SET text = ?, edited_at = ? WHERE {BY_REF} RETURNING id"
            async with conn.execute(sql, values) as cursor:
                edited = await cursor.fetchone()
            if edited is not None:
                await clusters.place_edited(conn, edited[0])
                return True
            async with conn.execute(f"UPDATE replies SET text = ?, edited_at = ? WHERE {BY_REF}", values) as cursor:
                return cursor.rowcount > 0

        return await self._writer.call(op)

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

    async def recent_questions(self, platform: str, since: datetime) -> list[Question]:
        rows = await self._reader.all(
            f"{queries.QUESTIONS_FROM} WHERE q.platform = ? AND q.created_at >= ? AND q.deleted = 0"
            " AND q.message_id IS NOT NULL ORDER BY q.created_at, q.id",
            (platform, codec.to_micros(since)),
        )
        return [codec.question_from(r) for r in rows]
