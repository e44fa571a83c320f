"""What a digest says beyond its ranked list: what is still open, what changed, and the chart's data.

Kept with the recorded digest (``storage/digests.py``), so a digest resumed after a crash says exactly what it
would have said when it was recorded, however the course moved on in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from handlers.vocabulary.charts import DayCount, DigestChart, LessonCount
from handlers.vocabulary.domain import MessageRef

OPEN_AGES = (1, 3, 7)
"""The ages (days) the still-open questions are counted past: over a day, over three, over a week."""


@dataclass(frozen=True, slots=True)
class OpenQuestion:
    """An unanswered question of an earlier period, named in the digest."""

    question_id: int
    lesson_title: str
    likes: int
    excerpt: str
    asked_at: datetime
    ref: MessageRef | None = None
    reminded: bool = False  # sent to the instructors by /remind already (issue 16)


@dataclass(frozen=True, slots=True)
class StillOpen:
    """Unanswered questions stored before the digest's window: counts past each of :data:`OPEN_AGES` (same
    order), the oldest few and the most-liked few, so nothing popular drops out because its week is over."""

    over: tuple[int, ...]
    oldest: tuple[OpenQuestion, ...] = ()
    most_liked: tuple[OpenQuestion, ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.oldest or self.most_liked or any(self.over))


@dataclass(frozen=True, slots=True)
class Activity:
    """A period's activity: questions asked, likes given, members who asked, replied or liked."""

    questions: int
    likes: int
    members: int


@dataclass(frozen=True, slots=True)
class LessonQuestions:
    title: str
    questions: int


@dataclass(frozen=True, slots=True)
class ChartCounts:
    """What a store counts for the chart: rows per day and lesson, rows per lesson, and the first and last
    creation times of posts dated outside the days asked for (None when there are none)."""

    days: list[DayCount]
    lessons: list[LessonCount]
    outside: tuple[datetime, datetime] | None = None


@dataclass(frozen=True, slots=True)
class DigestReport:
    """The parts of a digest beyond the ranked list; ``previous`` is None for a course's first period."""

    still_open: StillOpen
    current: Activity
    previous: Activity | None
    busiest_lessons: tuple[LessonQuestions, ...]
    chart: DigestChart | None


def change(now: int, before: int) -> tuple[str, int | None]:
    """The arrow and the whole percentage from ``before`` to ``now``: ("↑", 50), ("↓", 25), ("→", 0), or
    ("↑", None) when there was nothing before to compare with."""
    if now == before:
        return "→", 0
    arrow = "↑" if now > before else "↓"
    if before == 0:
        return arrow, None
    return arrow, round(abs(now - before) * 100 / before)
