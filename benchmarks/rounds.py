"""Alternating rounds for the ingest benchmarks: the machines are shared and noisy, so the library alone (a) and
studybot (b) alternate after a warm-up, each round gives its own ratio, and the median is reported."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

Baseline = Callable[[int], Awaitable[float]]
Studybot = Callable[[int, Path], Awaitable[tuple[float, int]]]


async def compare(baseline: Baseline, studybot: Studybot, n: int, rounds: int, unit: str) -> None:
    rounds = max(1, rounds)
    bases: list[float] = []
    ours: list[float] = []
    likes = 0
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
            rate, likes = await studybot(n, round_folder)
            ours.append(rate)
    ratios = [b_rate / a_rate for b_rate, a_rate in zip(ours, bases, strict=True)]
    print(f"{unit}: {n} per run, {rounds} alternating rounds")
    for number, (a_rate, b_rate, ratio) in enumerate(zip(bases, ours, ratios, strict=True), start=1):
        print(f"round {number}: (a) {a_rate:9,.0f}/s  (b) {b_rate:9,.0f}/s  ratio {ratio:.2f}")
    print(f"(a) library → no-op handler, median:     {statistics.median(bases):10,.0f} {unit}/s")
    median = statistics.median(ours)
    print(f"(b) library → studybot → committed, median: {median:7,.0f} {unit}/s  ({likes} likes committed)")
    print(f"(c) ratio (b)/(a), median of rounds:     {statistics.median(ratios):10.2f}  (target ≥ 0.80)")
