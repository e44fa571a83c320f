"""Migrations: version inside the database, one transaction per step, newer databases refused untouched."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handlers.vocabulary.domain import Instructor, PostKind
from storage import DatabaseTooNew, SqliteStore, latest_version, upgrade_database
from storage.locations import Database
from storage.schema import load_migrations, split_statements
from tests.storage.helpers import make_world, undo_like_groups


@pytest.fixture
def database(db_path: Path) -> Database:
    """SQLite's migrations, pragmas and reader connection: SQLite only (PostgreSQL has its own tests)."""
    return Database.sqlite(db_path)


def _version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _files(path: Path) -> tuple[bytes, bool]:
    """The database's bytes, and whether a WAL file exists beside it."""
    return path.read_bytes(), Path(f"{path}-wal").exists()


def _indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_migration_files_are_numbered_and_give_a_reason() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert len(migrations) >= 2
    assert all(m.reason for m in migrations)


def test_split_statements_keeps_trigger_bodies_whole() -> None:
    script = """-- reason: test
    CREATE TABLE t (a);  -- trailing comment
    CREATE TRIGGER x AFTER INSERT ON t BEGIN
        UPDATE t SET a = 1; UPDATE t SET a = 2;
    END;
    -- a comment at the end
    """
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")


async def test_empty_file_is_migrated_to_the_latest_version(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    await store.close()
    assert store.schema_version == latest_version() == _version(db_path)
    assert {"questions_top", "questions_by_post", "questions_by_ref"} <= _indexes(db_path)


async def test_upgrade_database_reports_from_and_to(db_path: Path) -> None:
    assert await upgrade_database(db_path) == (0, latest_version())
    assert await upgrade_database(db_path) == (latest_version(), latest_version())


async def test_version_1_database_is_upgraded_and_keeps_its_data(db_path: Path) -> None:
    first = load_migrations()[0]
    with sqlite3.connect(db_path, isolation_level=None) as conn:
        conn.execute("BEGIN")
        for statement in first.statements():
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.execute("INSERT INTO courses VALUES ('ai', 'AI', 'UTC', 'en', '0 9 * * 1', 10)")
        conn.execute("INSERT INTO lessons (course_slug, slug, title, created_at) VALUES ('ai', 'l1', 'One', 0)")
        conn.execute("INSERT INTO members (platform, user_id, display_name) VALUES ('console', 'u', 'U')")
        conn.execute(
            "INSERT INTO questions (lesson_id, course_slug, author_id, kind, text, created_at, base_likes)"
            " VALUES (1, 'ai', 1, 'question', 'kept?', 0, 7)"
        )
        conn.execute("COMMIT")
    conn.close()
    assert "questions_top" not in _indexes(db_path)

    store = await SqliteStore.open(db_path)
    try:
        assert store.schema_version == latest_version()
        question = await store.get_question(1)
        assert question is not None and question.text == "kept?" and question.total_likes == 7
        top = await store.top_questions("ai", 5)
        assert [r.question.kind for r in top] == [PostKind.QUESTION]
    finally:
        await store.close()
    assert _version(db_path) == latest_version()
    assert "questions_top" in _indexes(db_path)


async def test_digests_recorded_before_version_8_keep_covering_what_they_covered(db_path: Path) -> None:
    """Migration 8 gives old digests the newest post dated before their end, so the first digest after the
    upgrade starts where they stopped: nothing shown twice, nothing posted later left out."""
    with sqlite3.connect(db_path, isolation_level=None) as conn:
        conn.execute("BEGIN")
        for migration in load_migrations()[:7]:
            for statement in migration.statements():
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 7")
        conn.execute("INSERT INTO courses VALUES ('ai', 'AI', 'UTC', 'en', '0 9 * * 1', 10, 0)")
        conn.execute("INSERT INTO lessons (course_slug, slug, title, created_at) VALUES ('ai', 'l1', 'One', 0)")
        conn.execute("INSERT INTO members (platform, user_id, display_name) VALUES ('console', 'u', 'U')")
        for text, created in (("old?", 100), ("also old?", 200), ("new?", 900)):
            conn.execute(
                "INSERT INTO questions (lesson_id, course_slug, author_id, kind, text, created_at)"
                " VALUES (1, 'ai', 1, 'question', ?, ?)",
                (text, created),
            )
        conn.execute(
            "INSERT INTO digests (course_slug, period_start, period_end, items, summary, created_at)"
            ' VALUES (\'ai\', 0, 500, \'[]\', \'{"questions": 2, "comments": 0, "likes": 0,'
            ' "most_active_lesson": null}\', 500)'
        )
        conn.execute("COMMIT")
    conn.close()

    store = await SqliteStore.open(db_path)
    try:
        assert await store.digested_through("ai") == 2
        [digest] = await store.unsent_digests()
        assert digest.through_post == 2
    finally:
        await store.close()
    assert "questions_by_post" in _indexes(db_path) and "questions_by_time" not in _indexes(db_path)


async def test_newer_database_is_refused_and_left_untouched(db_path: Path) -> None:
    future = latest_version() + 1  # one step ahead of whatever migrations exist now
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE from_the_future (x)")
        conn.execute(f"PRAGMA user_version = {future}")
    conn.close()
    before = _files(db_path)

    with pytest.raises(DatabaseTooNew) as raised:
        await SqliteStore.open(db_path)
    message = str(raised.value)
    assert f"database schema version {future} is newer than this studybot (knows up to {latest_version()})" in message
    assert "DATABASE_PATH" in message
    with pytest.raises(DatabaseTooNew):
        await upgrade_database(db_path)

    assert _files(db_path) == before


async def test_failed_migration_step_changes_nothing(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step is one transaction: a broken statement leaves the tables and the version as they were."""
    from storage import schema

    real = schema.load_migrations()
    broken = schema.Migration(2, "broken", "broken on purpose", "CREATE TABLE half_done (x);\nSELEC nonsense;\n")
    monkeypatch.setattr(schema, "load_migrations", lambda: (real[0], broken))
    with pytest.raises(sqlite3.OperationalError):
        await upgrade_database(db_path)
    assert _version(db_path) == 1  # step 1 committed on its own
    with sqlite3.connect(db_path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert "questions" in tables and "half_done" not in tables


async def test_pragmas_are_in_effect_on_both_connections(store: SqliteStore) -> None:
    for conn in (store._writer._conn, store._reader.conn):
        values = {}
        for pragma in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout"):
            async with conn.execute(f"PRAGMA {pragma}") as cursor:
                row = await cursor.fetchone()
            assert row is not None
            values[pragma] = row[0]
        assert values == {"journal_mode": "wal", "foreign_keys": 1, "synchronous": 1, "busy_timeout": 5000}


async def test_reader_connection_cannot_write(store: SqliteStore) -> None:
    with pytest.raises(sqlite3.OperationalError):
        await store._reader.conn.execute("DELETE FROM courses")


async def test_reminders_sent_before_version_16_are_not_sent_again(db_path: Path) -> None:
    """Migration 16 counts every reminder already sent as delivered on its course's instructors' platforms, so
    the first wake-up after the upgrade sends none of them again."""
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    store = await SqliteStore.open(db_path)
    try:
        world = await make_world(store)
        question = await world.post("How do I profile a training loop?")
        await store.add_instructor(Instructor("ai", "telegram", "t1", "Teacher"))
        assert await store.claim_reminder(question.id, "ai", at)  # reminded (and sent) by version 15
    finally:
        await store.close()
    # Back to version 15: 16 added the deliveries, 19 the like inbox, 20 and 21 a view each; 17, 18 and 21 replace
    # what else they change.
    with sqlite3.connect(db_path) as conn:
        undo_like_groups(conn)
        conn.execute("DROP VIEW counted_questions")
        conn.execute("DROP VIEW like_inbox_apply")
        conn.execute("DROP TABLE like_inbox")
        conn.execute("DROP TABLE reminder_deliveries")
        conn.execute("DROP INDEX question_reminders_by_course_time")
        conn.execute("PRAGMA user_version = 15")
    conn.close()

    store = await SqliteStore.open(db_path)
    try:
        assert _version(db_path) == latest_version()
        assert await store.reminders_to_deliver("ai", "telegram", at, 10) == []
        assert [q.id for q in await store.reminders_to_deliver("ai", "discord", at, 10)] == [question.id]
    finally:
        await store.close()
