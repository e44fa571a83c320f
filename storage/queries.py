"""The read side: every query the store answers, run on the reader connection.

Each public query is ONE SQL statement, so it reads one consistent snapshot of committed data without an
explicit read transaction (an open read transaction on the shared reader connection would hide writes that
other coroutines have just committed). The ranking queries first pick the ids of the rows to return from a
covering partial index (migration 0002) and only then read those few rows, so their cost does not grow
with the number of posts in the course.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite

logger = logging.getLogger(__name__)

MIN_TIME = -(2**63)  # "from the beginning" for a window with no `since`

QUESTION_COLUMNS = """
    q.id, q.lesson_id, q.group_id, q.kind, q.platform, q.chat_id, q.thread_id, q.message_id, q.guild_id, q.text,
    q.created_at, q.edited_at, q.deleted, q.answered, q.answer_text, q.likes, q.base_likes,
    q.replies + q.base_replies AS replies, q.duplicate_of,
    m.platform AS a_platform, m.user_id AS a_user_id, m.display_name AS a_name, m.is_bot AS a_is_bot
"""
# A question with its counts: `counted_questions` (migration 0020) is `questions` itself on SQLite, and on
# PostgreSQL the question's row joined with the counts kept apart from it.
QUESTIONS_FROM = f"SELECT {QUESTION_COLUMNS} FROM counted_questions q JOIN members m ON m.id = q.author_id"

GROUP_SELECT = """
    SELECT g.id, g.platform, g.chat_id, g.thread_id, g.title, g.course_slug, g.language, g.active, g.attention,
           (SELECT json_group_array(emoji)
              FROM (SELECT emoji FROM group_like_emojis e WHERE e.group_id = g.id ORDER BY e.position)) AS emojis
    FROM study_groups g
"""

LESSON_POST_SELECT = (
    "SELECT lesson_id, group_id, state, platform, chat_id, thread_id, message_id, claimed_by, claim_expires_at"
    " FROM lesson_posts"
)

# Ranking: the inner SELECT is answered from the partial index alone; the outer one reads only LIMIT rows.
RANKED_OUTER = f"""
    SELECT {QUESTION_COLUMNS}, l.title AS lesson_title, l.number AS lesson_number
    FROM picked JOIN counted_questions q ON q.id = picked.id
    JOIN members m ON m.id = q.author_id
    JOIN lessons l ON l.id = q.lesson_id
    ORDER BY q.score DESC, q.created_at, q.id
"""


# Where a ranking picks its ids, by index: on SQLite `questions`, each ranking pinned to the partial index that
# answers it; on PostgreSQL `question_counts` (its migration 0020), which keeps the counts and the keys the rankings
# read under the same names and picks its indexes itself.
SQLITE_RANKED = "questions INDEXED BY questions_top"
SQLITE_RANKED_BY_LESSON = "questions INDEXED BY questions_top_by_lesson"
SQLITE_BY_POST = "questions INDEXED BY questions_by_post"


def top_query(ranked: str) -> str:
    """The course's best questions (``{answered}`` left to fill), their ids picked from ``ranked``."""
    return f"""
    WITH picked(id) AS (
        SELECT id FROM {ranked}
        WHERE course_slug = :course AND kind = 'question' AND deleted = 0 {{answered}}
        ORDER BY score DESC, created_at, id LIMIT :limit)
    {RANKED_OUTER}
"""


def top_in_lesson_query(ranked: str) -> str:
    """The lesson's best questions (``{answered}`` left to fill), their ids picked from ``ranked``."""
    return f"""
    WITH picked(id) AS (
        SELECT id FROM {ranked}
        WHERE lesson_id = :lesson AND course_slug = :course AND kind = 'question' AND deleted = 0 {{answered}}
        ORDER BY score DESC, created_at, id LIMIT :limit)
    {RANKED_OUTER}
"""


def period_query(by_post: str) -> str:
    """A digest window's best questions. The window is a range of post ids in a course
    (handlers.vocabulary.domain.PostWindow): the index gives the range, a small sort keeps the best LIMIT."""
    return f"""
    WITH picked(id) AS (
        SELECT id FROM {by_post}
        WHERE course_slug = :course AND deleted = 0 AND id > :after AND id <= :through AND created_at >= :since
          AND kind = 'question'
        ORDER BY score DESC, created_at, id LIMIT :limit)
    {RANKED_OUTER}
"""


TOP = top_query(SQLITE_RANKED)
TOP_IN_LESSON = top_in_lesson_query(SQLITE_RANKED_BY_LESSON)
PERIOD = period_query(SQLITE_BY_POST)

# One pass over the window's index range: per-lesson counts, then their totals and the busiest lesson.
PERIOD_SUMMARY = """
    WITH per_lesson AS (
        SELECT lesson_id, SUM(kind = 'question') AS questions, SUM(kind = 'comment') AS comments,
               SUM(score) AS likes, COUNT(*) AS posts
        FROM questions INDEXED BY questions_by_post
        WHERE course_slug = :course AND deleted = 0 AND id > :after AND id <= :through AND created_at >= :since
        GROUP BY lesson_id)
    SELECT COALESCE(SUM(questions), 0) AS questions,
           COALESCE(SUM(comments), 0) AS comments,
           COALESCE(SUM(likes), 0) AS likes,
           (SELECT l.title FROM per_lesson p JOIN lessons l ON l.id = p.lesson_id
             ORDER BY p.posts DESC, l.id LIMIT 1) AS most_active
    FROM per_lesson
"""

STATS = """
    SELECT (SELECT COUNT(*) FROM lessons WHERE course_slug = :course) AS lessons,
           COALESCE(SUM(kind = 'question'), 0) AS questions,
           COALESCE(SUM(kind = 'comment'), 0) AS comments,
           COALESCE(SUM(replies + base_replies), 0) AS replies,
           COALESCE(SUM(score), 0) AS likes,
           COALESCE(SUM(kind = 'question' AND answered), 0) AS answered,
           (SELECT COUNT(*) FROM (
                SELECT author_id FROM questions WHERE course_slug = :course AND deleted = 0
                UNION
                SELECT r.author_id FROM replies r JOIN questions p ON p.id = r.question_id
                WHERE p.course_slug = :course AND p.deleted = 0 AND r.deleted = 0)) AS members
    FROM questions
    WHERE course_slug = :course AND deleted = 0
"""

EXPORT_POSTS = f"""
    SELECT {QUESTION_COLUMNS}, l.title AS lesson_title
    FROM counted_questions q JOIN members m ON m.id = q.author_id JOIN lessons l ON l.id = q.lesson_id
    WHERE q.course_slug = :course AND q.deleted = 0
    ORDER BY l.number IS NULL, l.number, l.id, q.created_at, q.id
"""

EXPORT_REPLIES = """
    SELECT r.question_id, r.platform, r.chat_id, r.thread_id, r.message_id, r.text, r.created_at,
           m.platform AS a_platform, m.user_id AS a_user_id, m.display_name AS a_name, m.is_bot AS a_is_bot
    FROM replies r JOIN questions q ON q.id = r.question_id JOIN members m ON m.id = r.author_id
    WHERE q.course_slug = :course AND q.deleted = 0 AND r.deleted = 0
    ORDER BY r.question_id, r.created_at, r.id
"""

DIGEST_SELECT = "SELECT id, course_slug, period_start, period_end, through_post, items, summary, sent_at FROM digests"


class Reader:
    """The reader connection: read-only, sees what the writer has committed (WAL snapshot per statement)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._counting: asyncio.Future[Any] | None = None

    def wait_for(self, counting: asyncio.Future[Any]) -> None:
        """Reads started from now on wait until ``counting`` (a kept burst's count, queued last) is done.

        Why: a burst kept before it is counted (:meth:`storage.likes.LikeRows.keep_reactions`) must not show a
        read its old counts once the caller was told it is kept. The writer runs its writes in order, so the
        last one queued is the one to wait for; whether it succeeded is for the writer's caller to report.
        """
        self._counting = counting

    async def settled(self) -> None:
        """Until the last kept burst is counted (at once when none is waiting)."""
        counting = self._counting
        if counting is None:
            return
        if not counting.done():
            await asyncio.wait((counting,))
        if self._counting is counting:
            self._counting = None

    async def all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        if self._counting is not None:
            await self.settled()
        return list(await self.conn.execute_fetchall(sql, params))

    async def one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        if self._counting is not None:
            await self.settled()
        async with self.conn.execute(sql, params) as cursor:
            row: sqlite3.Row | None = await cursor.fetchone()
        return row
