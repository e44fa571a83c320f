"""Reminders benchmark (issue 16): the look for due reminders that every scheduler wake-up makes, at scale.

Run: ``.venv/bin/python benchmarks/reminders.py [--questions N] [--cache-dir DIR] [--no-targets]``.

The scheduler asks every course with ``/remind`` on for its due reminders at every wake-up (at most 30 s apart),
so the look must not read the course's history. On the storage benchmark's database (``build_big``: N questions
over two years, likes spread as there, default 1,000,000 questions and as many likes) it prints the median time
of ``reminder_candidates`` (batch 20, questions older than 3 days):

(a) before anything is reminded (the first wake-up after ``/remind`` is set: the oldest 20 are found);
(b) in the steady state, every old liked question already reminded (what each later wake-up costs).

Target: (b) ≤ 5 ms median. Exits 1 when missed (not with ``--no-targets``, the test suite's smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage import SqliteStore
from storage.codec import from_micros, to_micros

TARGET_STEADY_MS = 5.0
BATCH = 20
RUNS = 15


def storage_benchmark() -> ModuleType:
    """benchmarks/storage.py, loaded by path: its name is the ``storage`` package's, so it cannot be imported."""
    spec = importlib.util.spec_from_file_location("storage_benchmark", Path(__file__).with_name("storage.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # registered first, as an import does (its dataclasses look themselves up there)
    spec.loader.exec_module(module)
    return module


async def median_ms(store: SqliteStore, course: str, cutoff_us: int) -> tuple[float, int]:
    cutoff = from_micros(cutoff_us)
    samples, found = [], 0
    for _ in range(RUNS):
        start = time.perf_counter()
        found = len(await store.reminder_candidates(course, cutoff, BATCH))
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), found


async def measure(path: Path, course: str) -> tuple[float, float]:
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM question_reminders")
        conn.execute("UPDATE questions SET reminded_at = NULL WHERE reminded_at IS NOT NULL")
        last = conn.execute("SELECT MAX(created_at) FROM questions").fetchone()[0]
    conn.close()
    cutoff_us = to_micros(from_micros(last) - timedelta(days=3))
    store = await SqliteStore.open(path)
    try:
        fresh, found = await median_ms(store, course, cutoff_us)
        print(f"(a) nothing reminded yet: median {fresh:.2f} ms, {found} found")
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:  # every old liked question reminded, as claims would leave them
        conn.execute(
            "INSERT INTO question_reminders (question_id, course_slug, reminded_at)"
            " SELECT id, course_slug, 0 FROM questions WHERE kind = 'question' AND answered = 0 AND deleted = 0"
            " AND duplicate_of IS NULL AND score >= 1 AND created_at <= ?",
            (cutoff_us,),
        )
        conn.execute("UPDATE questions SET reminded_at = 0 WHERE id IN (SELECT question_id FROM question_reminders)")
        reminded = conn.execute("SELECT COUNT(*) FROM question_reminders").fetchone()[0]
    conn.close()
    store = await SqliteStore.open(path)
    try:
        steady, found = await median_ms(store, course, cutoff_us)
        print(f"(b) {reminded:,} questions reminded before: median {steady:.2f} ms, {found} found")
    finally:
        await store.close()
    return fresh, steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=1_000_000)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "studybot-bench")
    parser.add_argument("--no-targets", action="store_true", help="print the figures, check no target")
    args = parser.parse_args()
    bench = storage_benchmark()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    path = args.cache_dir / f"reminders-{args.questions}-{bench.schema_hash()}.db"
    if not path.exists():
        start = time.perf_counter()
        bench.build_big(path, args.questions, args.questions)
        print(f"built {args.questions:,} questions in {time.perf_counter() - start:.0f} s")
    _, steady = asyncio.run(measure(path, bench.COURSE))
    if not args.no_targets and steady > TARGET_STEADY_MS:
        print(f"target missed: (b) {steady:.2f} ms > {TARGET_STEADY_MS} ms")
        sys.exit(1)


if __name__ == "__main__":
    main()
