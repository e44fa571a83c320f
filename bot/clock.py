"""The wall clock, behind the core's Clock port so tests can hand in their own time."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
