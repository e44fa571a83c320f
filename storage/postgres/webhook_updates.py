"""Telegram webhook updates by id (issue 13), as :mod:`storage.webhook_updates` keeps them on SQLite.

Several workers behind one URL share the database; Telegram redelivers an update whose answer timed out, so a
worker records the update before handling it and marks it handled once its effect is committed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers.ports.backends import UpdateDelivery
from storage import codec
from storage.postgres.base import PgBase


class WebhookUpdateRows(PgBase):
    """The webhook updates part of :class:`storage.postgres.PostgresStore`."""

    async def begin_update(self, bot_id: str, update_id: int, now: datetime, stale_after: timedelta) -> UpdateDelivery:
        """Record that this worker handles the update, unless it was handled already or another worker began it
        less than ``stale_after`` ago. The upsert's row lock decides between two workers: one wins, the other
        sees the winner's row once it committed."""
        at, stale = codec.to_micros(now), codec.to_micros(now - stale_after)
        async with self._transaction() as conn:
            won = await conn.fetchval(
                "INSERT INTO telegram_updates (bot_id, update_id, received_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (bot_id, update_id) DO UPDATE SET received_at = excluded.received_at"
                " WHERE telegram_updates.handled_at IS NULL AND telegram_updates.received_at <= $4"
                " RETURNING true",
                bot_id,
                update_id,
                at,
                stale,
            )
            if won:
                return UpdateDelivery.FIRST
            handled = await conn.fetchval(
                "SELECT handled_at FROM telegram_updates WHERE bot_id = $1 AND update_id = $2", bot_id, update_id
            )
        return UpdateDelivery.HANDLED if handled is not None else UpdateDelivery.IN_PROGRESS

    async def finish_update(self, bot_id: str, update_id: int, now: datetime) -> None:
        await self._execute(
            "UPDATE telegram_updates SET handled_at = $1 WHERE bot_id = $2 AND update_id = $3",
            codec.to_micros(now),
            bot_id,
            update_id,
        )

    async def forget_updates(self, before: datetime) -> None:
        """Drop the updates received before ``before``: Telegram no longer redelivers them."""
        await self._execute("DELETE FROM telegram_updates WHERE received_at < $1", codec.to_micros(before))
