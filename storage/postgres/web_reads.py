"""The web page's reads on PostgreSQL (issue 17): a course's questions as clusters with filters, search and
pages; one question with its wordings, replies and answer; the page's signing secret and the share links.

Search: where SQLite matches three characters or more in its FTS5 trigram table, PostgreSQL has a pg_trgm GIN
index on each question's text (on its copy in ``question_texts`` since 0017), which answers
``text ILIKE '%…%'`` for such queries; one or two characters give no trigram and use the GIN index over each
question's characters and pairs (migration 0015, ``text_grams``), as SQLite uses its gram table. Few hits are
read and ranked; many are found by walking the course's ranking and testing each wording, as on SQLite, so a
search finds the same clusters on both stores. Both are case-insensitive (FTS5's trigram folds case; so does
ILIKE).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from storage import codec
from storage.postgres.base import PgBase
from storage.postgres.named import named
from storage.web_reads import (
    COLUMNS,
    DENSE_HITS,
    FROM,
    PAGE_SIZE,
    WebFilter,
    WebQuestion,
    WebQuestionDetail,
    WebReply,
    escape_like,
    filter_clauses,
    question_from,
)

logger = logging.getLogger(__name__)

# A search's hits anywhere (FTS5's table holds every question row, so the SQLite path's does too): through the
# trigram index for three characters or more, through the gram index (0015) for one or two.
# Both read question_texts (migration 0017), the text's copy that carries the search indexes, so that a like,
# which rewrites its question's row, never rewrites them.
_HITS = "SELECT question_id FROM question_texts WHERE text ILIKE :like"
_SHORT_HITS = (
    "SELECT question_id FROM question_texts WHERE text_grams(text) @> ARRAY[lower(:gram)] AND text ILIKE :like"
)


class PgWebRows(PgBase):
    """Reads and the few writes of the web page on PostgreSQL; SQL only here."""

    async def web_questions(self, f: WebFilter) -> tuple[list[WebQuestion], bool]:
        """One page of the course's clusters (their first question), most liked first; and whether more follow.

        A search hit on any wording of a cluster shows the cluster once, through its first question."""
        where, params = filter_clauses(f)
        query = f.query.strip()
        if query:
            params["like"] = "%" + escape_like(query) + "%"
            hits = _HITS
            if len(query) <= 2:
                hits, params["gram"] = _SHORT_HITS, query
            if await self._hits_fewer_than(hits, params, DENSE_HITS):
                # Few hits: read them from the index, each as its cluster's first question (a deleted wording
                # brings no cluster), then rank them.
                where.append(
                    f"q.id IN (SELECT COALESCE(d.duplicate_of, d.id) FROM questions d WHERE d.id IN ({hits})"
                    " AND d.deleted = 0)"
                )
            else:
                # Many hits: walk the course's questions in ranked order and test each one's wordings, which
                # meets a page's worth soon, as on SQLite.
                where.append(
                    "(q.text ILIKE :like OR EXISTS (SELECT 1 FROM questions d WHERE"
                    " d.course_slug = q.course_slug AND d.duplicate_of = q.id AND d.deleted = 0"
                    " AND d.text ILIKE :like))"
                )
        sql = (
            f"SELECT {COLUMNS} {FROM} WHERE {' AND '.join(where)}"
            " ORDER BY q.score DESC, q.created_at, q.id LIMIT :limit OFFSET :offset"
        )
        rows = await self._fetch(*_statement(sql, params))
        return [question_from(r) for r in rows[:PAGE_SIZE]], len(rows) > PAGE_SIZE

    async def _hits_fewer_than(self, hits: str, params: dict[str, Any], cap: int) -> bool:
        counted = _statement(f"SELECT COUNT(*) FROM ({hits} LIMIT :cap) AS hits", {**params, "cap": cap})
        return int(await self._fetchval(*counted)) < cap

    async def web_question(self, course_slug: str, question_id: int) -> WebQuestionDetail | None:
        """One question of this course (never another's) with its cluster's wordings and its replies."""
        rows = await self._fetch(
            *_statement(
                f"SELECT {COLUMNS} {FROM} WHERE q.course_slug = :course AND q.kind = 'question' AND q.deleted = 0"
                " AND (q.id = :id OR q.duplicate_of = :id) ORDER BY q.id",
                {"course": course_slug, "id": question_id},
            )
        )
        found = [question_from(r) for r in rows]
        main = next((q for q in found if q.id == question_id), None)
        if main is None:
            return None
        replies = await self._fetch(
            "SELECT m.display_name AS author, r.text, r.created_at FROM replies r JOIN members m ON m.id = r.author_id"
            " WHERE r.question_id = $1 AND r.deleted = 0 ORDER BY r.created_at, r.id",
            question_id,
        )
        return WebQuestionDetail(
            question=main,
            wordings=[q for q in found if q.id != question_id],
            replies=[WebReply(r["author"], r["text"], codec.from_micros(r["created_at"])) for r in replies],
        )

    async def web_lessons(self, course_slug: str) -> list[tuple[int, str]]:
        rows = await self._fetch(
            "SELECT id, title FROM lessons WHERE course_slug = $1 ORDER BY COALESCE(number, id), id", course_slug
        )
        return [(r["id"], r["title"]) for r in rows]

    async def web_secret(self) -> str:
        """The stored signing secret, made on first use (kept in the database, never logged). Of several
        processes making it at once, the first insert wins and every one reads that."""
        found = await self._fetchval("SELECT secret FROM web_state WHERE id = 1")
        if found is not None:
            return str(found)
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO web_state (id, secret) VALUES (1, $1) ON CONFLICT DO NOTHING", secrets.token_urlsafe(32)
            )
            secret = await conn.fetchval("SELECT secret FROM web_state WHERE id = 1")
        return str(secret)

    async def web_share_token(self, course_slug: str) -> str | None:
        found = await self._fetchval("SELECT token FROM web_shares WHERE course_slug = $1", course_slug)
        return None if found is None else str(found)

    async def web_share_course(self, token: str) -> str | None:
        found = await self._fetchval("SELECT course_slug FROM web_shares WHERE token = $1", token)
        return None if found is None else str(found)

    async def web_share_create(self, course_slug: str, now: datetime) -> str:
        """The course's share token, a new one made when there is none."""
        await self._execute(
            "INSERT INTO web_shares (course_slug, token, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            course_slug, secrets.token_urlsafe(18), codec.to_micros(now),
        )  # fmt: skip
        token = await self.web_share_token(course_slug)
        assert token is not None
        return token

    async def web_share_revoke(self, course_slug: str) -> None:
        await self._execute("DELETE FROM web_shares WHERE course_slug = $1", course_slug)


def _statement(sql: str, params: dict[str, Any]) -> list[Any]:
    """The query in asyncpg's form (``$n`` for ``:name``, SQLite's index hints dropped), then its values."""
    text, values = named(sql, params)
    return [text, *values]
