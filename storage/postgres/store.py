"""PostgresStore: :class:`handlers.ports.Store` on a PostgreSQL database, for deployments past one machine.

The same contract as :class:`storage.SqliteStore` (one test suite runs against both), with the same schema
versions. The methods live in one module per role, mirroring the SQLite store's: :mod:`storage.postgres.lessons`,
:mod:`storage.postgres.groups`, … composed here as mixins over :class:`storage.postgres.base.PgBase`.

Usage::

    store = await PostgresStore.open("postgresql://studybot@db-host/studybot", pool_size=10)
    try:
        ...
    finally:
        await store.close()
"""

from __future__ import annotations

import logging
from types import TracebackType

import asyncpg

from storage.locations import DEFAULT_POOL_SIZE, without_password
from storage.postgres import clusters
from storage.postgres.base import PgBase
from storage.postgres.cluster_store import PgClusterRows
from storage.postgres.connection import open_pool
from storage.postgres.digest_reads import PgDigestReadRows
from storage.postgres.digests import PgDigestRows
from storage.postgres.groups import GroupRows
from storage.postgres.imports import SourceRows
from storage.postgres.leases import LeaseRows
from storage.postgres.lessons import LessonRows
from storage.postgres.likes import PgLikeRows
from storage.postgres.notify import PgNotifyRows
from storage.postgres.posts import PostRows
from storage.postgres.reads import PgReadRows
from storage.postgres.schema import migrate
from storage.postgres.web_reads import PgWebRows
from storage.postgres.webhook_updates import WebhookUpdateRows

logger = logging.getLogger(__name__)


class PostgresStore(
    LessonRows,
    GroupRows,
    PostRows,
    LeaseRows,
    SourceRows,
    PgLikeRows,
    PgReadRows,
    PgClusterRows,
    PgDigestReadRows,
    PgDigestRows,
    PgNotifyRows,
    PgWebRows,
    WebhookUpdateRows,
    PgBase,
):
    """The studybot store on PostgreSQL. Create with :meth:`open`; every write is committed before it returns."""

    def __init__(self, url: str, pool: asyncpg.Pool, version: int) -> None:
        self.url = url
        self.shown_url = without_password(url)
        self._pool = pool
        self.schema_version = version

    @classmethod
    async def open(cls, url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> PostgresStore:
        """Connect, and migrate the database to the latest version (several processes may do this at once).

        Raises :class:`storage.DatabaseUnusable` when the server cannot be reached or refuses us, and
        :class:`storage.DatabaseTooNew` for a database a newer studybot wrote.
        """
        pool = await open_pool(url, pool_size)
        try:
            async with pool.acquire() as conn:
                _, version = await migrate(conn, without_password(url))
                await clusters.cluster_pending(conn)
        except BaseException:
            await pool.close()
            raise
        logger.debug("opened %s at schema version %d", without_password(url), version)
        return cls(url, pool, version)

    async def close(self) -> None:
        """Wait for the writes in flight, then close every pooled connection. Safe to call twice."""
        if self._closed:
            return
        if self._like_queue is not None:  # likes queued before close are committed, as on SQLite
            await self._like_queue.drain()
        self._closed = True
        await self._pool.close()

    async def __aenter__(self) -> PostgresStore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
