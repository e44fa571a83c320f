"""Digests on PostgreSQL: the periods recorded for each course, and to whom each has been delivered.

The same rows as :mod:`storage.digests` (its JSON of the items, the summary and the report are reused as they
are). Several processes may record or deliver one digest at once; the unique keys decide: a period (course,
end) is recorded once and a delivery (digest, member) once, by ``ON CONFLICT DO NOTHING``, and the first send
time is kept by a conditional update.

A digest's window ends at a post id (``through_post``, a watermark over every course's ids): nothing here reads
past it, and it is safe only if no post below it is still in flight when it is read. On SQLite the one writer
gives that; here the inserts of posts hold an id barrier shared and ``newest_settled_post_id``
(storage.postgres.posts) reads the newest id holding it exclusively, which ``newest_post_id`` must use.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from handlers.vocabulary.digest_report import DigestReport
from handlers.vocabulary.domain import Digest, DigestItem, PeriodSummary
from storage import codec, queries
from storage.digests import digest_from, summary_to_json
from storage.postgres.base import PgBase, affected, numbered

logger = logging.getLogger(__name__)

_RECORD = numbered(
    "INSERT INTO digests (course_slug, period_start, period_end, through_post, items, summary, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (course_slug, period_end) DO NOTHING"
)
_BY_PERIOD = queries.DIGEST_SELECT + " WHERE course_slug = $1 AND period_end = $2"


class PgDigestRows(PgBase):
    """The digests part of :class:`storage.postgres.PostgresStore` (:class:`handlers.ports.DigestStore`)."""

    async def last_digest_end(self, course_slug: str) -> datetime | None:
        value = await self._fetchval("SELECT MAX(period_end) FROM digests WHERE course_slug = $1", course_slug)
        return codec.from_micros_or_none(value)

    async def digested_through(self, course_slug: str) -> int:
        value = await self._fetchval(
            "SELECT through_post FROM digests WHERE course_slug = $1 ORDER BY period_end DESC LIMIT 1", course_slug
        )
        return int(value) if value is not None else 0

    async def record_digest(
        self,
        course_slug: str,
        start: datetime,
        end: datetime,
        through_post: int,
        items: Sequence[DigestItem],
        summary: PeriodSummary,
        now: datetime,
        report: DigestReport | None = None,
    ) -> tuple[Digest, bool]:
        """Record the period's digest unless that period (course, end) already has one; the bool says it is new.

        A second process recording the same period at once waits on the first one's key, inserts nothing, and
        reads the first one's row (READ COMMITTED: each statement sees what has been committed before it)."""
        values = (
            course_slug,
            codec.to_micros(start),
            codec.to_micros(end),
            through_post,
            codec.items_to_json(items),
            summary_to_json(summary, report),
            codec.to_micros(now),
        )
        async with self._transaction() as conn:
            new = affected(await conn.execute(_RECORD, *values)) > 0
            row = await conn.fetchrow(_BY_PERIOD, values[0], values[2])
        assert row is not None
        return digest_from(row), new

    async def digest_deliveries(self, digest_id: int) -> set[tuple[str, str]]:
        rows = await self._fetch("SELECT platform, user_id FROM digest_deliveries WHERE digest_id = $1", digest_id)
        return {(r["platform"], r["user_id"]) for r in rows}

    async def mark_digest_delivered(self, digest_id: int, platform: str, user_id: str, at: datetime) -> None:
        await self._execute(
            "INSERT INTO digest_deliveries (digest_id, platform, user_id, delivered_at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT DO NOTHING",
            digest_id, platform, user_id, codec.to_micros(at),
        )  # fmt: skip

    async def unsent_digests(self) -> list[Digest]:
        rows = await self._fetch(queries.DIGEST_SELECT + " WHERE sent_at IS NULL ORDER BY period_end, id")
        return [digest_from(r) for r in rows]

    async def mark_digest_sent(self, digest_id: int, now: datetime) -> None:
        """The first send time is kept."""
        await self._execute(
            "UPDATE digests SET sent_at = $1 WHERE id = $2 AND sent_at IS NULL", codec.to_micros(now), digest_id
        )
