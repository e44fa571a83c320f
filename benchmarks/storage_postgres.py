"""The storage benchmark on PostgreSQL (``benchmarks/storage.py --store postgresql``, issue 13).

(a)  likes/s through ``PostgresStore.add_reaction``: N calls issued concurrently in chunks of 1,000, as on SQLite;
     the like queue groups those that arrive together into one transaction each;
(a') the same likes as bursts of 1,000 (``apply_reactions``);
(b)  raw asyncpg into the same schema in ONE transaction, members already there, ids known: ``executemany`` of
     plain reaction rows (b1), ``COPY`` of them (b1c), and the store's own statement over arrays (b2); each
     followed by the like counts' recount the store makes, so that every variant leaves the same database;
(c)  the ratios (a)/(b1), (a)/(b1c);
(e)  medians of ``top_questions`` and a digest's ``period_questions`` + ``period_summary`` at 1,000,000
     questions / 10,000,000 reactions (``--quick``: 100,000 / 1,000,000), built inside the server with
     ``generate_series`` (indexes dropped during the load, foreign keys and triggers off, so the load writes
     ``question_counts`` itself; then all restored).

Every time is wall time on this machine, min/median/max of ``--repeat`` runs. A server is started for the run
(``tests.postgres_server``: fsync off, as in the tests) unless ``--url`` names one; the benchmark creates and
drops its own databases there.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from benchmarks.rounds import Spread
from benchmarks.storage import QUESTION_TEXT
from handlers.vocabulary.domain import Member, MessageRef, PostWindow, ReactionChange
from storage.codec import to_micros
from storage.postgres import PostgresStore
from storage.postgres.likes import ADD_LIKES, RECOUNT

PLATFORM, CHAT, COURSE, LIKE = "telegram", "-100", "ai", "👍"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
CHUNK = 1000
TARGET_RATIO = 0.25
TARGET_MS = 10.0  # /top and a digest's queries at 1M questions / 10M likes


class Databases:
    """Fresh databases on one server: a seeded template, copied for each run."""

    def __init__(self, admin_url: str, url_of: Callable[[str], str]) -> None:
        self.admin_url, self.url_of, self.count = admin_url, url_of, 0

    async def sql(self, statement: str) -> None:
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    async def create(self, template: str | None = None) -> tuple[str, str]:
        self.count += 1
        name = f"bench_{self.count}"
        await self.sql(f'DROP DATABASE IF EXISTS "{name}"')
        await self.sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name, self.url_of(name)

    async def drop(self, name: str) -> None:
        await self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def seed(url: str, questions: int, fans: int, authors: int = 100) -> None:
    """Course, lesson, group (👍), authors, fans and ``questions`` questions, straight into the migrated schema."""
    store = await PostgresStore.open(url, pool_size=1)
    await store.close()
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO courses (slug, title, timezone, language, digest_cron, digest_size, created_at)"
                " VALUES ($1, 'AI', 'UTC', 'en', '0 9 * * 1', 10, 0)",
                COURSE,
            )
            await conn.execute(
                "INSERT INTO lessons (course_slug, slug, title, number, created_at) VALUES ($1, 'l1', 'One', 1, 0)",
                COURSE,
            )
            await conn.execute(
                "INSERT INTO study_groups (platform, chat_id, title, course_slug, language)"
                " VALUES ($1, $2, 'G', $3, 'en')",
                PLATFORM,
                CHAT,
                COURSE,
            )
            await conn.execute("INSERT INTO group_like_emojis VALUES (1, $1, 0)", LIKE)
            await conn.execute(
                "INSERT INTO members (platform, user_id, display_name)"
                " SELECT $1, 'author' || a, 'Author ' || a FROM generate_series(0, $2 - 1) a",
                PLATFORM,
                authors,
            )
            await conn.execute(
                "INSERT INTO members (platform, user_id, display_name)"
                " SELECT $1, 'fan' || f, 'Fan ' || f FROM generate_series(0, $2 - 1) f",
                PLATFORM,
                fans,
            )
            await conn.execute(
                "INSERT INTO questions (lesson_id, course_slug, group_id, author_id, kind, platform, chat_id,"
                " message_id, text, created_at)"
                " SELECT 1, $1, 1, q % $4 + 1, 'question', $2, $3, 'q' || q, $6 || q, q"
                " FROM generate_series(0, $5 - 1) q",
                COURSE,
                PLATFORM,
                CHAT,
                authors,
                questions,
                QUESTION_TEXT,
            )
    finally:
        await conn.close()


def workload(n: int, questions: int) -> tuple[list[tuple[int, int]], list[MessageRef], list[Member]]:
    """(question, fan) pairs, all distinct (fan f likes the questions in order), and the refs and members."""
    events = [(i % questions, i // questions) for i in range(n)]
    refs = [MessageRef(PLATFORM, CHAT, f"q{q}") for q in range(questions)]
    return events, refs, [Member(PLATFORM, f"fan{f}", f"Fan {f}") for f in range(n // questions + 1)]


async def stored_likes(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT COALESCE(SUM(likes), 0) FROM question_counts"))
    finally:
        await conn.close()


async def write_path(url: str, n: int, questions: int, *, bursts: bool) -> tuple[float, int]:
    """(a) or (a'): seconds for N likes, and the like transactions the store made."""
    store = await PostgresStore.open(url)
    events, refs, fans = workload(n, questions)
    at = T0
    start = time.perf_counter()
    for offset in range(0, n, CHUNK):
        chunk = events[offset : offset + CHUNK]
        if bursts:
            await store.apply_reactions([ReactionChange(refs[q], fans[f], LIKE, at) for q, f in chunk])
        else:
            await asyncio.gather(*(store.add_reaction(refs[q], fans[f], LIKE, at) for q, f in chunk))
    elapsed = time.perf_counter() - start
    transactions = store.like_queue.transactions
    await store.close()
    return elapsed, transactions


async def raw(url: str, n: int, questions: int, how: str) -> float:
    """(b): the same likes in one transaction through bare asyncpg, then the store's recount."""
    conn = await asyncpg.connect(url)
    try:
        first_fan = int(await conn.fetchval("SELECT id FROM members WHERE user_id = 'fan0'"))
        ids = {r[1]: r[0] for r in await conn.fetch("SELECT id, message_id FROM questions")}
        at = to_micros(T0)
        events = [(i % questions, i // questions) for i in range(n)]
        rows = [(ids[f"q{q}"], first_fan + f, LIKE, at) for q, f in events]
        touched = sorted(set(ids.values()))
        start = time.perf_counter()
        async with conn.transaction():
            if how == "executemany":
                await conn.executemany(
                    "INSERT INTO reactions (question_id, member_id, emoji, created_at) VALUES ($1, $2, $3, $4)"
                    " ON CONFLICT DO NOTHING",
                    rows,
                )
            elif how == "copy":
                await conn.copy_records_to_table(
                    "reactions", records=rows, columns=["question_id", "member_id", "emoji", "created_at"]
                )
            else:  # the store's own statement over arrays, CHUNK likes at a time
                for offset in range(0, n, CHUNK):
                    part = events[offset : offset + CHUNK]
                    columns = [
                        [ids[f"q{q}"] for q, _ in part],
                        [at] * len(part),
                        [LIKE] * len(part),
                        [PLATFORM] * len(part),
                        [f"fan{f}" for _, f in part],
                    ]
                    await conn.execute(ADD_LIKES, *columns)
            await conn.execute(RECOUNT, touched)
        return time.perf_counter() - start
    finally:
        await conn.close()


# -- the big database -------------------------------------------------------------------------------------------
BIG_LOAD = """
    INSERT INTO courses (slug, title, timezone, language, digest_cron, digest_size, created_at)
        VALUES ('ai', 'AI', 'UTC', 'en', '0 9 * * 1', 10, 0);
    INSERT INTO lessons (course_slug, slug, title, number, created_at)
        SELECT 'ai', 'l' || i, 'Lesson ' || i, i, {start} FROM generate_series(1, 50) i;
    INSERT INTO study_groups (platform, chat_id, title, course_slug, language)
        VALUES ('telegram', '-100', 'G', 'ai', 'en');
    INSERT INTO group_like_emojis VALUES (1, '👍', 0);
    INSERT INTO members (platform, user_id, display_name)
        SELECT 'telegram', 'm' || m, 'Member ' || m FROM generate_series(0, 49999) m;
    SELECT setseed(0.42);
    INSERT INTO questions (id, lesson_id, course_slug, group_id, author_id, kind, platform, chat_id, message_id,
                           text, created_at, deleted)
        SELECT q + 1, 1 + q * 50 / {questions}, 'ai', 1, q % 20000 + 1,
               CASE WHEN random() < 0.2 THEN 'comment' ELSE 'question' END, 'telegram', '-100', 'q' || q,
               'question ' || q || ' about lesson ' || (1 + q * 50 / {questions}) || ': how does it work?',
               {start} + q::bigint * {step}, (random() < 0.01)::int
        FROM generate_series(0, {questions} - 1) q;
    -- Triggers are off while loading (session_replication_role): the counts are written here.
    INSERT INTO question_counts (id, course_slug, lesson_id, kind, deleted, answered, created_at, likes)
        SELECT id, course_slug, lesson_id, kind, deleted, answered, created_at,
               LEAST(49999, floor(-ln(1 - random()) * {mean}))::int
        FROM questions;
    INSERT INTO reactions (question_id, member_id, emoji, created_at)
        SELECT q.id, (q.author_id + j) % 50000 + 1, '👍', q.created_at
        FROM questions q JOIN question_counts c ON c.id = q.id CROSS JOIN LATERAL generate_series(0, c.likes - 1) j;
"""


async def build_big(url: str, questions: int, reactions: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        saved = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE tablename IN ('questions', 'question_counts', 'reactions')"
            " AND indexname NOT IN ('questions_pkey', 'question_counts_pkey', 'reactions_pkey')"
        )
        for row in saved:
            await conn.execute(f'DROP INDEX "{row["indexname"]}"')
        await conn.execute("ALTER TABLE reactions DROP CONSTRAINT reactions_pkey")
        await conn.execute("SET session_replication_role = replica")  # no foreign key checks while loading
        span = 730 * 86_400_000_000
        start = to_micros(T0)
        await conn.execute(
            BIG_LOAD.format(start=start, questions=questions, step=span // questions, mean=reactions / questions)
        )
        await conn.execute("SET session_replication_role = origin")
        await conn.execute("ALTER TABLE reactions ADD PRIMARY KEY (question_id, member_id, emoji)")
        for row in saved:
            await conn.execute(row["indexdef"])
        await conn.execute("SELECT setval(pg_get_serial_sequence('questions', 'id'), (SELECT max(id) FROM questions))")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def timed(fn: Callable[[int], Awaitable[object]], runs: int) -> Spread:
    samples = []
    for i in range(runs):
        start = time.perf_counter()
        await fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    return Spread(samples)


async def query_times(url: str) -> tuple[Spread, Spread]:
    store = await PostgresStore.open(url)
    try:
        row = await store._fetchrow(
            "SELECT COUNT(*) AS n, SUM(likes) AS likes, MIN(created_at) AS first, MAX(created_at) AS last"
            " FROM question_counts"
        )
        assert row is not None
        reactions = await store._fetchval("SELECT COUNT(*) FROM reactions")
        print(f"    database: {row['n']:,} questions+comments, {reactions:,} reactions (likes sum {row['likes']:,})")
        await store.top_questions(COURSE, 10)
        weeks = max(1, (row["last"] - row["first"]) // (7 * 86_400_000_000))
        per_week = row["n"] // weeks

        def period(i: int) -> PostWindow:
            first = per_week * (i * 7 % weeks)
            return PostWindow(first, first + per_week)

        async def digest(i: int) -> None:
            await store.period_questions(COURSE, period(i), 10)
            await store.period_summary(COURSE, period(i))

        top = await timed(lambda i: store.top_questions(COURSE, 10), 51)
        top25 = await timed(lambda i: store.top_questions(COURSE, 25, include_answered=False), 51)
        lesson = await timed(lambda i: store.top_questions(COURSE, 10, lesson_id=1 + i % 50), 51)
        both = await timed(digest, 51)
        print(f"(e) top_questions(limit 10)                ms  {top}")
        print(f"    top_questions(25, unanswered only)     ms  {top25}")
        print(f"    top_questions(one lesson, limit 10)    ms  {lesson}")
        print(f"    period_questions + period_summary      ms  {both}")
        return top, both
    finally:
        await store.close()


async def run(admin_url: str, url_of: Callable[[str], str], n: int, big: tuple[int, int], repeat: int) -> bool:
    """Print every figure; True when the targets are met."""
    databases = Databases(admin_url, url_of)
    questions = 2_000
    seeded, seeded_url = await databases.create()
    await seed(seeded_url, questions, fans=n // questions + 1)
    print(f"PostgreSQL; {n:,} likes on {questions:,} questions, chunks of {CHUNK:,}; {repeat} runs each")
    rates: dict[str, list[float]] = {}
    transactions: list[int] = []
    for _ in range(repeat):
        for name, make in (
            ("a", lambda url: write_path(url, n, questions, bursts=False)),
            ("a'", lambda url: write_path(url, n, questions, bursts=True)),
            ("b1", lambda url: raw(url, n, questions, "executemany")),
            ("b1c", lambda url: raw(url, n, questions, "copy")),
            ("b2", lambda url: raw(url, n, questions, "statement")),
        ):
            db, url = await databases.create(template=seeded)
            result = await make(url)
            seconds = result[0] if isinstance(result, tuple) else result
            if isinstance(result, tuple) and name == "a":
                transactions.append(result[1])
            stored = await stored_likes(url)
            if stored != n:
                raise SystemExit(f"({name}): {n:,} likes written but {stored:,} counted")
            rates.setdefault(name, []).append(n / seconds)
            await databases.drop(db)
    labels = {
        "a": f"(a) store.add_reaction, {CHUNK} concurrent",
        "a'": f"(a') store.apply_reactions, bursts of {CHUNK}",
        "b1": "(b1) raw executemany, plain rows",
        "b1c": "(b1c) raw COPY, plain rows",
        "b2": "(b2) raw, the store's statement",
    }
    for name, label in labels.items():
        print(f"{label:<44} likes/s  {Spread(rates[name])}")
    print(f"    (a) used {statistics.median(transactions):,.0f} like transactions for {n:,} likes (median)")
    ratios = {
        key: Spread([a / b for a, b in zip(rates[top], rates[key], strict=True)])
        for top in ("a",)
        for key in ("b1", "b1c", "b2")
    }
    for key, spread in ratios.items():
        print(f"(c) ratio (a)/({key})                          {spread}")
    burst = Spread([a / b for a, b in zip(rates["a'"], rates["b1"], strict=True)])
    print(f"(c') ratio (a')/(b1)                          {burst}")
    await databases.drop(seeded)

    big_db, big_url = await databases.create()
    store = await PostgresStore.open(big_url, pool_size=1)
    await store.close()
    print(f"(e) building {big[0]:,} questions / {big[1]:,} reactions ...", flush=True)
    start = time.perf_counter()
    await build_big(big_url, *big)
    print(f"    built in {time.perf_counter() - start:.0f} s")
    top, digest = await query_times(big_url)
    await databases.drop(big_db)
    checks = [
        (f"(a)/(b1) = {ratios['b1'].median:.2f}", f"≥ {TARGET_RATIO}", ratios["b1"].median >= TARGET_RATIO),
        (f"(a)/(b1c) = {ratios['b1c'].median:.2f}", f"≥ {TARGET_RATIO}", ratios["b1c"].median >= TARGET_RATIO),
        (f"top_questions {top.median:.2f} ms", f"< {TARGET_MS:g} ms", top.median < TARGET_MS),
        (f"digest queries {digest.median:.2f} ms", f"< {TARGET_MS:g} ms", digest.median < TARGET_MS),
    ]
    for figure, target, met in checks:
        print(f"target {'met   ' if met else 'MISSED'}: {figure} (target {target}, medians)")
    return all(met for _, _, met in checks)


def main(n: int, big: tuple[int, int], repeat: int, url: str | None) -> bool:
    if url is not None:
        base = url.rsplit("/", 1)[0]
        return asyncio.run(run(url, lambda name: f"{base}/{name}", n, big, repeat))
    from tests.postgres_server import PostgresServer

    with PostgresServer() as server:
        return asyncio.run(run(server.url, server.database_url, n, big, repeat))
