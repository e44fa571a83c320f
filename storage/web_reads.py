"""The web page's reads (issue 17): a course's questions as clusters with filters, search and pages; one question
with its wordings, replies and answer; the page's signing secret and the courses' share links.

Search uses the FTS5 trigram index of migration 0012 for queries of three characters or more (Chinese or
English), and the index of single characters and pairs of migration 0015 for one or two characters, which a
trigram cannot match (it finds exactly what ``text LIKE '%query%'`` finds). A query that matches very many posts
is found by walking the course's ranking instead (see :meth:`WebRows.web_questions`).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from storage import codec
from storage.base import StoreBase

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
# How a search's hits are ranked (see web_questions): fewer than SPARSE_HITS are read one by one and sorted; up to
# DENSE_HITS are met by walking the course's ranking and testing each id against them; more by walking the ranking
# and testing each text. Measured at 1M questions in benchmarks/web.py.
SPARSE_HITS = 2_000
DENSE_HITS = 10_000


@dataclass(frozen=True, slots=True)
class WebFilter:
    """What the list shows: a search text, one lesson, open or answered, asked since a time, which page."""

    course_slug: str
    query: str = ""
    lesson_id: int | None = None
    state: str = ""  # "" (all), "open" or "answered"
    since: datetime | None = None
    page: int = 1


@dataclass(frozen=True, slots=True)
class WebQuestion:
    id: int
    text: str
    lesson_id: int
    lesson_title: str
    group_title: str
    asker: str
    created_at: datetime
    answered: bool
    answer_text: str | None
    score: int
    copies: int


@dataclass(frozen=True, slots=True)
class WebReply:
    author: str
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WebQuestionDetail:
    question: WebQuestion
    wordings: list[WebQuestion]
    replies: list[WebReply]


COLUMNS = """
    q.id, q.text, q.lesson_id, l.title AS lesson_title, COALESCE(g.title, '') AS group_title,
    m.display_name AS asker, q.created_at, q.answered, q.answer_text, q.score,
    1 + (SELECT COUNT(*) FROM questions d
         WHERE d.course_slug = q.course_slug AND d.duplicate_of = q.id AND d.deleted = 0) AS copies
"""
FROM = """
    FROM counted_questions q JOIN lessons l ON l.id = q.lesson_id JOIN members m ON m.id = q.author_id
    LEFT JOIN study_groups g ON g.id = q.group_id
"""


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def question_from(row: Any) -> WebQuestion:
    return WebQuestion(
        id=row["id"],
        text=row["text"],
        lesson_id=row["lesson_id"],
        lesson_title=row["lesson_title"],
        group_title=row["group_title"],
        asker=row["asker"],
        created_at=codec.from_micros(row["created_at"]),
        answered=bool(row["answered"]),
        answer_text=row["answer_text"],
        score=row["score"],
        copies=row["copies"],
    )


def filter_clauses(f: WebFilter) -> tuple[list[str], dict[str, Any]]:
    """The list's filters (course, lesson, state, period, page) as WHERE clauses over ``q`` and their named
    parameters, shared by both stores; the search adds its own clause."""
    where = ["q.course_slug = :course", "q.kind = 'question'", "q.deleted = 0", "q.duplicate_of IS NULL"]
    params: dict[str, Any] = {"course": f.course_slug, "limit": PAGE_SIZE + 1}
    params["offset"] = (max(f.page, 1) - 1) * PAGE_SIZE
    if f.lesson_id is not None:
        where.append("q.lesson_id = :lesson")
        params["lesson"] = f.lesson_id
    if f.state == "open":
        where.append("q.answered = 0")
    elif f.state == "answered":
        where.append("q.answered = 1")
    if f.since is not None:
        where.append("q.created_at >= :since")
        params["since"] = codec.to_micros(f.since)
    return where, params


def _search_index(query: str, params: dict[str, Any]) -> tuple[str, str]:
    """The full-text table for ``query`` and its MATCH expression (its parameters added to ``params``).

    Three characters or more: the trigram index, the query as one phrase (FTS5 syntax in it is text). One or two:
    the index of characters and pairs, whose tokens are the hex of the gram's UTF-8 folded by SQLite's own lower()
    (migration 0015), so the token is made by the same functions in SQL, never by Python's wider case folding."""
    if len(query) >= 3:
        params["match"] = '"' + query.replace('"', '""') + '"'
        return "questions_fts", ":match"
    params["gram"] = query
    return "question_grams_fts", "('\"' || hex(lower(:gram)) || '\"')"


class WebRows(StoreBase):
    """Reads and the few writes of the web page; SQL only here."""

    # The search's thresholds (see SPARSE_HITS), per store so that a test can send a small course down each path.
    sparse_hits = SPARSE_HITS
    dense_hits = DENSE_HITS

    async def web_questions(self, f: WebFilter) -> tuple[list[WebQuestion], bool]:
        """One page of the course's clusters (their first question), most liked first; and whether more follow.

        A search hit on any wording of a cluster shows the cluster once, through its first question."""
        where, params = filter_clauses(f)
        query = f.query.strip()
        if query:
            params["like"] = "%" + escape_like(query) + "%"
            index, match = _search_index(query, params)
            hits = f"SELECT rowid FROM {index} WHERE {index} MATCH {match}"
            found = await self._hits_up_to(index, match, params, self.dense_hits)
            if found < self.sparse_hits or (found < self.dense_hits and f.since is not None):
                # Few hits: read each one, as its cluster's first question (a deleted wording brings no
                # cluster), then rank them by a sort.
                where.append(
                    "q.id IN (SELECT COALESCE(d.duplicate_of, d.id) FROM questions d"
                    f" WHERE d.id IN ({hits}) AND d.deleted = 0)"
                )
            elif found < self.dense_hits:
                # Some thousands: reading each would cost more than walking the course's ranking (the index
                # questions_top, which holds the ids) until a page's worth of them is met. The unary + keeps
                # SQLite walking rather than reading the hits. Wordings that are copies are found through the
                # course's copies (the partial index questions_by_cluster), not by reading every hit. Not with a
                # period: the ranking holds the whole course, so a walk would pass every older question too.
                where.append(
                    f"(+q.id IN ({hits}) OR +q.id IN (SELECT d.duplicate_of FROM questions d"
                    " WHERE d.course_slug = :course AND d.duplicate_of IS NOT NULL AND d.deleted = 0"
                    f" AND d.id IN ({hits})))"
                )
            else:
                # Very many: walk the ranking and test each question's wordings, which meets a page's worth after
                # a few thousand at most, without gathering the hits.
                where.append(
                    "(q.text LIKE :like ESCAPE '\\' OR EXISTS (SELECT 1 FROM questions d WHERE"
                    " d.course_slug = q.course_slug AND d.duplicate_of = q.id AND d.deleted = 0"
                    " AND d.text LIKE :like ESCAPE '\\'))"
                )
        # /top's order, so that the index questions_top gives it without a sort. The page's ids are chosen first,
        # from the questions alone; the joins and the count of copies are made for those 51 rows only, not for
        # every row a search ranks.
        order = "ORDER BY q.score DESC, q.created_at, q.id"
        sql = (
            f"SELECT {COLUMNS} {FROM} WHERE q.id IN (SELECT q.id FROM questions q WHERE {' AND '.join(where)}"
            f" {order} LIMIT :limit OFFSET :offset) {order}"
        )
        rows = await self._reader.all(sql, params)
        return [question_from(r) for r in rows[:PAGE_SIZE]], len(rows) > PAGE_SIZE

    async def _hits_up_to(self, index: str, match: str, params: dict[str, Any], cap: int) -> int:
        """How many posts of any course the search matches, counted up to ``cap``."""
        row = await self._reader.one(
            f"SELECT COUNT(*) AS n FROM (SELECT rowid FROM {index} WHERE {index} MATCH {match} LIMIT :cap)",
            {**params, "cap": cap},
        )
        return 0 if row is None else int(row["n"])

    async def web_question(self, course_slug: str, question_id: int) -> WebQuestionDetail | None:
        """One question of this course (never another's) with its cluster's wordings and its replies."""
        rows = await self._reader.all(
            f"SELECT {COLUMNS} {FROM} WHERE q.course_slug = :course AND q.kind = 'question' AND q.deleted = 0"
            " AND (q.id = :id OR q.duplicate_of = :id) ORDER BY q.id",
            {"course": course_slug, "id": question_id},
        )
        found = [question_from(r) for r in rows]
        main = next((q for q in found if q.id == question_id), None)
        if main is None:
            return None
        replies = await self._reader.all(
            "SELECT m.display_name AS author, r.text, r.created_at FROM replies r JOIN members m ON m.id = r.author_id"
            " WHERE r.question_id = ? AND r.deleted = 0 ORDER BY r.created_at, r.id",
            (question_id,),
        )
        return WebQuestionDetail(
            question=main,
            wordings=[q for q in found if q.id != question_id],
            replies=[WebReply(r["author"], r["text"], codec.from_micros(r["created_at"])) for r in replies],
        )

    async def web_lessons(self, course_slug: str) -> list[tuple[int, str]]:
        rows = await self._reader.all(
            "SELECT id, title FROM lessons WHERE course_slug = ? ORDER BY COALESCE(number, id), id", (course_slug,)
        )
        return [(r["id"], r["title"]) for r in rows]

    async def web_secret(self) -> str:
        """The stored signing secret, made on first use (kept in the database, never logged)."""
        row = await self._reader.one("SELECT secret FROM web_state WHERE id = 1")
        if row is not None:
            return str(row["secret"])
        fresh = secrets.token_urlsafe(32)

        async def op(conn: aiosqlite.Connection) -> str:
            await conn.execute("INSERT OR IGNORE INTO web_state (id, secret) VALUES (1, ?)", (fresh,))
            async with conn.execute("SELECT secret FROM web_state WHERE id = 1") as cursor:
                got = await cursor.fetchone()
            assert got is not None
            return str(got[0])

        return await self._writer.call(op)

    async def web_share_token(self, course_slug: str) -> str | None:
        row = await self._reader.one("SELECT token FROM web_shares WHERE course_slug = ?", (course_slug,))
        return None if row is None else str(row["token"])

    async def web_share_course(self, token: str) -> str | None:
        row = await self._reader.one("SELECT course_slug FROM web_shares WHERE token = ?", (token,))
        return None if row is None else str(row["course_slug"])

    async def web_share_create(self, course_slug: str, now: datetime) -> str:
        """The course's share token, a new one made when there is none."""
        fresh = secrets.token_urlsafe(18)
        await self._exec(
            "INSERT OR IGNORE INTO web_shares (course_slug, token, created_at) VALUES (?, ?, ?)",
            (course_slug, fresh, codec.to_micros(now)),
        )
        token = await self.web_share_token(course_slug)
        assert token is not None
        return token

    async def web_share_revoke(self, course_slug: str) -> None:
        await self._exec("DELETE FROM web_shares WHERE course_slug = ?", (course_slug,))
