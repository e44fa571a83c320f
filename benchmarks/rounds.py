"""Alternating rounds for the ingest benchmarks: the machines are shared and noisy, so the library alone (a) and
studybot (b) alternate after a warm-up, each round gives its own ratio, and the median is reported.

Each run also reports the process's CPU time per event (both threads: the event loop and SQLite's writer thread).
Wall-clock rates on a shared virtual machine move with what the neighbours do (steal time); CPU time does not,
so its ratio shows what studybot costs the machine even when the wall-clock rounds scatter.

Every round checks that the work was done: each studybot run checks the database (:func:`check_committed`)
and its backend's failure counters, and raises :class:`RoundFailed` otherwise; :func:`main` turns that into a
clear message and exit status 2. The median ratio has a target (:data:`TARGET`): :func:`compare` returns 1
when it is missed (0 with ``--no-targets``, the quick smoke run of the test suite), printing the figures
either way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.heap import frozen_startup_heap

TARGET = 0.8  # median of the rounds' ratios (b)/(a), against the library taking the same events doing nothing


class RoundFailed(Exception):
    """A round whose work was not all done (likes missing from the database, a lot logged as failed)."""


def check_committed(database: Path, expected: int) -> int:
    """The likes committed in ``database``: exactly ``expected`` reaction rows and like counts, or RoundFailed."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT COUNT(*) FROM reactions").fetchone()[0]
        likes = conn.execute("SELECT COALESCE(SUM(likes), 0) FROM questions").fetchone()[0]
    if rows != expected or likes != expected:
        raise RoundFailed(
            f"{expected:,} likes sent, but {rows:,} reaction rows and a like count of {likes:,} committed"
        )
    return int(likes)


@dataclass(slots=True)
class Run:
    """One timed burst: events handled, wall-clock and CPU seconds, and (for studybot) the likes committed."""

    events: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    likes: int = 0

    @property
    def rate(self) -> float:
        return self.events / self.wall

    @property
    def cpu_us(self) -> float:
        return 1e6 * self.cpu / self.events


@contextmanager
def timed(run: Run, events: int) -> Iterator[Run]:
    """Time the body into ``run`` (wall clock and process CPU).

    Both sides run with the heap frozen as ``studybot run`` freezes it once started (bot/heap.py): the same
    collector settings for the library alone and for studybot, and no full collection in the timed burst that
    only rescans what the setup left (studybot's setup is larger: the app, the migrations, the seeded questions).
    """
    with frozen_startup_heap():
        wall, cpu = time.perf_counter(), time.process_time()
        yield run
        run.wall, run.cpu, run.events = time.perf_counter() - wall, time.process_time() - cpu, events


Baseline = Callable[[int], Awaitable[Run]]
Studybot = Callable[[int, Path], Awaitable[Run]]


@dataclass(frozen=True, slots=True)
class Side:
    """A side of the comparison: what it is (printed) and how to run it."""

    label: str
    run: Baseline


@dataclass
class Spread:
    """Figures of alternating rounds, printed as min / median / max (these machines are noisy; every benchmark's
    targets are on medians)."""

    samples: list[float]

    def __str__(self) -> str:
        s = self.samples
        return f"min {min(s):,.2f}  median {statistics.median(s):,.2f}  max {max(s):,.2f}"

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


async def compare(
    baseline: Side,
    studybot: Studybot,
    n: int,
    rounds: int,
    unit: str,
    *,
    reference: Side | None = None,
    targets: bool = True,
) -> int:
    """Alternating rounds of ``baseline`` (a), ``reference`` (a', when given: an older baseline, for context)
    and studybot (b); prints every round and the summary; returns 1 when the median ratio misses TARGET (and
    ``targets`` is on), else 0."""
    rounds = max(1, rounds)
    bases: list[Run] = []
    refs: list[Run] = []
    ours: list[Run] = []
    with tempfile.TemporaryDirectory() as folder:
        # A warm-up of each, not reported: the first run in a fresh process pays for imports and caches.
        warm = Path(folder) / "warm-up"
        warm.mkdir()
        await baseline.run(max(1, n // 5))
        if reference is not None:
            await reference.run(max(1, n // 5))
        await studybot(max(1, n // 5), warm)
        for number in range(rounds):
            bases.append(await baseline.run(n))
            if reference is not None:
                refs.append(await reference.run(n))
            round_folder = Path(folder) / str(number)
            round_folder.mkdir()
            ours.append(await studybot(n, round_folder))
    ratios = [b.rate / a.rate for a, b in zip(bases, ours, strict=True)]
    cpu_ratios = [a.cpu_us / b.cpu_us for a, b in zip(bases, ours, strict=True)]
    print(f"{unit}: {n} per run, {rounds} alternating rounds; every round checked: all {n} likes committed")
    for number, (a, b, ratio) in enumerate(zip(bases, ours, ratios, strict=True), start=1):
        print(
            f"round {number}: (a) {a.rate:9,.0f}/s  (b) {b.rate:9,.0f}/s  ratio {ratio:.2f}"
            f"   CPU per event (a) {a.cpu_us:5.1f} µs  (b) {b.cpu_us:5.1f} µs"
        )
    print(f"(a) {baseline.label}, median: {statistics.median(r.rate for r in bases):,.0f} {unit}/s")
    if reference is not None:
        print(f"(a') {reference.label}, median: {statistics.median(r.rate for r in refs):,.0f} {unit}/s")
    median = statistics.median(r.rate for r in ours)
    print(f"(b) library → studybot → committed, median: {median:7,.0f} {unit}/s  ({ours[-1].likes} likes committed)")
    ratio = statistics.median(ratios)
    print(f"(c) ratio (b)/(a), median of rounds:     {ratio:10.2f}  (target ≥ {TARGET:.2f})")
    print(f"    ratio (b)/(a) over the rounds:       {Spread(ratios)}")
    if reference is not None:
        old = [b.rate / a.rate for a, b in zip(refs, ours, strict=True)]
        print(f"    ratio (b)/(a') over the rounds:      {Spread(old)}  (no target: context only)")
    print(
        f"(d) CPU per event (a)/(b), median:       {statistics.median(cpu_ratios):10.2f}  (process CPU, both threads)"
    )
    if ratio >= TARGET:
        print(f"target met: median ratio {ratio:.2f} ≥ {TARGET:.2f}")
        return 0
    if not targets:
        print(f"target not checked (--no-targets): median ratio {ratio:.2f}, target ≥ {TARGET:.2f}")
        return 0
    print(f"TARGET MISSED: median ratio {ratio:.2f} < {TARGET:.2f}", file=sys.stderr)
    print(f"TARGET MISSED: median ratio {ratio:.2f} < {TARGET:.2f}")
    return 1


def arguments(description: str, unit: str) -> argparse.Namespace:
    """The ingest benchmarks' common options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--events", type=int, default=10_000, help=f"{unit} per run (default 10,000)")
    # 21: a round's ratio moves by ±0.1 with what the machine's neighbours do, and the median of five still moved
    # by ±0.05 from one run to the next; of 21 it moved by 0.01 (Discord, on one machine in one hour).
    parser.add_argument("--rounds", type=int, default=21, help="alternating rounds of (a) and (b) (default 21)")
    parser.add_argument(
        "--no-targets",
        action="store_true",
        help="do not fail on a missed ratio target (the test suite's quick smoke run); the work is still checked",
    )
    parser.add_argument(
        "--reference", action="store_true", help="also run the older baseline (a') every round, for context"
    )
    parser.add_argument(
        "--store",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="where studybot's rounds write: an SQLite file (default) or a PostgreSQL server started for the run",
    )
    return parser.parse_args()


def main(run: Callable[[], Coroutine[object, object, int]]) -> None:
    """Run a benchmark: exit 0, 1 (target missed) or 2 (a round's work was not all done)."""
    logging.basicConfig(level=logging.WARNING)
    try:
        code = asyncio.run(run())
    except RoundFailed as failure:
        print(f"ROUND FAILED: {failure}", file=sys.stderr)
        print(f"ROUND FAILED: {failure}")
        sys.exit(2)
    sys.exit(code)
