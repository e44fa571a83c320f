"""The reads behind a digest's report on PostgreSQL: what is still open, a period's activity, the chart's counts.

The query text is :mod:`storage.digest_reads`'s where the dialects agree (the open questions' lists, the chart's
balanced tree of CASEs over the local days), with SQLite's index hints dropped; the counts differ only where
SQLite sums booleans (PostgreSQL counts with ``FILTER``) and names no derived table. Each read is one statement,
so it sees one snapshot of committed rows, as on SQLite.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from handlers.vocabulary.charts import DayCount, LessonCount, LocalDay
from handlers.vocabulary.digest_report import OPEN_AGES, Activity, ChartCounts, StillOpen
from handlers.vocabulary.domain import PostWindow
from storage import codec, digest_reads, queries
from storage.postgres.base import PgBase
from storage.postgres.named import named

logger = logging.getLogger(__name__)

STILL_OPEN_COUNTS = f"""
    SELECT COUNT(*) FILTER (WHERE q.created_at < :age1) AS over1,
           COUNT(*) FILTER (WHERE q.created_at < :age3) AS over3,
           COUNT(*) FILTER (WHERE q.created_at < :age7) AS over7
    FROM counted_questions q WHERE {digest_reads.OPEN_WHERE}
"""

# As storage.digest_reads.ACTIVITY: likes given in the period are reactions made in it, one per member and post;
# active members asked, commented, replied or liked in it.
ACTIVITY = """
    WITH liked AS (
        SELECT DISTINCT r.question_id, r.member_id FROM reactions r JOIN questions q ON q.id = r.question_id
        WHERE q.course_slug = :course AND r.created_at >= :start AND r.created_at < :stop)
    SELECT
        (SELECT COUNT(*) FROM question_counts
          WHERE course_slug = :course AND created_at >= :start AND created_at < :stop AND kind = 'question'
            AND deleted = 0) AS questions,
        (SELECT COUNT(*) FROM liked) AS likes,
        (SELECT COUNT(*) FROM (
            SELECT author_id FROM counted_questions
             WHERE course_slug = :course AND created_at >= :start AND created_at < :stop AND deleted = 0
            UNION
            SELECT r.author_id FROM replies r JOIN questions q ON q.id = r.question_id
             WHERE q.course_slug = :course AND r.deleted = 0 AND r.created_at >= :start AND r.created_at < :stop
            UNION
            SELECT member_id FROM liked) AS active) AS members
"""


class PgDigestReadRows(PgBase):
    """The digest report part of :class:`storage.postgres.PostgresStore`."""

    async def still_open(self, course_slug: str, window: PostWindow, now: datetime, limit: int) -> StillOpen:
        """Unanswered questions stored before ``window``: how many are older than each of :data:`OPEN_AGES`
        days, the ``limit`` oldest of those over a day, and the ``limit`` most liked (as on SQLite)."""
        params: dict[str, Any] = {
            "course": course_slug,
            "after": window.after,
            "since": queries.MIN_TIME if window.since is None else codec.to_micros(window.since),
            "limit": limit,
        }
        for days in OPEN_AGES:
            params[f"age{days}"] = codec.to_micros(now - timedelta(days=days))
        row = await self._fetchrow(*_statement(STILL_OPEN_COUNTS, params))
        assert row is not None  # an aggregate always has a row
        oldest = await self._fetch(*_statement(digest_reads.STILL_OPEN_OLDEST, params))
        liked = await self._fetch(*_statement(digest_reads.STILL_OPEN_LIKED, params))
        return StillOpen(
            (row["over1"], row["over3"], row["over7"]),
            tuple(digest_reads.open_question(r) for r in oldest),
            tuple(digest_reads.open_question(r) for r in liked),
        )

    async def activity_between(self, course_slug: str, start: datetime, stop: datetime) -> Activity:
        """Questions asked, likes given and active members in ``[start, stop)``."""
        params = {"course": course_slug, "start": codec.to_micros(start), "stop": codec.to_micros(stop)}
        row = await self._fetchrow(*_statement(ACTIVITY, params))
        assert row is not None
        return Activity(row["questions"], row["likes"], row["members"])

    async def chart_counts(self, course_slug: str, window: PostWindow, days: Sequence[LocalDay]) -> ChartCounts:
        """Questions of ``window`` and their likes per local day in ``days`` (a row per day and lesson) and per
        lesson; one query. Posts dated outside ``days`` are in ``outside``."""
        since = queries.MIN_TIME if window.since is None else codec.to_micros(window.since)
        params: dict[str, Any] = {
            "course": course_slug, "after": window.after, "through": window.through, "since": since,
        }  # fmt: skip
        for n, day in enumerate(days):
            params[f"s{n}"] = codec.to_micros(day.start)
        params["stop"] = codec.to_micros(days[-1].stop)
        rows = await self._fetch(*_statement(digest_reads.chart_counts_sql(len(days), "question_counts q"), params))
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


def _statement(sql: str, params: dict[str, Any]) -> list[Any]:
    """The query in asyncpg's form (``$n`` for ``:name``, SQLite's index hints dropped), then its values."""
    text, values = named(sql, params)
    return [text, *values]
