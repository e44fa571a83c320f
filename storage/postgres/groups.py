"""Study groups, their like emojis and instructors, and a chat's moves on PostgreSQL: the counterpart of
:mod:`storage.groups`."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from handlers.vocabulary.domain import DEFAULT_LIKE_EMOJIS, ChatRef, Group, Instructor
from storage import codec
from storage.postgres.base import Conn, PgBase, affected

logger = logging.getLogger(__name__)

# The emojis as a JSON array in the admin's order, as SQLite's json_group_array gives them to the codec.
GROUP_SELECT = """
    SELECT g.id, g.platform, g.chat_id, g.thread_id, g.title, g.course_slug, g.language, g.active, g.attention,
           COALESCE((SELECT json_agg(e.emoji ORDER BY e.position) FROM group_like_emojis e
                     WHERE e.group_id = g.id)::text, '[]') AS emojis
    FROM study_groups g
"""


class GroupRows(PgBase):
    """The groups and instructors part of :class:`storage.postgres.PostgresStore`."""

    # groups ----------------------------------------------------------------------------------------------
    async def get_group(self, chat: ChatRef) -> Group | None:
        """Exactly this chat (or topic): a topic does not fall back to its chat here (routing.find_group does)."""
        row = await self._fetchrow(
            GROUP_SELECT + " WHERE g.platform = $1 AND g.chat_id = $2 AND COALESCE(g.thread_id, '') = $3",
            chat.platform,
            chat.chat_id,
            chat.thread_id or "",
        )
        return codec.group_from(row) if row else None

    async def get_group_by_id(self, group_id: int) -> Group | None:
        row = await self._fetchrow(GROUP_SELECT + " WHERE g.id = $1", group_id)
        return codec.group_from(row) if row else None

    async def setup_group(self, chat: ChatRef, title: str, course_slug: str, language: str) -> Group:
        """Create the group (with the default like emojis) or point it at ``course_slug``; it becomes active.

        One upsert on the chat's unique index, so two processes setting up one chat make one group; only the
        one that inserted it (``xmax = 0``) writes the default emojis.
        """
        async with self._transaction() as conn:
            row = await conn.fetchrow(
                "INSERT INTO study_groups AS g (platform, chat_id, thread_id, title, course_slug, language, active)"
                " VALUES ($1, $2, $3, $4, $5, $6, 1)"
                " ON CONFLICT (platform, chat_id, (COALESCE(thread_id, ''))) DO UPDATE SET title = excluded.title,"
                " course_slug = excluded.course_slug, language = excluded.language, active = 1, attention = NULL"
                " RETURNING g.id, (g.xmax = 0) AS inserted",
                chat.platform,
                chat.chat_id,
                chat.thread_id,
                title,
                course_slug,
                language,
            )
            assert row is not None
            group_id = int(row["id"])
            if row["inserted"]:
                await _write_emojis(conn, group_id, DEFAULT_LIKE_EMOJIS)
            found = await conn.fetchrow(GROUP_SELECT + " WHERE g.id = $1", group_id)
        assert found is not None
        return codec.group_from(found)

    async def unfollow_group(self, group_id: int) -> None:
        """The group stops following its course (and gets no lessons or /top); its history stays."""
        await self._execute("UPDATE study_groups SET course_slug = NULL WHERE id = $1", group_id)

    async def set_group_language(self, group_id: int, language: str) -> None:
        await self._execute("UPDATE study_groups SET language = $1 WHERE id = $2", language, group_id)

    async def set_like_emojis(self, group_id: int, emojis: Sequence[str]) -> None:
        """Replace the group's like emojis (duplicates dropped, order kept). Old reactions are not recounted.

        The group's row is locked first, so two admins replacing the emojis at once apply one after the other
        instead of both deleting and then colliding on their inserts.
        """
        wanted = tuple(dict.fromkeys(emojis))
        async with self._transaction() as conn:
            await conn.execute("SELECT 1 FROM study_groups WHERE id = $1 FOR UPDATE", group_id)
            await conn.execute("DELETE FROM group_like_emojis WHERE group_id = $1", group_id)
            await _write_emojis(conn, group_id, wanted)

    async def set_group_active(self, group_id: int, active: bool) -> None:
        await self._execute("UPDATE study_groups SET active = $1 WHERE id = $2", int(active), group_id)

    async def groups_following(self, course_slug: str) -> list[Group]:
        rows = await self._fetch(GROUP_SELECT + " WHERE g.course_slug = $1 AND g.active = 1 ORDER BY g.id", course_slug)
        return [codec.group_from(r) for r in rows]

    # instructors -----------------------------------------------------------------------------------------
    async def add_instructor(self, instructor: Instructor) -> bool:
        """False if already an instructor (the stored display name is then left as it is)."""
        status = await self._execute(
            "INSERT INTO instructors (course_slug, platform, user_id, display_name) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT DO NOTHING",
            instructor.course_slug,
            instructor.platform,
            instructor.user_id,
            instructor.display_name,
        )
        return affected(status) > 0

    async def instructors(self, course_slug: str) -> list[Instructor]:
        """In the order they were added: SQLite's rowid order. Instructors are never updated or deleted, so
        their rows stay where they were inserted and ``ctid`` gives that order."""
        rows = await self._fetch("SELECT * FROM instructors WHERE course_slug = $1 ORDER BY ctid", course_slug)
        return [codec.instructor_from(r) for r in rows]

    async def instructor_courses(self, platform: str, user_id: str) -> list[str]:
        rows = await self._fetch(
            'SELECT course_slug FROM instructors WHERE platform = $1 AND user_id = $2 ORDER BY course_slug COLLATE "C"',
            platform,
            user_id,
        )
        return [r[0] for r in rows]

    # discord: instructors' channels, groups needing attention ------------------------------------------------
    async def set_instructors_channel(self, course_slug: str, chat: ChatRef) -> None:
        await self._execute(
            "INSERT INTO instructor_channels (course_slug, platform, chat_id, thread_id) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (course_slug, platform) DO UPDATE SET chat_id = excluded.chat_id,"
            " thread_id = excluded.thread_id",
            course_slug,
            chat.platform,
            chat.chat_id,
            chat.thread_id,
        )

    async def instructors_channel(self, course_slug: str, platform: str) -> ChatRef | None:
        row = await self._fetchrow(
            "SELECT chat_id, thread_id FROM instructor_channels WHERE course_slug = $1 AND platform = $2",
            course_slug,
            platform,
        )
        return ChatRef(platform, row["chat_id"], row["thread_id"]) if row else None

    async def set_group_attention(self, group_id: int, reason: str | None) -> None:
        await self._execute("UPDATE study_groups SET attention = $1 WHERE id = $2", reason, group_id)

    async def groups_on(self, platform: str) -> list[Group]:
        rows = await self._fetch(
            GROUP_SELECT + " WHERE g.platform = $1 AND g.active = 1 AND g.course_slug IS NOT NULL ORDER BY g.id",
            platform,
        )
        return [codec.group_from(r) for r in rows]

    # platform changes ------------------------------------------------------------------------------------
    async def move_chat(self, platform: str, old_chat_id: str, new_chat_id: str) -> int:
        """A chat got a new id (a Telegram group became a supergroup): everything kept for it follows.

        One transaction over every table that points at chats. Returns how many groups moved (0 when already
        moved).
        """
        async with self._transaction() as conn:
            moved = affected(
                await conn.execute(
                    "UPDATE study_groups SET chat_id = $1 WHERE platform = $2 AND chat_id = $3",
                    new_chat_id,
                    platform,
                    old_chat_id,
                )
            )
            for table in ("questions", "replies", "lesson_posts", "answer_posts"):
                await conn.execute(
                    f"UPDATE {table} SET chat_id = $1 WHERE platform = $2 AND chat_id = $3",
                    new_chat_id,
                    platform,
                    old_chat_id,
                )
        return moved


async def _write_emojis(conn: Conn, group_id: int, emojis: Sequence[str]) -> None:
    await conn.execute(
        "INSERT INTO group_like_emojis (group_id, emoji, position)"
        " SELECT $1, emoji, position - 1 FROM unnest($2::text[]) WITH ORDINALITY AS e (emoji, position)",
        group_id,
        list(emojis),
    )
