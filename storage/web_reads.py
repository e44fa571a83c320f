"""The web page's reads (issue 17): a course's questions as clusters with filters, search and pages; one question
with its wordings, replies and answer; the page's signing secret and the courses' share links.

Search uses the FTS5 trigram index of migration 0012 for queries of three characters or more (Chinese or
English), and LIKE over the course's questions for one or two characters, which a trigram cannot match.
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
# Up to this many trigram hits are ranked by a sort; more are found by walking the ranked index (see web_questions).
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
    FROM questions q JOIN lessons l ON l.id = q.lesson_id JOIN members m ON m.id = q.author_id
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


class WebRows(StoreBase):
    """Reads and the few writes of the web page; SQL only here."""

    async def web_questions(self, f: WebFilter) -> tuple[list[WebQuestion], bool]:
        """One page of the course's clusters (their first question), most liked first; and whether more follow.

        A search hit on any wording of a cluster shows the cluster once, through its first question."""
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
        query = f.query.strip()
        if query:
            params["like"] = "%" + escape_like(query) + "%"
            params["match"] = '"' + query.replace('"', '""') + '"'  # one phrase: FTS5 syntax in it is text
            if len(query) >= 3 and await self._fts_hits_fewer_than(params["match"], DENSE_HITS):
                # Few hits: take them from the trigram index, then rank them (a sort of at most DENSE_HITS).
                hits = "SELECT rowid FROM questions_fts WHERE questions_fts MATCH :match"
                where.append(
                    f"(q.id IN ({hits}) OR q.id IN (SELECT d.duplicate_of FROM questions d WHERE d.id IN ({hits})))"
                )
            else:
                # Many hits, or one or two characters (no trigram): walk the course's questions in ranked order
                # and test each one's wordings, which finds a page's worth after a few thousand at most when
                # hits are common. A rare one- or two-character query reads the whole course.
                where.append(
                    "(q.text LIKE :like ESCAPE '\\' OR EXISTS (SELECT 1 FROM questions d WHERE"
                    " d.course_slug = q.course_slug AND d.duplicate_of = q.id AND d.deleted = 0"
                    " AND d.text LIKE :like ESCAPE '\\'))"
                )
        # /top's order, so that the index questions_top gives it without a sort.
        sql = (
            f"SELECT {COLUMNS} {FROM} WHERE {' AND '.join(where)}"
            " ORDER BY q.score DESC, q.created_at, q.id LIMIT :limit OFFSET :offset"
        )
        rows = await self._reader.all(sql, params)
        return [question_from(r) for r in rows[:PAGE_SIZE]], len(rows) > PAGE_SIZE

    async def _fts_hits_fewer_than(self, match: str, cap: int) -> bool:
        row = await self._reader.one(
            "SELECT COUNT(*) AS n FROM (SELECT rowid FROM questions_fts WHERE questions_fts MATCH ? LIMIT ?)",
            (match, cap),
        )
        return row is not None and int(row["n"]) < cap

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
