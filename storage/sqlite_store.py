"""SqliteStore: :class:`handlers.ports.Store` on one SQLite file.

Two connections: the writer (owned by :class:`storage.writer.GroupCommitWriter`, which batches every write
into group commits) and a read-only reader. WAL lets the reader run while the writer writes; it sees
committed data only, and since a write method returns after its commit, a handler always reads its own
writes.

Usage::

    store = await SqliteStore.open(settings.database_path)
    try:
        ...
    finally:
        await store.close()          # commits everything still queued

    # or
    async with await SqliteStore.open(path) as store:
        ...

The methods live in one module per role, composed here as mixins: :mod:`storage.lessons` (courses, lessons,
lesson posts), :mod:`storage.groups` (groups, instructors, chat moves), :mod:`storage.posts` (members' posts),
:mod:`storage.likes` (the like path), :mod:`storage.reads` (rankings, statistics, export),
:mod:`storage.digests`, :mod:`storage.leases`, :mod:`storage.imports` (lesson sources and feeds) and
:mod:`storage.notify` (follows, reminders, answer posts and reused answers) and :mod:`storage.webhook_updates`
(Telegram webhook updates handled, by update id).

Likes: the ``reactions`` table keeps only the reactions the like rule counts (the view ``countable_likes``, see
:mod:`storage.likes`), one row per (question, member, emoji); triggers keep ``questions.likes`` (members with at
least one row) in the same transaction, and ``score`` is a generated column (``likes + base_likes``). Changing a
group's like emojis does not recount reactions already kept: they stay counted until removed, and only new
reactions are checked against the new emojis.

Deleting a reply marks it deleted and takes it off its question's reply count; deleted questions keep their
row (and likes) but leave every ranking, count and export.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType

from storage import clusters, like_inbox, planner_statistics
from storage.base import StoreBase, _KnownMembers
from storage.cluster_store import ClusterMixin
from storage.connection import check_writable, connect, connect_raw, explained
from storage.digest_reads import DigestReadRows
from storage.digests import DigestRows
from storage.groups import GroupRows
from storage.imports import SourceRows
from storage.kept_bursts import KeptBursts
from storage.leases import LeaseRows
from storage.lessons import LessonRows
from storage.likes import LikeRows
from storage.notify import NotifyRows
from storage.posts import PostRows
from storage.queries import Reader
from storage.reads import ReadRows
from storage.schema import migrate
from storage.web_reads import WebRows
from storage.webhook_updates import WebhookUpdateRows
from storage.writer import GroupCommitWriter, WriterStats

logger = logging.getLogger(__name__)


# One mixin per role, each in its own module, rather than parts the store delegates to: the methods moved
# verbatim (a delegating part would need a forwarding method for each of ~80), every mixin shares the one
# writer and reader set up here, and a role port (handlers.ports) maps onto a module one to one.
class SqliteStore(
    LessonRows,
    GroupRows,
    PostRows,
    LikeRows,
    ReadRows,
    DigestReadRows,
    DigestRows,
    LeaseRows,
    SourceRows,
    ClusterMixin,
    NotifyRows,
    WebRows,
    WebhookUpdateRows,
    StoreBase,
):
    """The studybot store. Create with :meth:`open`; every write is committed before its coroutine returns."""

    def __init__(self, path: str, writer: GroupCommitWriter, reader: Reader, version: int) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self.schema_version = version
        self._members = _KnownMembers()
        self._kept = KeptBursts(writer, reader, self._members)

    @classmethod
    async def open(cls, path: str | Path, *, batch_max: int = 2000) -> SqliteStore:
        """Open (creating if needed) and migrate the database, and check that it can be written.

        Raises :class:`storage.DatabaseTooNew` for a newer schema, and :class:`storage.DatabaseUnusable` when
        the file cannot be used where it is (a folder, a read-only file, ...) or is damaged: at start, before
        anything was written, rather than at the first write.
        """
        with explained(path):
            conn = await connect_raw(path)
            try:
                _, version = await migrate(conn, str(path))
                await check_writable(conn)
                await planner_statistics.forget_small_tables(conn)
                await like_inbox.count_left_kept(conn)
                await clusters.cluster_pending(conn)
                reader = await connect(path, read_only=True)
            except BaseException:
                await conn.close()
                raise
        writer = GroupCommitWriter(conn, batch_max)
        writer.start()
        logger.debug("opened %s at schema version %d", path, version)
        return cls(str(path), writer, Reader(reader), version)

    async def close(self) -> None:
        """Commit every write already queued, then close both connections. Safe to call twice."""
        await self._writer.close()
        await self._writer.close_connection()
        await self._reader.conn.close()

    async def __aenter__(self) -> SqliteStore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def writer_stats(self) -> WriterStats:
        """How the writer grouped the writes so far (``stats`` is taken by the port's course statistics)."""
        return self._writer.stats
