"""The read side of rankings, statistics and exports on PostgreSQL: /top, a digest's period, /stats, export.

The ranking and export queries are the SQLite store's own (:mod:`storage.queries`, through
:func:`storage.postgres.named.named`), the rankings picking their ids from ``question_counts`` (migration 0020)
where SQLite pins an index of ``questions``; the two aggregates that sum booleans (SQLite's ``SUM(kind =
'question')``) are written again with ``FILTER``. Each public query is one statement, so it reads one snapshot.
"""

from __future__ import annotations

import logging
from typing import Any

from handlers.vocabulary.domain import (
    DiscussionReply,
    ExportRow,
    PeriodSummary,
    PostWindow,
    RankedQuestion,
    Stats,
)
from storage import codec, queries
from storage.postgres import clusters
from storage.postgres.base import PgBase
from storage.postgres.named import named
from storage.postgres.posts import newest_settled_post_id

logger = logging.getLogger(__name__)

# The rankings pick their ids from question_counts (migration 0020), whose indexes answer them.
TOP = queries.top_query("question_counts")
TOP_IN_LESSON = queries.top_in_lesson_query("question_counts")
PERIOD = queries.period_query("question_counts")

PERIOD_SUMMARY = """
    WITH per_lesson AS (
        SELECT lesson_id, COUNT(*) FILTER (WHERE kind = 'question') AS questions,
               COUNT(*) FILTER (WHERE kind = 'comment') AS comments, SUM(score) AS likes, COUNT(*) AS posts
        FROM question_counts
        WHERE course_slug = :course AND deleted = 0 AND id > :after AND id <= :through AND created_at >= :since
        GROUP BY lesson_id)
    SELECT COALESCE(SUM(questions), 0)::bigint AS questions,
           COALESCE(SUM(comments), 0)::bigint AS comments,
           COALESCE(SUM(likes), 0)::bigint AS likes,
           (SELECT l.title FROM per_lesson p JOIN lessons l ON l.id = p.lesson_id
             ORDER BY p.posts DESC, l.id LIMIT 1) AS most_active
    FROM per_lesson
"""

STATS = """
    SELECT (SELECT COUNT(*) FROM lessons WHERE course_slug = :course) AS lessons,
           COUNT(*) FILTER (WHERE kind = 'question') AS questions,
           COUNT(*) FILTER (WHERE kind = 'comment') AS comments,
           COALESCE(SUM(replies + base_replies), 0)::bigint AS replies,
           COALESCE(SUM(score), 0)::bigint AS likes,
           COUNT(*) FILTER (WHERE kind = 'question' AND answered <> 0) AS answered,
           (SELECT COUNT(*) FROM (
                SELECT author_id FROM questions WHERE course_slug = :course AND deleted = 0
                UNION
                SELECT r.author_id FROM replies r JOIN questions p ON p.id = r.question_id
                WHERE p.course_slug = :course AND p.deleted = 0 AND r.deleted = 0) AS authors) AS members
    FROM counted_questions
    WHERE course_slug = :course AND deleted = 0
"""


class PgReadRows(PgBase):
    """The rankings, statistics and export part of :class:`storage.postgres.PostgresStore`."""

    async def top_questions(
        self, course_slug: str, limit: int, *, lesson_id: int | None = None, include_answered: bool = True
    ) -> list[RankedQuestion]:
        """Most liked first (members' + imported likes), earlier first on ties; deleted ones left out; a cluster
        of near-duplicates counts as one question with its distinct likers (see storage.clusters)."""
        answered = "" if include_answered else "AND answered = 0"
        template = TOP if lesson_id is None else TOP_IN_LESSON
        params: dict[str, Any] = {"course": course_slug, "lesson": lesson_id, "answered": include_answered}
        sql = template.format(answered=answered)
        return await clusters.ranked_by_cluster(self._pool, course_slug, limit, sql, params, clusters.TOP_SCOPE)

    async def period_questions(self, course_slug: str, window: PostWindow, limit: int) -> list[RankedQuestion]:
        """The most liked questions (clusters) of the window, in top_questions' order."""
        params = _window(course_slug, window)
        return await clusters.ranked_by_cluster(self._pool, course_slug, limit, PERIOD, params, clusters.PERIOD_SCOPE)

    async def period_summary(self, course_slug: str, window: PostWindow) -> PeriodSummary:
        """The window's posts that are not deleted: questions, comments, their likes now (score), and the
        lesson with the most of them (the earlier lesson on a tie)."""
        row = await self._fetchrow(*_sql(PERIOD_SUMMARY, _window(course_slug, window)))
        assert row is not None  # an aggregate always has a row
        return PeriodSummary(row["questions"], row["comments"], row["likes"], row["most_active"])

    async def newest_post_id(self) -> int:
        """The digest's post-id watermark: read behind the barrier of :func:`newest_settled_post_id`, since ids
        are drawn before commit here and a window ending at a plain MAX(id) could pass a post still in flight."""
        async with self._transaction() as conn:
            return await newest_settled_post_id(conn)

    async def stats(self, course_slug: str) -> Stats:
        """Counts over the course's posts that are not deleted (see :meth:`storage.SqliteStore.stats`)."""
        row = await self._fetchrow(*_sql(STATS, {"course": course_slug}))
        assert row is not None
        return Stats(
            lessons=row["lessons"],
            questions=row["questions"],
            comments=row["comments"],
            replies=row["replies"],
            likes=row["likes"],
            answered=row["answered"],
            members=row["members"],
        )

    async def export_rows(self, course_slug: str) -> list[ExportRow]:
        """Every question and comment that is not deleted, with its lesson's title and its replies, in course
        order (lesson number, then time)."""
        params = {"course": course_slug}
        posts = await self._fetch(*_sql(queries.EXPORT_POSTS, params))
        replies: dict[int, list[DiscussionReply]] = {}
        for row in await self._fetch(*_sql(queries.EXPORT_REPLIES, params)):
            replies.setdefault(row["question_id"], []).append(codec.reply_from(row))
        return [ExportRow(codec.question_from(r), r["lesson_title"], tuple(replies.get(r["id"], ()))) for r in posts]


def _sql(sql: str, params: dict[str, Any]) -> list[Any]:
    text, values = named(sql, params)
    return [text, *values]


def _window(course_slug: str, window: PostWindow) -> dict[str, Any]:
    since = queries.MIN_TIME if window.since is None else codec.to_micros(window.since)
    return {"course": course_slug, "after": window.after, "through": window.through, "since": since}
