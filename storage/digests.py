"""Digests: the periods recorded for each course, and to whom each has been delivered."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from handlers.vocabulary.domain import (
    Digest,
    DigestItem,
    PeriodSummary,
)
from storage import codec, queries
from storage.base import StoreBase

logger = logging.getLogger(__name__)


class DigestRows(StoreBase):
    """The digests part of :class:`storage.SqliteStore`."""

    # digests ---------------------------------------------------------------------------------------------
    async def last_digest_end(self, course_slug: str) -> datetime | None:
        row = await self._reader.one("SELECT MAX(period_end) FROM digests WHERE course_slug = ?", (course_slug,))
        return codec.from_micros_or_none(row[0] if row else None)

    async def digested_through(self, course_slug: str) -> int:
        row = await self._reader.one(
            "SELECT through_post FROM digests WHERE course_slug = ? ORDER BY period_end DESC LIMIT 1", (course_slug,)
        )
        return int(row[0]) if row else 0

    async def record_digest(
        self,
        course_slug: str,
        start: datetime,
        end: datetime,
        through_post: int,
        items: Sequence[DigestItem],
        summary: PeriodSummary,
        now: datetime,
    ) -> tuple[Digest, bool]:
        """Record the period's digest unless that period (course, end) already has one; the bool says it is new."""
        values = (
            course_slug,
            codec.to_micros(start),
            codec.to_micros(end),
            through_post,
            codec.items_to_json(items),
            codec.summary_to_json(summary),
            codec.to_micros(now),
        )

        async def op(conn: aiosqlite.Connection) -> tuple[Digest, bool]:
            async with conn.execute(
                "INSERT INTO digests (course_slug, period_start, period_end, through_post, items, summary, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (course_slug, period_end) DO NOTHING",
                values,
            ) as cursor:
                new = cursor.rowcount > 0
            async with conn.execute(
                queries.DIGEST_SELECT + " WHERE course_slug = ? AND period_end = ?", (values[0], values[2])
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            return codec.digest_from(row), new

        return await self._writer.call(op)

    async def digest_deliveries(self, digest_id: int) -> set[tuple[str, str]]:
        rows = await self._reader.all(
            "SELECT platform, user_id FROM digest_deliveries WHERE digest_id = ?", (digest_id,)
        )
        return {(r[0], r[1]) for r in rows}

    async def mark_digest_delivered(self, digest_id: int, platform: str, user_id: str, at: datetime) -> None:
        await self._exec(
            "INSERT OR IGNORE INTO digest_deliveries (digest_id, platform, user_id, delivered_at) VALUES (?, ?, ?, ?)",
            (digest_id, platform, user_id, codec.to_micros(at)),
        )

    async def unsent_digests(self) -> list[Digest]:
        rows = await self._reader.all(queries.DIGEST_SELECT + " WHERE sent_at IS NULL ORDER BY period_end, id")
        return [codec.digest_from(r) for r in rows]

    async def mark_digest_sent(self, digest_id: int, now: datetime) -> None:
        """The first send time is kept."""
        await self._exec(
            "UPDATE digests SET sent_at = ? WHERE id = ? AND sent_at IS NULL", (codec.to_micros(now), digest_id)
        )
