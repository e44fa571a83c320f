"""A clock tests move by hand, so nothing ever sleeps to wait for time to pass.

Every test's time starts at :func:`default_start`: 2026-11-23 08:00 UTC (a Monday), or the moment named by the
environment variable ``TEST_CLOCK_START`` (ISO 8601 with an offset, e.g. ``2028-02-29T23:30:00+08:00``).
CI runs the suite once more from such a moment, so a test that silently depends on one date cannot pass. (The
name has no ``STUDYBOT_`` prefix on purpose: studybot warns about unknown variables that have one.)
The local servers (Telegram, Discord) take this clock too; :func:`require_test_clock` refuses anything else,
because a server stamping messages with the wall clock is how a suite turns into a date bomb.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

START_VARIABLE = "TEST_CLOCK_START"
USUAL_START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def default_start() -> datetime:
    """When a test's time begins: ``TEST_CLOCK_START`` if set, else the usual Monday morning."""
    raw = os.environ.get(START_VARIABLE, "").strip()
    if not raw:
        return USUAL_START
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{START_VARIABLE}={raw!r} is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{START_VARIABLE}={raw!r} needs an offset (e.g. +00:00): a naive time is ambiguous")
    return moment.astimezone(UTC)


class TestClock:
    __test__ = False  # not a pytest test class

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or default_start()

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment


def require_test_clock(clock: object, server: str) -> TestClock:
    """The clock a local server stamps dates with, which must be the test's own (never the wall clock)."""
    if not isinstance(clock, TestClock):
        raise TypeError(f"{server} takes its dates from the test's TestClock, not {type(clock).__name__}")
    return clock
