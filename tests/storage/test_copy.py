"""``studybot db copy`` (issue 13): an SQLite deployment to PostgreSQL and back, every row and count intact.

Real files, the real PostgreSQL server the tests start, the real command line (``bot.cli.main``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.cli import main
from handlers.vocabulary.domain import ChatRef, Instructor, LessonDraft, PostKind
from storage import SqliteStore
from storage.copying import DERIVED_PREFIXES, KEPT_BURSTS, TABLES, copied_tables
from tests.postgres_server import PostgresServer
from tests.storage.helpers import ANN, BOB, CAT, DAN, T0, make_world

pytestmark = pytest.mark.usefixtures("no_settings_from_the_machine")


async def fill(path: Path) -> None:
    """A small deployment with something in every kind of table: likes by several members on several emojis,
    replies (one deleted), a merged duplicate, an answered question, a digest, an instructor."""
    store = await SqliteStore.open(path)
    try:
        world = await make_world(store)
        await store.set_like_emojis(world.group.id, ["👍", "❤️"])
        second, _ = await store.upsert_lesson(LessonDraft("ai", "two", "Lesson two", number=2), T0)
        first = await world.post("How do I install CUDA on Windows?")
        again = await world.post("how to install cuda on windows", author=BOB, at=T0 + timedelta(minutes=5))
        other = await world.post("作业什么时候交？", author=CAT, lesson=second, at=T0 + timedelta(minutes=9))
        await world.post("Nice lesson!", author=DAN, kind=PostKind.COMMENT)
        for member, emoji in ((BOB, "👍"), (CAT, "👍"), (CAT, "❤️"), (DAN, "❤️"), (ANN, "👍")):
            await store.add_reaction(world.ref("m1"), member, emoji, T0 + timedelta(hours=1))
        await store.add_reaction(world.ref("m3"), ANN, "👍", T0 + timedelta(hours=1))
        await store.add_reply(first.id, BOB, world.ref("r1"), "same here", T0 + timedelta(hours=2))
        await store.add_reply(first.id, CAT, world.ref("r2"), "and me", T0 + timedelta(hours=2))
        await store.delete_post(world.ref("r2"), T0 + timedelta(hours=3))
        await store.mark_answered(other.id, "Friday.", T0 + timedelta(hours=4))
        await store.add_instructor(Instructor("ai", "telegram", "99", "Tyler"))
        await store.set_instructors_channel("ai", ChatRef("telegram", "-200"))
        assert again.id > first.id
    finally:
        await store.close()


def sqlite_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as conn:
        return {
            table: sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
            for table in copied_tables(
                [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            )
        }


def test_an_sqlite_deployment_goes_to_postgresql_and_back_unchanged(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source, back = tmp_path / "studybot.db", tmp_path / "back.db"
    asyncio.run(fill(source))
    assert main(["db", "copy", f"sqlite:///{source}", postgres_url]) == 0
    out = capsys.readouterr().out
    assert "every table's row count and all 4 questions' like counts match" in out
    assert "reactions: 5 rows" in out  # ANN liking her own question is not a like

    async def on_postgresql() -> tuple[int, int, int]:
        conn = await asyncpg.connect(postgres_url)
        try:
            likes = await conn.fetchval("SELECT likes FROM counted_questions WHERE message_id = 'm1'")
            replies = await conn.fetchval("SELECT replies FROM questions WHERE message_id = 'm1'")
            # the search's copy of every text (question_texts, 0017) was rebuilt by its trigger as the rows came
            searched = await conn.fetch(
                "SELECT q.message_id FROM question_texts t JOIN questions q ON q.id = t.question_id"
                " WHERE t.text ILIKE '%cuda%' OR t.text LIKE '%作业%' ORDER BY q.id"
            )
            assert [r[0] for r in searched] == ["m1", "m2", "m3"]
            # the identities moved past the copied ids: a new row does not collide
            new_id = await conn.fetchval(
                "INSERT INTO members (platform, user_id, display_name) VALUES ('telegram', '77', 'New') RETURNING id"
            )
            await conn.execute("DELETE FROM members WHERE id = $1", new_id)
            return likes, replies, new_id
        finally:
            await conn.close()

    likes, replies, new_id = asyncio.run(on_postgresql())
    assert (likes, replies) == (3, 1) and new_id > 4  # BOB, CAT (two emojis: once), DAN; one reply deleted
    assert main(["db", "copy", postgres_url, f"sqlite:///{back}"]) == 0
    assert sqlite_rows(back) == sqlite_rows(source)


def test_a_target_with_data_is_refused_and_left_as_it_was(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    asyncio.run(fill(first))
    asyncio.run(fill(second))
    before = sqlite_rows(second)
    assert main(["db", "copy", f"sqlite:///{first}", f"sqlite:///{second}"]) == 1
    assert "nothing was copied: the target is not empty (table courses has rows)" in capsys.readouterr().err
    assert sqlite_rows(second) == before


def test_bad_urls_and_a_missing_source_say_what_to_do(
    tmp_path: Path, postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "copy", "studybot.db", "sqlite:///x.db"]) == 2
    assert "expected sqlite:///path/to/studybot.db or postgresql://" in capsys.readouterr().err
    assert main(["db", "copy", f"sqlite:///{tmp_path / 'none.db'}", f"sqlite:///{tmp_path / 'x.db'}"]) == 1
    assert "there is no SQLite database at" in capsys.readouterr().err
    url = postgres_server.database_url("no_such_database").replace("studybot@", "studybot:s3cret@")
    assert main(["db", "copy", url, f"sqlite:///{tmp_path / 'x.db'}"]) == 3
    err = capsys.readouterr().err
    assert "names a database that does not exist" in err and "s3cret" not in err and "studybot:***@" in err


def test_every_table_of_both_schemas_is_copied_or_rebuilt(tmp_path: Path, postgres_url: str) -> None:
    """A migration adding a table must say whether db copy moves it (storage.copying.TABLES)."""
    asyncio.run(fill(tmp_path / "s.db"))
    with sqlite3.connect(tmp_path / "s.db") as conn:
        on_sqlite = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    async def tables() -> set[str]:
        conn = await asyncpg.connect(postgres_url)
        try:
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            return {row[0] for row in rows}
        finally:
            await conn.close()

    on_postgresql = asyncio.run(tables())
    for name in on_sqlite | on_postgresql:
        assert name in TABLES or name == KEPT_BURSTS or name.startswith(DERIVED_PREFIXES), name
    assert set(TABLES) <= on_sqlite and set(TABLES) <= on_postgresql
    assert len(TABLES) == len(set(TABLES)), "a table copied twice fails on its own rows"
