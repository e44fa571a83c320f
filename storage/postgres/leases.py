"""Leases on PostgreSQL: which process runs the scheduler's jobs (the counterpart of :mod:`storage.leases`)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from storage import codec
from storage.postgres.base import PgBase

logger = logging.getLogger(__name__)

# The insert wins when nobody holds the lease; the update when the caller holds it already or the other
# holder's lease has expired. RETURNING gives a row only when this statement wrote one.
ACQUIRE = """
    INSERT INTO leases AS l (name, holder, expires_at) VALUES ($1, $2, $3)
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
    WHERE l.holder = excluded.holder OR l.expires_at <= $4
    RETURNING l.holder
"""


class LeaseRows(PgBase):
    """The leases part of :class:`storage.postgres.PostgresStore`."""

    async def acquire_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; False while another holds it.

        One statement, right under concurrency at READ COMMITTED: of two processes inserting a lease nobody
        holds, the second waits for the first's insert and then takes the conflict branch, whose WHERE is
        checked against the row as the first committed it (and with the row locked); so two processes racing
        for a free or expired lease never both win. The lease lives in a row, not in a session, so it holds
        across pooled connections, and a crashed holder's lease lapses after ``ttl``.
        """
        until, at = codec.to_micros(now + ttl), codec.to_micros(now)
        self._check_open()
        won = await self._fetchval(ACQUIRE, name, holder, until, at)
        return won == holder

    async def release_lease(self, name: str, holder: str) -> None:
        """Hand the lease over at once (a clean stop): only its holder's row is deleted."""
        await self._execute("DELETE FROM leases WHERE name = $1 AND holder = $2", name, holder)

    async def lease_holders(self, prefix: str) -> dict[str, tuple[str, datetime]]:
        """Every lease whose name starts with ``prefix``: its holder and expiry, expired ones included (see the
        SQLite store's: a crashed holder leaves its row until another takes it over)."""
        rows = await self._fetch(
            "SELECT name, holder, expires_at FROM leases WHERE left(name, length($1)) = $1", prefix
        )
        return {str(r[0]): (str(r[1]), codec.from_micros(r[2])) for r in rows}
