"""The store's side of :class:`handlers.ports.clusters.ClusterStore`, mixed into :class:`SqliteStore`.

Kept apart from sqlite_store.py so that the cluster methods move as one piece when the store is split by role;
the SQL itself is in :mod:`storage.clusters`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from handlers.ports.clusters import Cluster, DupesMode
from storage import clusters
from storage.queries import Reader
from storage.writer import GroupCommitWriter

logger = logging.getLogger(__name__)


class ClusterMixin:
    _writer: GroupCommitWriter
    _reader: Reader

    async def cluster_of(self, question_id: int) -> Cluster | None:
        return await clusters.read_cluster(self._reader, question_id)

    async def merge_questions(self, first: int, second: int, at: datetime) -> None:
        await self._writer.call(clusters.merge_op(first, second, at))

    async def split_question(self, question_id: int, at: datetime) -> None:
        await self._writer.call(clusters.split_op(question_id, at))

    async def dupes_mode(self, group_id: int) -> DupesMode:
        row = await self._reader.one("SELECT dupes FROM study_groups WHERE id = ?", (group_id,))
        return DupesMode(row[0]) if row else DupesMode.ON

    async def set_dupes_mode(self, group_id: int, mode: DupesMode) -> None:
        await self._writer.execute("UPDATE study_groups SET dupes = ? WHERE id = ?", (mode.value, group_id))
