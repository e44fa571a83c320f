"""Storage benchmark: likes through the group-commit write path vs raw SQLite, and /top + digest queries at scale.

Run: ``.venv/bin/python benchmarks/storage.py [--quick] [--likes N] [--repeat N] [--cache-dir DIR]
[--no-targets]``; ``--store postgresql [--url URL]`` runs the same on PostgreSQL (benchmarks/storage_postgres.py).

(a) likes/s through ``SqliteStore.add_reaction``: N calls issued concurrently in chunks of 1,000 (a busy bot:
    many events in flight at once), all committed when the run ends;
(b) likes/s of raw ``sqlite3`` ``executemany`` into the same schema in ONE transaction — the limit — both as
    plain reaction rows with ids already known (b1) and as the very statements the store runs (b2);
(c) the ratios (a)/(b), taken in each of ``--repeat`` alternating rounds (fresh copies of one seeded database),
    printed as min / median / max;
(d) the naive aiosqlite way, one commit per like, on a small N for context;
(e) median times of ``top_questions`` and ``period_questions`` + ``period_summary`` through the store at
    1,000,000 questions / 10,000,000 reactions (``--quick``: 100,000 / 1,000,000). That database is built
    once with raw bulk inserts into the schema the migrations create (indexes and triggers dropped during the
    load and recreated after, like counts set directly) and cached in the cache directory; its file name
    carries a hash of the migrations, so a schema change rebuilds it.

Targets: the single-call path keeps at least a quarter of raw SQLite's rate, median (a)/(b1) ≥ 0.25; ``/top``
(``top_questions``, limit 10) in a median of at most 50 ms and a digest's queries (``period_questions`` +
``period_summary``, one week) in at most 100 ms. Exits 1 when a target is missed (not with ``--no-targets``,
the test suite's smoke run), printing the figures either way; the write paths also check that every like is
stored, and stop with an error otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and this file is itself named "storage": put the
# checkout in front so that `import storage` finds the package (and works without installing it).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.rounds import Spread
from handlers.vocabulary.domain import Member, MessageRef, PostWindow, ReactionChange
from storage import SqliteStore, upgrade_database
from storage.base import UPSERT_MEMBER
from storage.codec import to_micros
from storage.connection import connect
from storage.likes import ADD_REACTION
from storage.schema import load_migrations

logger = logging.getLogger(__name__)

PLATFORM, CHAT, COURSE, LIKE = "telegram", "-100", "ai", "👍"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
CHUNK = 1000
TARGET_RATIO = 0.25  # (a)/(b1): store.add_reaction one call per like, against raw executemany in one transaction
TARGET_TOP_MS = 50.0  # top_questions(limit 10), median
TARGET_DIGEST_MS = 100.0  # period_questions + period_summary of one week, median


# -- a small database for the write benchmarks ------------------------------------------------------------
# Questions of ordinary length (the sample course page's run from 20 to 150 characters), each a little different:
# what a like costs may depend on its question's text (on PostgreSQL it did, before migration 0017).
QUESTION_TEXT = "vLLM 的 PagedAttention 怎么理解？KV cache 分页和操作系统的虚拟内存有什么关系？ question "


def seed(path: Path, questions: int, authors: int = 100) -> None:
    """Course, lesson, group (👍 likes), authors and ``questions`` questions, straight into the real schema."""
    asyncio.run(upgrade_database(path))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO courses (slug, title, timezone, language, digest_cron, digest_size, created_at)"
        " VALUES (?, 'AI', 'UTC', 'en', '0 9 * * 1', 10, 0)",
        (COURSE,),
    )
    conn.execute(
        "INSERT INTO lessons (course_slug, slug, title, number, created_at) VALUES (?, 'l1', 'One', 1, 0)", (COURSE,)
    )
    conn.execute(
        "INSERT INTO study_groups (platform, chat_id, title, course_slug, language) VALUES (?, ?, 'G', ?, 'en')",
        (PLATFORM, CHAT, COURSE),
    )
    conn.execute("INSERT INTO group_like_emojis VALUES (1, ?, 0)", (LIKE,))
    conn.executemany(
        "INSERT INTO members (platform, user_id, display_name) VALUES (?, ?, ?)",
        ((PLATFORM, f"author{a}", f"Author {a}") for a in range(authors)),
    )
    conn.executemany(
        "INSERT INTO questions (lesson_id, course_slug, group_id, author_id, kind, platform, chat_id, message_id,"
        " text, created_at) VALUES (1, ?, 1, ?, 'question', ?, ?, ?, ?, ?)",
        ((COURSE, q % authors + 1, PLATFORM, CHAT, f"q{q}", f"{QUESTION_TEXT}{q}", q) for q in range(questions)),
    )
    conn.execute("COMMIT")
    conn.close()


def like_events(n: int, questions: int) -> Iterator[tuple[int, int]]:
    """(question index, fan index) pairs, all distinct: fan f likes questions in order."""
    for i in range(n):
        yield i % questions, i // questions


def fan(index: int) -> Member:
    return Member(PLATFORM, f"fan{index}", f"Fan {index}")


def workload(n: int, questions: int) -> tuple[list[tuple[int, int]], list[MessageRef], list[Member]]:
    """The likes of (a) and (a'): (question, fan) pairs, and the refs and members they point at."""
    refs = [MessageRef(PLATFORM, CHAT, f"q{q}") for q in range(questions)]
    return list(like_events(n, questions)), refs, [fan(f) for f in range(n // questions + 1)]


async def write_path(path: Path, n: int, questions: int) -> tuple[float, int, int]:
    """(a): N add_reaction calls, CHUNK at a time concurrently, each chunk awaited before the next is issued;
    returns (seconds, commits, likes stored)."""
    store = await SqliteStore.open(path)
    at = T0
    events, refs, fans = workload(n, questions)
    start = time.perf_counter()
    for offset in range(0, n, CHUNK):
        chunk = events[offset : offset + CHUNK]
        await asyncio.gather(*(store.add_reaction(refs[q], fans[f], LIKE, at) for q, f in chunk))
    elapsed = time.perf_counter() - start
    commits = store.writer_stats.commits
    await store.close()
    with sqlite3.connect(path) as conn:
        stored = conn.execute("SELECT SUM(likes) FROM questions").fetchone()[0]
    conn.close()
    return elapsed, commits, stored


async def burst_path(path: Path, n: int, questions: int) -> float:
    """(a'): the same likes as reaction bursts of CHUNK (store.apply_reactions, the path the Telegram and
    Discord backends use for reactions that arrive together), each burst awaited before the next."""
    store = await SqliteStore.open(path)
    events, refs, fans = workload(n, questions)
    start = time.perf_counter()
    for offset in range(0, n, CHUNK):
        chunk = events[offset : offset + CHUNK]
        await store.apply_reactions([ReactionChange(refs[q], fans[f], LIKE, T0) for q, f in chunk])
    elapsed = time.perf_counter() - start
    await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT SUM(likes) FROM questions").fetchone()[0] == n
    conn.close()
    return elapsed


def raw_connection(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection with the store's pragmas, so that (b) does the same work as (a)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON", "busy_timeout = 5000"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def raw_plain(path: Path, n: int, questions: int) -> float:
    """(b1): plain reaction rows, ids known, members already there; one executemany, one transaction."""
    conn = raw_connection(path)
    fans = n // questions + 1
    conn.executemany(
        "INSERT INTO members (platform, user_id, display_name) VALUES (?, ?, ?)",
        ((PLATFORM, f"fan{f}", f"Fan {f}") for f in range(fans)),
    )
    first_fan = conn.execute("SELECT id FROM members WHERE user_id = 'fan0'").fetchone()[0]
    at = to_micros(T0)
    rows = [(q + 1, first_fan + f, LIKE, at) for q, f in like_events(n, questions)]
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT OR IGNORE INTO reactions (question_id, member_id, emoji, created_at) VALUES (?, ?, ?, ?)", rows
    )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    assert conn.execute("SELECT SUM(likes) FROM questions").fetchone()[0] == n
    conn.close()
    return elapsed


def raw_same_statements(path: Path, n: int, questions: int) -> float:
    """(b2): the store's own two statements (member upsert, INSERT … SELECT) as executemany, one transaction."""
    conn = raw_connection(path)
    at = to_micros(T0)
    events = list(like_events(n, questions))
    members = [(PLATFORM, f"fan{f}", f"Fan {f}", 0) for _, f in events]
    likes = [(at, LIKE, PLATFORM, f"fan{f}", PLATFORM, CHAT, f"q{q}") for q, f in events]
    start = time.perf_counter()
    conn.execute("BEGIN")
    for offset in range(0, n, CHUNK):  # the same grouping the writer makes
        conn.executemany(UPSERT_MEMBER, members[offset : offset + CHUNK])
        conn.executemany(ADD_REACTION, likes[offset : offset + CHUNK])
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    assert conn.execute("SELECT SUM(likes) FROM questions").fetchone()[0] == n
    conn.close()
    return elapsed


async def naive(path: Path, n: int, questions: int) -> float:
    """(d): what a straightforward handler would do: its own statements and a commit for every like."""
    conn = await connect(path)
    at = to_micros(T0)
    start = time.perf_counter()
    for q, f in like_events(n, questions):
        await conn.execute("BEGIN")
        await conn.execute(UPSERT_MEMBER, (PLATFORM, f"fan{f}", f"Fan {f}", 0))
        await conn.execute(ADD_REACTION, (at, LIKE, PLATFORM, f"fan{f}", PLATFORM, CHAT, f"q{q}"))
        await conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    await conn.close()
    return elapsed


# -- the big database for the query benchmarks ------------------------------------------------------------
def schema_hash() -> str:
    digest = hashlib.sha256()
    for migration in load_migrations():
        digest.update(migration.sql.encode())
    return digest.hexdigest()[:12]


def build_big(path: Path, questions: int, reactions: int) -> None:
    """Bulk-load ``questions`` posts and about ``reactions`` likes into the migrated schema, fast."""
    tmp = path.with_suffix(".building")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    asyncio.run(upgrade_database(tmp))
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")  # a throwaway build: no journal, no fsync
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    saved = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL"
        " AND tbl_name IN ('questions', 'reactions')"
    ).fetchall()
    for kind, name, _ in saved:
        conn.execute(f"DROP {kind.upper()} {name}")
    rng = random.Random(42)
    lessons, authors, members = 50, 20_000, 50_000
    span = timedelta(days=730) // timedelta(microseconds=1)
    start_us = to_micros(T0)
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO courses (slug, title, timezone, language, digest_cron, digest_size, created_at)"
        " VALUES (?, 'AI', 'UTC', 'en', '0 9 * * 1', 10, 0)",
        (COURSE,),
    )
    conn.executemany(
        "INSERT INTO lessons (course_slug, slug, title, number, created_at) VALUES (?, ?, ?, ?, ?)",
        ((COURSE, f"l{i}", f"Lesson {i}", i, start_us) for i in range(1, lessons + 1)),
    )
    conn.execute(
        "INSERT INTO study_groups (platform, chat_id, title, course_slug, language) VALUES (?, ?, 'G', ?, 'en')",
        (PLATFORM, CHAT, COURSE),
    )
    conn.execute("INSERT INTO group_like_emojis VALUES (1, ?, 0)", (LIKE,))
    conn.executemany(
        "INSERT INTO members (platform, user_id, display_name) VALUES (?, ?, ?)",
        ((PLATFORM, f"m{m}", f"Member {m}") for m in range(members)),
    )
    mean = reactions / questions + 0.5  # int() below floors: this keeps the total near ``reactions``
    counts = [min(members - 1, int(rng.expovariate(1 / mean))) for _ in range(questions)]
    times = sorted(start_us + rng.randrange(span) for _ in range(questions))

    def question_rows() -> Iterator[tuple[object, ...]]:
        for q in range(questions):
            kind = "comment" if rng.random() < 0.2 else "question"
            lesson = 1 + q * lessons // questions
            yield (
                lesson,
                COURSE,
                1,
                q % authors + 1,
                kind,
                PLATFORM,
                CHAT,
                f"q{q}",
                f"question {q} about lesson {lesson}: how does it work?",
                times[q],
                int(rng.random() < 0.01),
                counts[q],
            )

    conn.executemany(
        "INSERT INTO questions (lesson_id, course_slug, group_id, author_id, kind, platform, chat_id, message_id,"
        " text, created_at, deleted, likes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        question_rows(),
    )

    def reaction_rows() -> Iterator[tuple[int, int, str, int]]:
        for q in range(questions):
            author = q % authors + 1
            for j in range(counts[q]):
                member = (author + j) % members + 1  # distinct, never the author (counts < members)
                yield q + 1, member, LIKE, times[q]

    conn.executemany(
        "INSERT INTO reactions (question_id, member_id, emoji, created_at) VALUES (?, ?, ?, ?)", reaction_rows()
    )
    conn.execute("COMMIT")
    for _, _, sql in saved:
        conn.execute(sql)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    tmp.replace(path)


async def median_ms(fn: Callable[[int], Awaitable[object]], runs: int) -> float:
    samples = []
    for i in range(runs):
        start = time.perf_counter()
        await fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


async def query_times(path: Path) -> tuple[float, float]:
    """Print (e); returns the medians of top_questions(limit 10) and of a digest's two queries, in ms."""
    store = await SqliteStore.open(path)
    try:
        with sqlite3.connect(path) as conn:
            questions, likes = conn.execute("SELECT COUNT(*), SUM(likes) FROM questions").fetchone()
            reactions = conn.execute("SELECT COUNT(*) FROM reactions").fetchone()[0]
            first, last = conn.execute("SELECT MIN(created_at), MAX(created_at) FROM questions").fetchone()
        conn.close()
        print(f"    database: {questions:,} questions+comments, {reactions:,} reactions (likes sum {likes:,})")
        await store.top_questions(COURSE, 10)  # warm the cache, as a running bot's would be
        weeks = max(1, (last - first) // (7 * 86_400_000_000))
        per_week = questions // weeks

        def period(i: int) -> PostWindow:
            """A digest's window: the posts of one week, which are stored (and so numbered) in time order."""
            start = per_week * (i * 7 % weeks)
            return PostWindow(start, start + per_week)

        top = await median_ms(lambda i: store.top_questions(COURSE, 10), 51)
        top25 = await median_ms(lambda i: store.top_questions(COURSE, 25, include_answered=False), 51)
        in_lesson = await median_ms(lambda i: store.top_questions(COURSE, 10, lesson_id=1 + i % 50), 51)
        per_q = await median_ms(lambda i: store.period_questions(COURSE, period(i), 10), 51)
        per_s = await median_ms(lambda i: store.period_summary(COURSE, period(i)), 51)

        async def digest(i: int) -> None:
            await store.period_questions(COURSE, period(i), 10)
            await store.period_summary(COURSE, period(i))

        both = await median_ms(digest, 51)
        stats = await median_ms(lambda i: store.stats(COURSE), 3)
        print(f"(e) top_questions(limit 10)                      median {top:7.2f} ms")
        print(f"    top_questions(limit 25, unanswered only)     median {top25:7.2f} ms")
        print(f"    top_questions(one lesson, limit 10)          median {in_lesson:7.2f} ms")
        print(f"    period_questions(one week, limit 10)         median {per_q:7.2f} ms")
        print(f"    period_summary(one week)                     median {per_s:7.2f} ms")
        print(f"    period_questions + period_summary            median {both:7.2f} ms")
        print(f"    stats(course) (full scan, for context)       median {stats:7.2f} ms")
    finally:
        await store.close()
    return top, both


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100k questions / 1M reactions for (e), 50k likes")
    parser.add_argument("--likes", type=int, default=None, help="likes for (a) and (b) (default 200,000)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: only checks that the benchmark still runs")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "studybot-bench")
    parser.add_argument("--no-targets", action="store_true", help="print the figures but never fail on a target")
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--url", default=None, help="PostgreSQL: a server to use (default: start a throwaway one)")
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds of the write benchmarks")
    args = parser.parse_args()
    n = args.likes or (2_000 if args.smoke else 50_000 if args.quick else 200_000)
    big_questions, big_reactions = (
        (2_000, 20_000) if args.smoke else (100_000, 1_000_000) if args.quick else (1_000_000, 10_000_000)
    )
    if args.store == "postgresql":
        from benchmarks import storage_postgres

        met = storage_postgres.main(n, (big_questions, big_reactions), args.repeat, args.url)
        if not met and not args.no_targets:
            print("TARGET MISSED (see above)", file=sys.stderr)
            sys.exit(1)
        return
    questions = 2_000

    print(f"SQLite {sqlite3.sqlite_version}; {n:,} likes on {questions:,} questions, chunks of {CHUNK:,}")
    work = Path(tempfile.mkdtemp(prefix="studybot-bench-"))
    try:
        seeded = work / "seeded.db"
        seed(seeded, questions)

        def fresh(name: str) -> Path:
            copy = work / name
            shutil.copy(seeded, copy)
            return copy

        rates: dict[str, list[float]] = {}
        commits: list[int] = []
        for _ in range(args.repeat):  # alternating rounds, each on fresh copies: the ratios are taken per round
            seconds, made, stored = asyncio.run(write_path(fresh("a.db"), n, questions))
            if stored != n:
                sys.exit(f"(a) store.add_reaction: {n:,} likes written but {stored:,} stored")
            commits.append(made)
            rates.setdefault("a", []).append(n / seconds)
            rates.setdefault("a'", []).append(n / asyncio.run(burst_path(fresh("a2.db"), n, questions)))
            rates.setdefault("b1", []).append(n / raw_plain(fresh("b1.db"), n, questions))
            rates.setdefault("b2", []).append(n / raw_same_statements(fresh("b2.db"), n, questions))
        labels = {
            "a": f"(a) store.add_reaction, {CHUNK} concurrent",
            "a'": f"(a') store.apply_reactions, bursts of {CHUNK}",
            "b1": "(b1) raw executemany, plain reaction rows",
            "b2": "(b2) raw executemany, the store's statements",
        }
        for name, label in labels.items():
            print(f"{label:<46} likes/s  {Spread(rates[name])}")
        print(f"    (a) made {statistics.median(commits):,.0f} commits for {n:,} likes (median); every run stored all")

        def ratio(top: str, base: str) -> Spread:
            return Spread([a / b for a, b in zip(rates[top], rates[base], strict=True)])

        ratio_a_b1 = ratio("a", "b1")
        for top, base in (("a", "b1"), ("a", "b2"), ("a'", "b1"), ("a'", "b2")):
            print(f"(c) ratio {f'({top})/({base})':<36}{ratio(top, base)}")
        rate_b1 = statistics.median(rates["b1"])
        small = 2_000
        rate_d = small / asyncio.run(naive(fresh("d.db"), small, questions))
        print(
            f"(d) naive aiosqlite, commit per like          {rate_d:11,.0f} likes/s  "
            f"({small:,} likes; {rate_d / rate_b1:.1%} of (b1))"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    args.cache_dir.mkdir(parents=True, exist_ok=True)
    big = args.cache_dir / f"storage-v2-{big_questions}-{big_reactions}-{schema_hash()}.db"
    if big.exists():
        print(f"(e) using cached {big}")
    else:
        print(f"(e) building {big} ...", flush=True)
        start = time.perf_counter()
        build_big(big, big_questions, big_reactions)
        print(f"    built in {time.perf_counter() - start:.0f} s")
    top, digest = asyncio.run(query_times(big))

    checks = [
        (f"(a)/(b1) = {ratio_a_b1.median:.2f} (median)", f"≥ {TARGET_RATIO}", ratio_a_b1.median >= TARGET_RATIO),
        (f"top_questions(limit 10) {top:.2f} ms", f"≤ {TARGET_TOP_MS:g} ms", top <= TARGET_TOP_MS),
        (
            f"period_questions + period_summary {digest:.2f} ms",
            f"≤ {TARGET_DIGEST_MS:g} ms",
            digest <= TARGET_DIGEST_MS,
        ),
    ]
    missed = [f"{figure} (target {target})" for figure, target, met in checks if not met]
    size = f"{big_questions:,} questions / {big_reactions:,} reactions"
    for figure, target, met in checks:
        print(f"target {'met   ' if met else 'MISSED'}: {figure} (target {target}; {size} for the queries)")
    if missed and not args.no_targets:
        print("TARGET MISSED: " + "; ".join(missed), file=sys.stderr)
        sys.exit(1)
    if missed:
        print("targets not checked (--no-targets)")


if __name__ == "__main__":
    main()
