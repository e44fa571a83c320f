"""What every part of :class:`storage.SqliteStore` shares: the writer, the reader and the members known stored.

The store is composed of mixins, one per role (:mod:`storage.likes`, :mod:`storage.reads`, ...), each a
subclass of :class:`StoreBase`: their methods are the store's methods moved as they were, so they keep using
``self._writer`` and ``self._reader``, and each module is small enough to read at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from handlers.vocabulary.domain import Member, MessageRef
from storage.queries import Reader
from storage.writer import GroupCommitWriter, Statement

UPSERT_MEMBER = """
    INSERT INTO members (platform, user_id, display_name, is_bot) VALUES (?, ?, ?, ?)
    ON CONFLICT (platform, user_id) DO UPDATE SET display_name = excluded.display_name, is_bot = excluded.is_bot
    WHERE display_name IS NOT excluded.display_name OR is_bot IS NOT excluded.is_bot
"""
# "WHERE true" lets SQLite tell the SELECT's end from the upsert clause.
UPSERT_MEMBERS_BATCH = """
    INSERT INTO members (platform, user_id, display_name, is_bot)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?) WHERE true ORDER BY key
    ON CONFLICT (platform, user_id) DO UPDATE SET display_name = excluded.display_name, is_bot = excluded.is_bot
    WHERE display_name IS NOT excluded.display_name OR is_bot IS NOT excluded.is_bot
"""


BY_REF = "platform = ? AND chat_id = ? AND message_id = ?"


def _ref(ref: MessageRef) -> tuple[str, str, str]:
    return (ref.platform, ref.chat_id, ref.message_id)


def _member_op(member: Member) -> Statement:
    """Members are upserted ahead of the rest of the batch (hoisted): idempotent, and needed by what follows."""
    params = (member.platform, member.user_id, member.display_name, int(member.is_bot))
    return Statement(UPSERT_MEMBER, params, True, batch_sql=UPSERT_MEMBERS_BATCH)


class _KnownMembers:
    """Members whose current name is known to be committed, so a burst of their likes skips the upsert.

    Only a committed upsert adds a member, and members are never deleted, so a hit is always true of the
    database (a rename by another process is the one thing missed, until the member's name changes again).
    Bounded by forgetting everything when full: cheap, and the next upsert of each member refills it.
    """

    LIMIT = 100_000

    def __init__(self) -> None:
        self._names: dict[tuple[str, str], tuple[str, bool]] = {}
        # Upserts queued but not committed yet: a burst of one member's reactions shares a single upsert
        # instead of queuing one per reaction before the first commit.
        self._queued: dict[tuple[str, str, str, bool], asyncio.Future[Any]] = {}

    def current(self, member: Member) -> bool:
        return self._names.get((member.platform, member.user_id)) == (member.display_name, member.is_bot)

    def queued(self, member: Member) -> asyncio.Future[Any] | None:
        future = self._queued.get((member.platform, member.user_id, member.display_name, member.is_bot))
        return future if future is not None and not future.done() else None

    def queue(self, member: Member, future: asyncio.Future[Any]) -> None:
        self._queued[(member.platform, member.user_id, member.display_name, member.is_bot)] = future

    def committed(self, member: Member) -> None:
        if len(self._names) >= self.LIMIT:
            self._names.clear()
        self._names[(member.platform, member.user_id)] = (member.display_name, member.is_bot)
        self._queued.pop((member.platform, member.user_id, member.display_name, member.is_bot), None)


class StoreBase:
    """The connections and helpers the role mixins use; :class:`storage.SqliteStore` sets them up."""

    _writer: GroupCommitWriter
    _reader: Reader
    _members: _KnownMembers

    async def _exec(self, sql: str, params: Sequence[Any]) -> None:
        await self._writer.execute(sql, params)

    def _upsert_member(self, member: Member) -> asyncio.Future[Any] | None:
        """Queue the member's upsert unless it is known to be stored as it is; await the result with
        :meth:`_member_stored`."""
        if self._members.current(member):
            return None
        future = self._members.queued(member)
        if future is None:
            future = self._writer.submit(_member_op(member))
            self._members.queue(member, future)
        return future

    async def _member_stored(self, member: Member, upsert: asyncio.Future[Any] | None) -> None:
        if upsert is not None:
            await upsert
            self._members.committed(member)
