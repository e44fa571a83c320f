"""Telegram webhook updates by ``update_id``: several workers behind one URL handle each update once (issue 13).

Telegram redelivers an update whose answer did not come in time or was not a 2xx, possibly to another worker.
A worker records the update before handling it (:meth:`WebhookUpdateRows.begin_update`) and marks it handled
once the core has committed its effect (:meth:`WebhookUpdateRows.finish_update`); only then does it answer 200.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import aiosqlite

from handlers.ports.backends import UpdateDelivery
from storage import codec
from storage.base import StoreBase

logger = logging.getLogger(__name__)


class WebhookUpdateRows(StoreBase):
    """The webhook updates part of :class:`storage.SqliteStore`."""

    async def begin_update(self, bot_id: str, update_id: int, now: datetime, stale_after: timedelta) -> UpdateDelivery:
        """Record that this worker handles the update, unless it was handled already or another worker began it
        less than ``stale_after`` ago (and may still be at it). One statement, so two workers never both begin."""
        at, stale = codec.to_micros(now), codec.to_micros(now - stale_after)

        async def op(conn: aiosqlite.Connection) -> UpdateDelivery:
            async with conn.execute(
                "INSERT INTO telegram_updates (bot_id, update_id, received_at) VALUES (?, ?, ?)"
                " ON CONFLICT (bot_id, update_id) DO UPDATE SET received_at = excluded.received_at"
                " WHERE handled_at IS NULL AND received_at <= ?",
                (bot_id, update_id, at, stale),
            ) as cursor:
                if cursor.rowcount == 1:
                    return UpdateDelivery.FIRST
            async with conn.execute(
                "SELECT handled_at FROM telegram_updates WHERE bot_id = ? AND update_id = ?", (bot_id, update_id)
            ) as cursor:
                row = await cursor.fetchone()
            return UpdateDelivery.HANDLED if row is not None and row[0] is not None else UpdateDelivery.IN_PROGRESS

        return await self._writer.call(op)

    async def finish_update(self, bot_id: str, update_id: int, now: datetime) -> None:
        await self._exec(
            "UPDATE telegram_updates SET handled_at = ? WHERE bot_id = ? AND update_id = ?",
            (codec.to_micros(now), bot_id, update_id),
        )

    async def forget_updates(self, before: datetime) -> None:
        """Drop the updates received before ``before``: Telegram no longer redelivers them."""
        await self._exec("DELETE FROM telegram_updates WHERE received_at < ?", (codec.to_micros(before),))
