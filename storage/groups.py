"""Study groups, their like emojis and instructors, and what follows a chat's moves (Discord's attention notes,
instructors' channels, Telegram's chat migrations)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import aiosqlite

from handlers.vocabulary.domain import (
    DEFAULT_LIKE_EMOJIS,
    ChatRef,
    Group,
    Instructor,
)
from storage import codec, queries
from storage.base import StoreBase

logger = logging.getLogger(__name__)


class GroupRows(StoreBase):
    """The groups and instructors part of :class:`storage.SqliteStore`."""

    # groups ----------------------------------------------------------------------------------------------
    async def get_group(self, chat: ChatRef) -> Group | None:
        """Exactly this chat (or topic): a topic does not fall back to its chat here (routing.find_group does)."""
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

    async def groups_on(self, platform: str) -> list[Group]:
        rows = await self._reader.all(
            queries.GROUP_SELECT + " WHERE g.platform = ? AND g.active = 1 AND g.course_slug IS NOT NULL ORDER BY g.id",
            (platform,),
        )
        return [codec.group_from(r) for r in rows]

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
            for table in ("questions", "replies", "lesson_posts", "answer_posts"):
                await conn.execute(
                    f"UPDATE {table} SET chat_id = ? WHERE platform = ? AND chat_id = ?",
                    (new_chat_id, platform, old_chat_id),
                )
            return moved

        return await self._writer.call(op)


async def _write_emojis(conn: aiosqlite.Connection, group_id: int | None, emojis: Sequence[str]) -> None:
    await conn.executemany(
        "INSERT INTO group_like_emojis (group_id, emoji, position) VALUES (?, ?, ?)",
        [(group_id, emoji, position) for position, emoji in enumerate(emojis)],
    )
