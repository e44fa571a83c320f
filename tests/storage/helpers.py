"""Shared test data for the storage tests: a small course to post in."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from handlers.vocabulary.domain import (
    ChatRef,
    Course,
    Group,
    Lesson,
    LessonDraft,
    Member,
    MessageRef,
    NewPost,
    PostKind,
    Question,
)
from storage import SqliteStore
from storage.postgres import PostgresStore
from storage.schema import load_migrations

AnyStore = SqliteStore | PostgresStore

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
CHAT = ChatRef("telegram", "-100")
ANN = Member("telegram", "1", "Ann")
BOB = Member("telegram", "2", "Bob")
CAT = Member("telegram", "3", "Cat")
DAN = Member("telegram", "4", "Dan")


@dataclass
class World:
    """One course with one lesson, followed by one group; posts are made through :meth:`post`."""

    store: AnyStore
    course: Course
    lesson: Lesson
    group: Group
    next_message: int = 1

    def ref(self, message_id: str) -> MessageRef:
        return MessageRef(self.group.chat.platform, self.group.chat.chat_id, message_id)

    async def post(
        self,
        text: str = "why?",
        *,
        author: Member = ANN,
        kind: PostKind = PostKind.QUESTION,
        at: datetime = T0,
        lesson: Lesson | None = None,
        message_id: str | None = None,
    ) -> Question:
        if message_id is None:
            message_id = f"m{self.next_message}"
            self.next_message += 1
        lesson = lesson or self.lesson
        return await self.store.add_post(
            NewPost(lesson.id, self.group.id, author, self.ref(message_id), text, kind, at)
        )


async def make_world(store: AnyStore) -> World:
    course = await store.upsert_course(Course("ai", "AI Systems", timezone="Asia/Shanghai"), T0)
    lesson, _ = await store.upsert_lesson(LessonDraft("ai", "intro", "Introduction", number=1), T0 - timedelta(days=1))
    group = await store.setup_group(CHAT, "AI study group", "ai", "en")
    return World(store, course, lesson, group)


def migration_statement(version: int, starts: str) -> str:
    """The one statement of SQLite migration ``version`` that starts with ``starts``, as the file has it."""
    [statement] = [s for s in load_migrations()[version - 1].statements() if s.lstrip().startswith(starts)]
    return statement


def undo_like_groups(conn: sqlite3.Connection) -> None:
    """Take a SQLite file back to its like path before migration 21 (the caller sets the version it wants):
    like_bursts' trigger as migration 13 made it, which hands its likes to like_batches one like at a time."""
    conn.execute("DROP VIEW like_groups")
    conn.execute("DROP TRIGGER like_bursts_apply")
    conn.execute(migration_statement(13, "CREATE TRIGGER like_bursts_apply"))
