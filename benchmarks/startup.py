"""Start-up benchmark: how long `studybot --help` and `studybot lesson list` take against a bare interpreter.

Run: ``.venv/bin/python benchmarks/startup.py [--rounds 9]``.

Each round runs, one after another in a fresh process each: ``python -c pass`` (the floor), ``studybot --help``,
and ``studybot lesson list COURSE`` on a small database made for the run; rounds alternate so that a noisy
machine slows all three alike. Every round checks the commands' output (the help text, the lesson listed), so a
command that fails fast cannot pass. Prints min / median / max of each ratio to the floor. Targets (issue 14):
``--help`` within 5x and ``lesson list`` within 15x of the bare interpreter, by the median.
Exits non-zero when a target is missed, and prints the figures either way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"--help": 5.0, "lesson list": 15.0}


def timed(command: list[str], env: dict[str, str], expect: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0 or expect not in done.stdout:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stdout}{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    rounds = parser.parse_args().rounds
    studybot = [sys.executable, "-m", "bot.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "none.env").touch()
        env = os.environ | {"DATABASE_PATH": str(folder / "s.db"), "LOG_LEVEL": "WARNING"}
        settings = ["--env-file", str(folder / "none.env")]
        lesson = folder / "intro.md"
        lesson.write_text("---\ntitle: Startup lesson\nnumber: 0\n---\nBody.\n", encoding="utf-8")
        subprocess.run([*studybot, *settings, "lesson", "add", "--course", "bench", str(lesson)], env=env, check=True,
                       capture_output=True)  # fmt: skip
        ratios: dict[str, list[float]] = {name: [] for name in TARGETS}
        for _ in range(rounds):
            floor = timed([sys.executable, "-c", "print('ok')"], env, "ok")
            ratios["--help"].append(timed([*studybot, "--help"], env, "usage: studybot") / floor)
            listed = timed([*studybot, *settings, "lesson", "list", "bench"], env, "Startup lesson")
            ratios["lesson list"].append(listed / floor)
    missed = []
    for name, values in ratios.items():
        median = statistics.median(values)
        print(f"{name:12} / bare python: min {min(values):5.1f}x  median {median:5.1f}x  max {max(values):5.1f}x"
              f"  (target ≤ {TARGETS[name]:g}x)")  # fmt: skip
        if median > TARGETS[name]:
            missed.append(name)
    for name in missed:
        print(f"MISSED: {name}")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
