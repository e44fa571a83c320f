"""The store's side of :class:`handlers.ports.clusters.ClusterStore` on PostgreSQL; the SQL is in
:mod:`storage.postgres.clusters`."""

from __future__ import annotations

import logging
from datetime import datetime

from handlers.ports.clusters import Cluster, DupesMode
from storage.postgres import clusters
from storage.postgres.base import PgBase

logger = logging.getLogger(__name__)


class PgClusterRows(PgBase):
    """The clusters part of :class:`storage.postgres.PostgresStore`."""

    async def cluster_of(self, question_id: int) -> Cluster | None:
        return await clusters.read_cluster(self._pool, question_id)

    async def merge_questions(self, first: int, second: int, at: datetime) -> None:
        async with self._transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", clusters.CLUSTER_LOCK)  # one decision at a time
            await clusters.merge(conn, first, second, at)

    async def split_question(self, question_id: int, at: datetime) -> None:
        async with self._transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", clusters.CLUSTER_LOCK)
            await clusters.split(conn, question_id, at)

    async def dupes_mode(self, group_id: int) -> DupesMode:
        value = await self._fetchval("SELECT dupes FROM study_groups WHERE id = $1", group_id)
        return DupesMode(value) if value is not None else DupesMode.ON

    async def set_dupes_mode(self, group_id: int, mode: DupesMode) -> None:
        await self._execute("UPDATE study_groups SET dupes = $1 WHERE id = $2", mode.value, group_id)
