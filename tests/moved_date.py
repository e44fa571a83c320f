"""Run the test suite with the machine's date, the machine's timezone and the test clock's start all moved.

    python -m tests.moved_date --machine '2028-02-29 23:59:50' --start 2027-03-28T00:59:00+00:00 \
        --tz America/New_York [pytest arguments…]

Why: no test outcome may depend on today's date or on where the machine is. ``--start`` moves every TestClock
(``TEST_CLOCK_START``, see tests/clock.py); ``--machine`` moves the wall clock of the whole process tree with
libfaketime (the clock then runs on from there), so a date read from the machine by mistake, by our code, a
library or a subprocess, is read wrong; ``--tz`` sets ``TZ``. CI runs one such pass after the normal one.

libfaketime comes from the PyPI package of that name, which ships its own build: Debian's 0.9.10 makes
``time.sleep`` fail with EINVAL when the monotonic clock is left alone, and with the monotonic clock faked too,
threading waits with a timeout never wake (discord.py's heartbeat thread hangs).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime

import libfaketime


def moved_environment(machine: str, start: str | None, tz: str | None) -> dict[str, str]:
    datetime.strptime(f"{machine} +0000", "%Y-%m-%d %H:%M:%S %z")  # refuse a typo before it runs a whole suite
    _, preload = libfaketime.get_reload_information()
    env = dict(os.environ) | preload
    env["FAKETIME"] = f"@{machine}"  # '@': start there and let the clock run
    env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"  # durations (asyncio, timeouts) stay real
    if start:
        env["TEST_CLOCK_START"] = start
    if tz:
        env["TZ"] = tz
    return env


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machine", required=True, help="the machine's date and time, 'YYYY-MM-DD HH:MM:SS'")
    parser.add_argument("--start", help="where every TestClock starts (ISO 8601 with an offset)")
    parser.add_argument("--tz", help="the machine's timezone (TZ)")
    options, pytest_args = parser.parse_known_args(argv)
    env = moved_environment(options.machine, options.start, options.tz)
    print(f"moved: machine {options.machine} ({options.tz or 'TZ unchanged'}), test clock {options.start}", flush=True)
    os.execve(sys.executable, [sys.executable, "-m", "pytest", *pytest_args], env)


if __name__ == "__main__":
    main(sys.argv[1:])
