"""The read side of rankings, statistics and exports: /top, a digest's period, /stats and ``studybot export``."""

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
from storage import clusters, codec, queries
from storage.base import StoreBase

logger = logging.getLogger(__name__)


class ReadRows(StoreBase):
    """The rankings, statistics and export part of :class:`storage.SqliteStore`."""

    # queries ---------------------------------------------------------------------------------------------
    async def top_questions(
        self, course_slug: str, limit: int, *, lesson_id: int | None = None, include_answered: bool = True
    ) -> list[RankedQuestion]:
        """Most liked first (members' + imported likes), earlier first on ties; deleted ones left out. A cluster
        of near-duplicates counts as one question with its distinct likers (see storage.clusters)."""
        answered = "" if include_answered else "AND answered = 0"
        template = queries.TOP if lesson_id is None else queries.TOP_IN_LESSON
        params: dict[str, Any] = {"course": course_slug, "lesson": lesson_id, "answered": include_answered}
        sql = template.format(answered=answered)
        return await clusters.ranked_by_cluster(self._reader, course_slug, limit, sql, params, clusters.TOP_SCOPE)

    async def period_questions(self, course_slug: str, window: PostWindow, limit: int) -> list[RankedQuestion]:
        """The most liked questions (clusters, see storage.clusters) of the window, same order as top_questions."""
        params = _window(course_slug, window)
        return await clusters.ranked_by_cluster(
            self._reader, course_slug, limit, queries.PERIOD, params, clusters.PERIOD_SCOPE
        )

    async def period_summary(self, course_slug: str, window: PostWindow) -> PeriodSummary:
        """The window's posts that are not deleted: questions, comments, their likes now (score), and the
        lesson with the most of them (the earlier lesson on a tie)."""
        row = await self._reader.one(queries.PERIOD_SUMMARY, _window(course_slug, window))
        assert row is not None  # an aggregate always has a row
        return PeriodSummary(row["questions"], row["comments"], row["likes"], row["most_active"])

    async def newest_post_id(self) -> int:
        row = await self._reader.one("SELECT MAX(id) FROM questions")
        return int(row[0] or 0) if row else 0

    async def stats(self, course_slug: str) -> Stats:
        """Counts over the course's posts that are not deleted. likes = their total score (members' + imported);
        members = distinct authors of those posts and of their replies."""
        row = await self._reader.one(queries.STATS, {"course": course_slug})
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
        posts = await self._reader.all(queries.EXPORT_POSTS, params)
        replies: dict[int, list[DiscussionReply]] = {}
        for row in await self._reader.all(queries.EXPORT_REPLIES, params):
            replies.setdefault(row["question_id"], []).append(codec.reply_from(row))
        return [ExportRow(codec.question_from(r), r["lesson_title"], tuple(replies.get(r["id"], ()))) for r in posts]


def _window(course_slug: str, window: PostWindow) -> dict[str, Any]:
    since = queries.MIN_TIME if window.since is None else codec.to_micros(window.since)
    return {"course": course_slug, "after": window.after, "through": window.through, "since": since}
