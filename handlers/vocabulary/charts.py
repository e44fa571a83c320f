"""The digest's chart as data: questions and likes per local day of the period, and per lesson.

The core decides *what* the picture says; ``bot/charts.py`` decides how it looks (matplotlib, fonts, PNG). So this
module imports no plotting library, and a :class:`DigestChart` can be checked in a test, or drawn by another
renderer, without one.

Days are the course's days: a post belongs to the calendar date it was made on in the course's timezone, and a
day is as long as that zone says (23 or 25 hours when the clocks change). SQLite cannot convert to an IANA zone,
so the days are cut here, not in SQL: :func:`local_days` gives each day of the period with its UTC bounds, and a
store fills :class:`DayCount` rows with one range query over the indexed creation times, e.g.::

    WITH days(day, start, stop) AS (VALUES (?, ?, ?), ...)  -- one row per LocalDay, epoch seconds
    SELECT days.day, count(*) FROM questions JOIN days ON created_at >= days.start AND created_at < days.stop ...

That is one row per day and per lesson whatever the number of questions, so building and drawing the chart costs
the same at ten questions or a million. A caller that already holds the moments (tests, a small course) can use
:func:`tally` instead. Days without activity are present as zeros, so the bars stand on a regular calendar.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from handlers.i18n import Translator

logger = logging.getLogger(__name__)

MAX_LESSONS = 5
"""Lessons drawn one bar each (the busiest first); the rest are summed into one "other lessons" bar, so the
panel stays readable on a phone."""


class Activity(StrEnum):
    QUESTION = "question"
    LIKE = "like"


@dataclass(frozen=True, slots=True)
class LocalDay:
    """A calendar day in the course's timezone and the UTC instants it spans (``start`` inclusive)."""

    day: date
    start: datetime
    stop: datetime


@dataclass(frozen=True, slots=True)
class DayCount:
    """What happened on one local day: the input a store fills, and the chart's per-day value."""

    day: date
    questions: int = 0
    likes: int = 0


@dataclass(frozen=True, slots=True)
class LessonCount:
    title: str
    questions: int = 0
    likes: int = 0


@dataclass(frozen=True, slots=True)
class DigestChart:
    """What the digest's picture shows; built by :func:`build_chart` only when there is something to draw.

    ``days`` runs over every local date from the period's first to its last, zeros included. ``lessons`` is in
    drawing order (most questions first); ``other_lessons`` counts the lessons folded into the last bar, which is
    then titled by :func:`chart_labels` rather than by a lesson's own title.
    """

    first_day: date
    last_day: date
    days: tuple[DayCount, ...]
    lessons: tuple[LessonCount, ...]
    other_lessons: int = 0

    @property
    def questions(self) -> int:
        return sum(d.questions for d in self.days)

    @property
    def likes(self) -> int:
        return sum(d.likes for d in self.days)


@dataclass(frozen=True, slots=True)
class ChartLabels:
    """Every word the chart shows, in one language; the renderer checks each against its font."""

    title: str
    period: str
    day_axis: str
    count_axis: str
    by_lesson: str
    questions: str
    likes: str
    day_ticks: tuple[str, ...]
    lesson_names: tuple[str, ...]

    def all_texts(self) -> tuple[str, ...]:
        return (
            self.title,
            self.period,
            self.day_axis,
            self.count_axis,
            self.by_lesson,
            self.questions,
            self.likes,
            *self.day_ticks,
            *self.lesson_names,
        )


def local_date(moment: datetime, timezone: str) -> date:
    """The course's calendar date of an aware moment."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no date in a course's timezone; pass an aware one")
    return moment.astimezone(ZoneInfo(timezone)).date()


def period_dates(start: datetime, end: datetime, timezone: str) -> tuple[date, date]:
    """The first and last local dates of the period ``[start, end)``: a period that ends at local midnight does
    not reach into the day that only begins then."""
    if end <= start:
        raise ValueError(f"a period must end after it starts ({start.isoformat()} .. {end.isoformat()})")
    return local_date(start, timezone), local_date(end - timedelta(microseconds=1), timezone)


def local_days(first: date, last: date, timezone: str) -> list[LocalDay]:
    """Each local date from ``first`` to ``last`` with its UTC bounds: the buckets a store counts into.

    A day starts at its local midnight (or, where a zone skips midnight, at the first instant after it, which
    ``fold=0`` and a round trip through UTC give), so consecutive days tile time with no gap or overlap.
    """
    zone = ZoneInfo(timezone)

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

    days = []
    day = first
    while day <= last:
        following = day + timedelta(days=1)
        days.append(LocalDay(day, midnight(day), midnight(following)))
        day = following
    return days


def tally(moments: Iterable[tuple[datetime, Activity]], timezone: str) -> list[DayCount]:
    """Per-day counts from individual (aware moment, question or like) pairs."""
    questions: Counter[date] = Counter()
    likes: Counter[date] = Counter()
    for moment, kind in moments:
        (questions if kind is Activity.QUESTION else likes)[local_date(moment, timezone)] += 1
    return [DayCount(day, questions[day], likes[day]) for day in sorted(questions.keys() | likes.keys())]


def build_chart(
    first_day: date, last_day: date, days: Iterable[DayCount], lessons: Iterable[LessonCount]
) -> DigestChart | None:
    """The chart of a period, or None when nothing happened in it (a digest that only notes an empty period
    sends no picture).

    ``days`` may list a date more than once (the store's rows per lesson, say) and may leave days out; counts
    of one date are added up and missing dates become zeros. A date outside ``first_day..last_day`` widens the
    range rather than being dropped: a digest covers the posts *stored* in its window, and one that arrived late
    may be dated before the period (see ``handlers/features/digests.py``); its bar still belongs in the picture.
    """
    if last_day < first_day:
        raise ValueError(f"last day {last_day} is before first day {first_day}")
    questions: Counter[date] = Counter()
    likes: Counter[date] = Counter()
    for count in days:
        questions[count.day] += count.questions
        likes[count.day] += count.likes
    if not any(questions.values()) and not any(likes.values()):
        return None
    seen = [day for day in questions.keys() | likes.keys() if questions[day] or likes[day]]
    first_day, last_day = min(first_day, *seen), max(last_day, *seen)
    span = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    per_day = tuple(DayCount(day, questions[day], likes[day]) for day in span)
    return DigestChart(first_day, last_day, per_day, *_lessons_to_draw(lessons))


def _lessons_to_draw(lessons: Iterable[LessonCount]) -> tuple[tuple[LessonCount, ...], int]:
    merged: dict[str, list[int]] = {}
    for lesson in lessons:
        counts = merged.setdefault(lesson.title, [0, 0])
        counts[0] += lesson.questions
        counts[1] += lesson.likes
    ranked = sorted(
        (LessonCount(title, q, lk) for title, (q, lk) in merged.items() if q or lk),
        key=lambda lesson: (-lesson.questions, -lesson.likes, lesson.title),
    )
    if len(ranked) <= MAX_LESSONS:
        return tuple(ranked), 0
    shown, rest = ranked[: MAX_LESSONS - 1], ranked[MAX_LESSONS - 1 :]
    other = LessonCount("", sum(lesson.questions for lesson in rest), sum(lesson.likes for lesson in rest))
    return (*shown, other), len(rest)


def chart_labels(i18n: Translator, language: str, chart: DigestChart) -> ChartLabels:
    """The chart's words in ``language``: titles and legends from the catalogs, dates in the language's own
    short form (``11/23`` over ``Mon`` in English, ``11/23`` over ``周一`` in Chinese)."""
    lang = i18n.normalise(language)
    names = [lesson.title for lesson in chart.lessons]
    if chart.other_lessons:
        names[-1] = i18n(lang, "digest.chart_other_lessons", count=chart.other_lessons)
    return ChartLabels(
        title=i18n(lang, "digest.chart_title"),
        period=i18n(
            lang, "digest.chart_period", start=_long_date(chart.first_day, lang), end=_long_date(chart.last_day, lang)
        ),
        day_axis=i18n(lang, "digest.chart_day_axis"),
        count_axis=i18n(lang, "digest.chart_count_axis"),
        by_lesson=i18n(lang, "digest.chart_by_lesson"),
        questions=i18n(lang, "digest.chart_questions"),
        likes=i18n(lang, "digest.chart_likes"),
        day_ticks=tuple(_day_tick(count.day, lang) for count in chart.days),
        lesson_names=tuple(names),
    )


def _formatted(skeleton: str, day: date, language: str) -> str:
    """``day`` in the language's own form of ``skeleton`` (CLDR, through Babel).

    babel.dates is imported here, on the first chart drawn, not with this module: importing it reads the
    machine's time zone (babel.localtime), about 40 ms that every command importing the core paid, ``studybot
    lesson list`` included, though only a digest's chart formats dates."""
    from babel.dates import format_skeleton

    return str(format_skeleton(skeleton, day, locale=_babel_locale(language)))


def _long_date(day: date, language: str) -> str:
    return _formatted("yMMMd", day, language)


def _day_tick(day: date, language: str) -> str:
    return f"{_formatted('Md', day, language)}\n{_formatted('EEE', day, language)}"


def _babel_locale(language: str) -> str:
    return "zh_Hans_CN" if language == "zh" else "en_US"
