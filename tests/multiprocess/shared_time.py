"""One clock for the test, its local servers and every ``studybot`` child process, moved by hand.

The children read the machine's clock (``datetime.now``), so they run under libfaketime with their wall clock
taken from a file (``FAKETIME_TIMESTAMP_FILE``) that this module writes: ``@<epoch seconds>``, a moment from
which the clock runs on. libfaketime re-reads the file at every read of the clock (``FAKETIME_NO_CACHE``) and
starts counting again from a moment that changed, so rewriting the file moves every running child at once, and
a child started later starts at the moment written just before it.

Why not the ``FAKETIME`` variable as in tests/moved_date.py: a variable cannot change while a child runs, and
the test must move the children's time forward (past a lease, an update's staleness, a digest's and a lesson's
due time) without waiting minutes for it.

The test's own side is :class:`SharedTime`, a :class:`~tests.clock.TestClock` that runs on with the monotonic
clock from the test's start (``default_start()``, so ``TEST_CLOCK_START`` moves it too) and jumps when
:meth:`SharedTime.advance` is called; the local servers take it as their clock, so the dates they write agree
with the children's. No date is read from the machine: the monotonic clock carries none, and the epoch seconds
written are the TestClock's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import libfaketime

from tests.clock import TestClock


class SharedTime(TestClock):
    """The TestClock of a multi-process test: it runs on in step with the children and moves them when moved."""

    def __init__(self, file: Path, start: datetime | None = None, monotonic: Callable[[], float] = time.monotonic):
        super().__init__(start)
        self._file = file
        self._monotonic = monotonic
        self._since = monotonic()
        self.publish()

    def now(self) -> datetime:
        return self._now + timedelta(seconds=self._monotonic() - self._since)

    def advance(self, **delta: float) -> datetime:
        """Jump forward (tests, servers and children alike); returns the new now."""
        self._now += timedelta(**delta)
        self.publish()
        return self.now()

    def set(self, moment: datetime) -> None:
        self._now, self._since = moment, self._monotonic()
        self.publish()

    def publish(self) -> None:
        """Write now to the children's file, atomically (a child reads it at every look at the clock)."""
        spare = self._file.with_suffix(".new")
        spare.write_text(f"@{self.now().timestamp():.6f}\n")
        spare.replace(self._file)

    def child_environment(self) -> dict[str, str]:
        """What a child needs to take its wall clock from the file: libfaketime preloaded, the monotonic clock
        left real (asyncio's timers and timeouts; see tests/moved_date.py for why), epoch seconds as the format.

        A ``FAKETIME`` inherited from a moved-date run (tests/moved_date.py) must go: it would win over the file."""
        self.publish()  # the child starts at now, not at the moment last written
        _, preload = libfaketime.get_reload_information()
        return {
            **preload,
            "FAKETIME_TIMESTAMP_FILE": str(self._file),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_FMT": "%s",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "DONT_FAKE_MONOTONIC": "1",
        }


def without_faketime(environment: dict[str, str]) -> dict[str, str]:
    """The environment with a moved-date run's own ``FAKETIME`` dropped (the children's time is the file's)."""
    return {k: v for k, v in environment.items() if k != "FAKETIME"}


__all__ = ["SharedTime", "without_faketime"]
