"""Leases: which process runs the scheduler's jobs, taken and renewed in one statement."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import aiosqlite

from storage import codec
from storage.base import StoreBase

logger = logging.getLogger(__name__)


class LeaseRows(StoreBase):
    """The leases part of :class:`storage.SqliteStore`."""

    # leases ----------------------------------------------------------------------------------------------
    async def acquire_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; False while another holds it.

        One statement: the insert wins when nobody holds the lease, the update when ``holder`` already does or
        the other holder's lease has expired (it crashed or stalled). SQLite serialises writers, so two processes
        can never both win.
        """
        until, at = codec.to_micros(now + ttl), codec.to_micros(now)

        async def op(conn: aiosqlite.Connection) -> bool:
            await conn.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
                " WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
                (name, holder, until, at),
            )
            async with conn.execute("SELECT holder FROM leases WHERE name = ?", (name,)) as cursor:
                row = await cursor.fetchone()
            return row is not None and row[0] == holder

        return await self._writer.call(op)

    async def release_lease(self, name: str, holder: str) -> None:
        await self._exec("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    async def lease_holders(self, prefix: str) -> dict[str, tuple[str, datetime]]:
        """Every lease whose name starts with ``prefix``: its holder and expiry, expired ones included (a holder
        that crashed leaves its row until another takes it over; a cleanly stopped one deletes it)."""
        rows = await self._reader.all(
            "SELECT name, holder, expires_at FROM leases WHERE substr(name, 1, length(?)) = ?", (prefix, prefix)
        )
        return {str(r[0]): (str(r[1]), codec.from_micros(r[2])) for r in rows}
