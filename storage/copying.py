"""``studybot db copy``: every row of one database into another, SQLite ⇄ PostgreSQL (issue 13).

Why table by table and not through the store's methods: a copy must keep every id, time and count exactly as
they are (a question's id is in /top, in links and in exports), and a store method would make new ones. Both
schemas have the same tables and columns at the same version (storage/postgres/migrations/0013_baseline.sql),
so rows move unchanged, in foreign-key order, in batches, inside ONE transaction on the target: a copy that
fails half-way leaves the target as empty as it was.

What is not copied is what the target rebuilds itself: the search tables (SQLite's full-text tables,
PostgreSQL's ``question_texts``, kept by triggers as the questions arrive) and the version bookkeeping. The
counts the triggers keep (a question's likes and replies) are recounted from the copied rows at the end, and
checked against the source's: the copy is refused (rolled back) unless every table's row count and every
question's like count match.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from storage.locations import Database

logger = logging.getLogger(__name__)

# Parents before children. A table missing here that a migration adds is caught by a test
# (tests/storage/test_copy.py), so a new table cannot be forgotten silently.
TABLES: tuple[str, ...] = (
    "courses",
    "lessons",
    "study_groups",
    "group_like_emojis",
    "members",
    "questions",
    "replies",
    "reactions",
    "lesson_posts",
    "instructors",
    "digests",
    "digest_deliveries",
    "leases",
    "telegram_updates",
    "feeds",
    "feed_entries",
    "instructor_channels",
    "question_keys",
    "cluster_decisions",
    "cluster_state",
    "follows",
    "course_reminders",
    "question_reminders",
    "reminder_deliveries",
    "answer_posts",
    "answer_reuses",
    "web_state",
    "web_shares",
)
# Kept by the target itself, or bookkeeping of one engine only.
DERIVED_PREFIXES = (
    "questions_fts",
    "question_grams",
    "question_texts",
    "question_counts",  # PostgreSQL's (its migration 0020): filled as questions arrive, likes recounted at the end
    "sqlite_",
    "like_batch",
    "schema_version",
)
# Bursts of likes kept but not counted yet (storage.like_inbox): a source must have none (they are counted when
# studybot or `studybot db upgrade` opens it), so there is nothing in them to copy.
KEPT_BURSTS = "like_inbox"
# Columns that may point at a later row of their own table: copied as NULL, then set once every row is there.
SELF_REFERENCES = {"questions": "duplicate_of"}
# One-row state a freshly migrated database may already hold (the clustering version): replaced by the source's.
SINGLETONS = frozenset({"cluster_state"})
BATCH = 5000

Progress = Callable[[str, int, int], None]  # (table, rows copied so far, rows in the table)


class CopyRefused(RuntimeError):
    """The copy cannot start or did not check out; the message says why and what to do. Nothing was changed."""


class Side(Protocol):
    """One end of a copy: the queries the copy needs, in each engine's dialect."""

    async def version(self) -> int: ...
    async def tables(self) -> list[str]: ...
    async def columns(self, table: str) -> list[str]: ...
    async def count(self, table: str) -> int: ...
    def rows(self, table: str, columns: Sequence[str]) -> AsyncIterator[list[tuple[Any, ...]]]: ...
    async def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None: ...
    async def set_self_references(self, table: str, column: str, pairs: Sequence[tuple[Any, Any]]) -> None: ...
    async def clear(self, table: str) -> None: ...
    async def recount(self) -> None: ...
    async def finish(self) -> None: ...
    def likes(self) -> AsyncIterator[list[tuple[int, int]]]: ...


@dataclass(frozen=True, slots=True)
class CopyReport:
    rows: dict[str, int]
    questions: int


def copied_tables(tables: Sequence[str]) -> list[str]:
    """The source's tables the copy moves, in :data:`TABLES` order; a table neither known nor derived is an error."""
    unknown = sorted(t for t in tables if t not in (*TABLES, KEPT_BURSTS) and not t.startswith(DERIVED_PREFIXES))
    if unknown:
        raise CopyRefused(f"this studybot does not know how to copy the tables {', '.join(unknown)}")
    return [t for t in TABLES if t in tables]


async def copy_database(source: Database, target: Database, progress: Progress | None = None) -> CopyReport:
    """Copy everything from ``source`` into the empty ``target`` (migrated to the latest version first)."""
    if source == target:
        raise CopyRefused("the source and the target are the same database")
    async with _open(source, write=False) as src, _open(target, write=True) as dst:
        from_version, to_version = await src.version(), await dst.version()
        if from_version != to_version:
            raise CopyRefused(
                f"the source is at schema version {from_version} and the target at {to_version}: "
                "run `studybot db upgrade` with DATABASE_PATH or DATABASE_URL set to the source first"
            )
        source_tables = await src.tables()
        if KEPT_BURSTS in source_tables and (kept := await src.count(KEPT_BURSTS)):
            raise CopyRefused(
                f"the source holds {kept} burst(s) of likes kept but not counted (studybot stopped before counting"
                " them): run `studybot db upgrade` with DATABASE_PATH set to the source, which counts them, first"
            )
        tables = copied_tables(source_tables)
        for table in tables:
            if table in SINGLETONS:
                await dst.clear(table)
            elif await dst.count(table):
                raise CopyRefused(f"the target is not empty (table {table} has rows): copy into an empty database")
        rows: dict[str, int] = {}
        for table in tables:
            rows[table] = await _copy_table(src, dst, table, progress)
        await dst.recount()
        for table in tables:
            if (copied := await dst.count(table)) != rows[table]:
                raise CopyRefused(f"table {table}: {rows[table]} rows in the source, {copied} in the target")
        questions = await _same_likes(src, dst)
        await dst.finish()  # commits: only a copy that checked out is kept
    return CopyReport(rows, questions)


async def _copy_table(src: Side, dst: Side, table: str, progress: Progress | None) -> int:
    target_columns = set(await dst.columns(table))
    columns = [c for c in await src.columns(table) if c in target_columns]  # generated ones are not listed
    late = SELF_REFERENCES.get(table)
    total, done = await src.count(table), 0
    links: list[tuple[Any, Any]] = []
    position = columns.index(late) if late in columns else None
    async for batch in src.rows(table, columns):
        if position is not None:
            links.extend((row[0], row[position]) for row in batch if row[position] is not None)
            batch = [(*row[:position], None, *row[position + 1 :]) for row in batch]
        await dst.insert(table, columns, batch)
        done += len(batch)
        if progress is not None:
            progress(table, done, total)
    if late is not None and links:
        await dst.set_self_references(table, late, links)
    if progress is not None and total == 0:
        progress(table, 0, 0)
    return done


async def _same_likes(src: Side, dst: Side) -> int:
    """Every question's like count equal on both sides (streamed by id); the number of questions compared."""
    compared = 0
    source_batches, target_batches = src.likes(), dst.likes()
    async for expected in source_batches:
        got: list[tuple[int, int]] = await anext(target_batches, [])
        if got != expected:
            padded: list[tuple[int | None, int | None]] = [*got, *[(None, None)] * (len(expected) - len(got))]
            source, copied = next((e, g) for e, g in zip(expected, padded, strict=False) if e != g)
            raise CopyRefused(f"like counts differ after the copy: (question, likes) {source} became {copied}")
        compared += len(expected)
    if await anext(target_batches, None) is not None:
        raise CopyRefused("the target has more questions than the source")
    return compared


@asynccontextmanager
async def _open(database: Database, *, write: bool) -> AsyncIterator[Side]:
    if database.path is not None:
        from storage.copy_sides import sqlite_side

        async with sqlite_side(database, write=write) as side:
            yield side
    else:
        from storage.copy_sides import postgres_side

        async with postgres_side(database, write=write) as side:
            yield side
