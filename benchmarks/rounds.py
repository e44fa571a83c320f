"""Alternating rounds for the ingest benchmarks: the machines are shared and noisy, so the library alone (a) and
studybot (b) alternate after a warm-up, each round gives its own ratio, and the median is reported.

Each run also reports the process's CPU time per event (both threads: the event loop and SQLite's writer thread).
Wall-clock rates on a shared virtual machine move with what the neighbours do (steal time); CPU time does not,
so its ratio shows what studybot costs the machine even when the wall-clock rounds scatter.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.heap import frozen_startup_heap


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


async def compare(baseline: Baseline, studybot: Studybot, n: int, rounds: int, unit: str) -> None:
    rounds = max(1, rounds)
    bases: list[Run] = []
    ours: list[Run] = []
    with tempfile.TemporaryDirectory() as folder:
        # A warm-up of each, not reported: the first run in a fresh process pays for imports and caches.
        warm = Path(folder) / "warm-up"
        warm.mkdir()
        await baseline(max(1, n // 5))
        await studybot(max(1, n // 5), warm)
        for number in range(rounds):
            bases.append(await baseline(n))
            round_folder = Path(folder) / str(number)
            round_folder.mkdir()
            ours.append(await studybot(n, round_folder))
    ratios = [b.rate / a.rate for a, b in zip(bases, ours, strict=True)]
    cpu_ratios = [a.cpu_us / b.cpu_us for a, b in zip(bases, ours, strict=True)]
    print(f"{unit}: {n} per run, {rounds} alternating rounds")
    for number, (a, b, ratio) in enumerate(zip(bases, ours, ratios, strict=True), start=1):
        print(
            f"round {number}: (a) {a.rate:9,.0f}/s  (b) {b.rate:9,.0f}/s  ratio {ratio:.2f}"
            f"   CPU per event (a) {a.cpu_us:5.1f} µs  (b) {b.cpu_us:5.1f} µs"
        )
    print(f"(a) library → no-op handler, median:     {statistics.median(r.rate for r in bases):10,.0f} {unit}/s")
    median = statistics.median(r.rate for r in ours)
    print(f"(b) library → studybot → committed, median: {median:7,.0f} {unit}/s  ({ours[-1].likes} likes committed)")
    print(f"(c) ratio (b)/(a), median of rounds:     {statistics.median(ratios):10.2f}  (target ≥ 0.80)")
    print(
        f"(d) CPU per event (a)/(b), median:       {statistics.median(cpu_ratios):10.2f}  (process CPU, both threads)"
    )
