"""Planner statistics of small tables are forgotten (storage/planner_statistics.py).

A deployment stopped in its first days leaves SQLite statistics that say its members table holds a handful of
rows, and SQLite 3.40's ``PRAGMA optimize`` never analyses that table again. Planned from those numbers, every
like of a burst scanned the whole members table instead of using its index: a cost that grew with the course.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import aiosqlite

from handlers.vocabulary.domain import ReactionChange
from storage import SqliteStore
from storage.planner_statistics import SMALL_TABLE_ROWS
from tests.storage.helpers import ANN, BOB, CAT, CHAT, T0, make_world, migration_statement

# The like rule's lookup, as the like_batches trigger (migration 0013) runs it for a batch of likes.
BATCH_LOOKUP = """
    SELECT l.question_id, l.member_id, l.emoji, j.value ->> 0
    FROM json_each(?) AS j
    CROSS JOIN countable_likes l
    WHERE l.platform = j.value ->> 4 AND l.chat_id = j.value ->> 5 AND l.message_id = j.value ->> 6
      AND l.emoji = j.value ->> 1 AND l.member_platform = j.value ->> 2 AND l.user_id = j.value ->> 3
"""
# The lookup of the like_groups trigger (migration 0021) for a burst, as the file has it: the posts first, then
# by id. (EXPLAIN cannot reach inside a trigger, so its select is run on its own, the burst as the parameter.)
_GROUPS_TRIGGER = migration_statement(21, "CREATE TRIGGER like_groups_apply")
GROUP_LOOKUP = _GROUPS_TRIGGER[_GROUPS_TRIGGER.index("WITH posts") :].split(";")[0].replace("NEW.likes", "?")
GROWN_TO = 3000
FIRST_DAYS_QUESTIONS = 50


async def scans(conn: aiosqlite.Connection) -> list[str]:
    """The steps of the like lookups' plans that read a whole table (json_each's arrays and the burst's posts,
    which it built itself, aside)."""
    batch = json.dumps([[0, "👍", "telegram", "2", "telegram", CHAT.chat_id, "m1"]])
    group = json.dumps([["telegram", CHAT.chat_id, "m1", "👍", "telegram", 0, ["2"]]])
    plan: list[str] = []
    for lookup, likes in ((BATCH_LOOKUP, batch), (GROUP_LOOKUP, group)):
        async with conn.execute("EXPLAIN QUERY PLAN " + lookup, (likes,)) as cursor:
            plan += [str(row[3]) for row in await cursor.fetchall()]
    return [step for step in plan if step.startswith("SCAN") and "VIRTUAL TABLE" not in step and step != "SCAN p"]


def statistics(path: Path) -> dict[str, int]:
    """Each table's row count as sqlite_stat1 records it."""
    with sqlite3.connect(path) as conn:
        if conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'").fetchone() is None:
            found: dict[str, int] = {}
        else:
            found = {tbl: int(stat.split()[0]) for tbl, stat in conn.execute("SELECT tbl, stat FROM sqlite_stat1")}
    conn.close()
    return found


async def test_likes_use_the_members_index_after_statistics_taken_when_the_course_was_small(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    world = await make_world(store)
    for n in range(FIRST_DAYS_QUESTIONS, 1, -1):
        await world.post(f"Question {n}?", author=ANN, message_id=f"m{n}")
    question = await world.post("Why?", author=ANN, message_id="m1")
    assert question.ref is not None
    await store.apply_reactions([ReactionChange(question.ref, BOB, "👍", T0)])
    await store.close()
    assert all(rows >= SMALL_TABLE_ROWS for rows in statistics(db_path).values())  # none kept at close

    # As an older release left the file: statistics of every table at its first-days size. Then the course grew.
    with sqlite3.connect(db_path) as conn:
        conn.execute("ANALYZE")
        conn.executemany(
            "INSERT INTO members (platform, user_id, display_name, is_bot) VALUES ('telegram', ?, ?, 0)",
            [(f"u{n}", f"Learner {n}") for n in range(GROWN_TO)],
        )
    conn.close()
    assert statistics(db_path)["members"] < 10

    store = await SqliteStore.open(db_path)
    try:
        assert await scans(store._writer._conn) == []
        assert await scans(store._reader.conn) == []
        await store.apply_reactions([ReactionChange(question.ref, CAT, "👍", T0)])  # still counted, once
        stored = await store.question_by_ref(question.ref)
        assert stored is not None and stored.likes == 2
    finally:
        await store.close()
    kept = statistics(db_path)
    assert all(rows >= SMALL_TABLE_ROWS for rows in kept.values()), kept


async def test_statistics_of_a_big_table_are_kept(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    await make_world(store)
    await store.close()
    with sqlite3.connect(db_path) as conn:
        conn.executemany(
            "INSERT INTO members (platform, user_id, display_name, is_bot) VALUES ('telegram', ?, ?, 0)",
            [(f"u{n}", f"Learner {n}") for n in range(GROWN_TO)],
        )
        conn.execute("ANALYZE")
    conn.close()
    before = statistics(db_path)
    assert before["members"] >= GROWN_TO and "courses" in before

    store = await SqliteStore.open(db_path)
    await store.close()
    after = statistics(db_path)
    assert after["members"] == before["members"]
    assert "courses" not in after  # one course: forgotten
