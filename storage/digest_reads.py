"""The reads behind a digest's report: what is still open, a period's activity, and the chart's counts.

Each is one SQL statement (one consistent snapshot, see :mod:`storage.queries`). The chart's per-day counts are
cut at the course's local days by the core (:func:`handlers.vocabulary.charts.local_days`), passed in as a
``VALUES`` list, and counted over the digest's window, one index range of ``questions_by_post``, so the cost
follows the period's posts, not the size of the course.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from handlers.vocabulary.charts import DayCount, LessonCount, LocalDay
from handlers.vocabulary.digest_report import OPEN_AGES, Activity, ChartCounts, OpenQuestion, StillOpen
from handlers.vocabulary.domain import PostWindow
from storage import codec, queries
from storage.base import StoreBase

logger = logging.getLogger(__name__)

# Earlier periods' questions: stored at or before the window's start (or, for a window cut by date, dated
# before it). One question per cluster of near-duplicates: the cluster's first (duplicate_of IS NULL).
OPEN_WHERE = """
    q.course_slug = :course AND q.kind = 'question' AND q.deleted = 0 AND q.answered = 0
    AND q.duplicate_of IS NULL AND (q.id <= :after OR q.created_at < :since)
"""

STILL_OPEN_COUNTS = f"""
    SELECT COALESCE(SUM(q.created_at < :age1), 0) AS over1, COALESCE(SUM(q.created_at < :age3), 0) AS over3,
           COALESCE(SUM(q.created_at < :age7), 0) AS over7
    FROM questions q WHERE {OPEN_WHERE}
"""

_OPEN_COLUMNS = """
    q.id, l.title AS lesson_title, q.score, q.text, q.created_at, q.platform, q.chat_id, q.message_id,
    q.thread_id, q.guild_id
"""

STILL_OPEN_OLDEST = f"""
    SELECT {_OPEN_COLUMNS} FROM counted_questions q JOIN lessons l ON l.id = q.lesson_id
    WHERE {OPEN_WHERE} AND q.created_at < :age1
    ORDER BY q.created_at, q.id LIMIT :limit
"""

STILL_OPEN_LIKED = f"""
    SELECT {_OPEN_COLUMNS} FROM counted_questions q JOIN lessons l ON l.id = q.lesson_id
    WHERE {OPEN_WHERE} AND q.score > 0
    ORDER BY q.score DESC, q.created_at, q.id LIMIT :limit
"""

# Likes given in the period are reactions made in it (only like emojis are kept, storage.likes), one per member
# and post; active members asked, commented, replied or liked in it.
ACTIVITY = """
    WITH liked AS (
        SELECT DISTINCT r.question_id, r.member_id FROM reactions r JOIN questions q ON q.id = r.question_id
        WHERE q.course_slug = :course AND r.created_at >= :start AND r.created_at < :stop)
    SELECT
        (SELECT COUNT(*) FROM questions INDEXED BY questions_by_post
          WHERE course_slug = :course AND created_at >= :start AND created_at < :stop AND kind = 'question'
            AND deleted = 0) AS questions,
        (SELECT COUNT(*) FROM liked) AS likes,
        (SELECT COUNT(*) FROM (
            SELECT author_id FROM questions
             WHERE course_slug = :course AND created_at >= :start AND created_at < :stop AND deleted = 0
            UNION
            SELECT r.author_id FROM replies r JOIN questions q ON q.id = r.question_id
             WHERE q.course_slug = :course AND r.deleted = 0 AND r.created_at >= :start AND r.created_at < :stop
            UNION
            SELECT member_id FROM liked)) AS members
"""


def day_of(column: str, days: int) -> str:
    """A SQL expression giving the index of the day whose ``[start, stop)`` holds ``column``, or NULL outside
    them: a balanced tree of CASEs over the days' starts (bound as ``:s0``.. and the last stop as ``:stop``), so
    each post takes a handful of comparisons whatever the number of days (a join with the days as rows would
    compare every post with every day). Days tile time, so one day's stop is the next one's start."""

    def tree(first: int, last: int) -> str:
        if first == last:
            return str(first)
        middle = (first + last + 1) // 2
        return f"CASE WHEN {column} < :s{middle} THEN {tree(first, middle - 1)} ELSE {tree(middle, last)} END"

    return f"CASE WHEN {column} < :s0 OR {column} >= :stop THEN NULL ELSE {tree(0, days - 1)} END"


def chart_counts_sql(days: int, by_post: str = "questions q INDEXED BY questions_by_post") -> str:
    """Per local day and lesson: the window's questions made that day and the likes they hold now (score).

    The window's posts are one range of ``questions_by_post`` (course, id, kind, score, lesson_id, created_at), or
    of its like on PostgreSQL's ``question_counts`` (``by_post`` names the source as ``q``), read once; each finds
    its day by :func:`day_of`. A post dated outside the days (stored late, see PostWindow) gets a NULL day and its
    creation time, so the caller can widen the days and ask again."""
    return f"""
        WITH counts AS (
            SELECT {day_of("q.created_at", days)} AS day, q.lesson_id AS lesson_id,
                   COUNT(*) AS questions, SUM(q.score) AS likes,
                   MIN(q.created_at) AS earliest, MAX(q.created_at) AS latest
            FROM {by_post}
            WHERE q.course_slug = :course AND q.id > :after AND q.id <= :through AND q.created_at >= :since
              AND q.kind = 'question' AND q.deleted = 0
            GROUP BY 1, 2)
        SELECT counts.day, l.title, counts.questions, counts.likes, counts.earliest, counts.latest
        FROM counts JOIN lessons l ON l.id = counts.lesson_id
    """


class DigestReadRows(StoreBase):
    """The digest report part of :class:`storage.SqliteStore`."""

    async def still_open(self, course_slug: str, window: PostWindow, now: datetime, limit: int) -> StillOpen:
        """Unanswered questions stored before ``window`` (see :data:`OPEN_WHERE`): how many are older than each
        of :data:`OPEN_AGES` days, the ``limit`` oldest of those over a day, and the ``limit`` most liked."""
        params: dict[str, Any] = {
            "course": course_slug,
            "after": window.after,
            "since": queries.MIN_TIME if window.since is None else codec.to_micros(window.since),
            "limit": limit,
        }
        for days in OPEN_AGES:
            params[f"age{days}"] = codec.to_micros(now - timedelta(days=days))
        row = await self._reader.one(STILL_OPEN_COUNTS, params)
        assert row is not None  # an aggregate always has a row
        oldest = await self._reader.all(STILL_OPEN_OLDEST, params)
        liked = await self._reader.all(STILL_OPEN_LIKED, params)
        return StillOpen(
            (row["over1"], row["over3"], row["over7"]),
            tuple(open_question(r) for r in oldest),
            tuple(open_question(r) for r in liked),
        )

    async def activity_between(self, course_slug: str, start: datetime, stop: datetime) -> Activity:
        """Questions asked, likes given and active members in ``[start, stop)``."""
        params = {"course": course_slug, "start": codec.to_micros(start), "stop": codec.to_micros(stop)}
        row = await self._reader.one(ACTIVITY, params)
        assert row is not None
        return Activity(row["questions"], row["likes"], row["members"])

    async def chart_counts(self, course_slug: str, window: PostWindow, days: Sequence[LocalDay]) -> ChartCounts:
        """Questions of ``window`` and their likes per local day in ``days`` (a row per day and lesson, summed by
        ``build_chart``) and per lesson; one query. Posts dated outside ``days`` are in ``outside``."""
        since = queries.MIN_TIME if window.since is None else codec.to_micros(window.since)
        params: dict[str, Any] = {
            "course": course_slug, "after": window.after, "through": window.through, "since": since,
        }  # fmt: skip
        for n, day in enumerate(days):
            params[f"s{n}"] = codec.to_micros(day.start)
        params["stop"] = codec.to_micros(days[-1].stop)
        rows = await self._reader.all(chart_counts_sql(len(days)), params)
        dates = [day.day for day in days]
        per_day = [DayCount(dates[r[0]], r[2], r[3] or 0) for r in rows if r[0] is not None]
        lessons = [LessonCount(r[1], r[2], r[3] or 0) for r in rows]
        undated = [r for r in rows if r[0] is None]
        outside = None
        if undated:
            outside = (
                codec.from_micros(min(r[4] for r in undated)),
                codec.from_micros(max(r[5] for r in undated)),
            )
        return ChartCounts(per_day, lessons, outside)


def open_question(row: Any) -> OpenQuestion:
    """The question's whole text; the core cuts its excerpt."""
    return OpenQuestion(
        row["id"], row["lesson_title"], row["score"], row["text"], codec.from_micros(row["created_at"]),
        codec.message_ref_from(row),
    )  # fmt: skip
