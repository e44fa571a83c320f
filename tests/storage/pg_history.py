"""A PostgreSQL database as an earlier studybot left it, for the tests of an upgrade: migrated only so far, with
a course and its first lesson."""

from __future__ import annotations

import asyncpg

from storage.postgres.schema import _apply, load_migrations

COURSE_AND_LESSON = (
    "INSERT INTO courses (slug, title, timezone, language, digest_cron, digest_size, created_at)"
    " VALUES ('ai', 'AI', 'UTC', 'en', '0 9 * * 1', 10, 0);"
    "INSERT INTO lessons (id, course_slug, slug, title, number, created_at) VALUES (1, 'ai', 'l1', 'One', 1, 0);"
)


async def at_version(conn: asyncpg.Connection, version: int) -> None:
    """Apply the migrations up to ``version`` and add the course ``ai`` with lesson 1."""
    for migration in load_migrations():
        if migration.version <= version:
            await _apply(conn, migration, "test")
    await conn.execute(COURSE_AND_LESSON)
