"""Counting the bursts of likes kept before they are counted (see :meth:`storage.likes.LikeRows.keep_reactions`).

Each keep queues its count right behind it. A count that fails (another process held the write lock past the
busy timeout, a full disk) leaves the bursts kept, and is tried again after a delay that doubles up to a minute,
so that a group that goes quiet after a burst still sees its likes counted without waiting for another burst or a
restart. The store counts what is left at its next open in any case.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from handlers.vocabulary.domain import Member
from storage.base import _KnownMembers
from storage.errors import StoreClosed
from storage.like_inbox import COUNT_KEPT, KEEP_BURST
from storage.queries import Reader
from storage.writer import GroupCommitWriter, Statement

logger = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 0.5
LAST_RETRY_SECONDS = 60.0


class KeptBursts:
    """Keeps bursts and counts them, on the store's writer; reads on the store's reader wait for the counts."""

    def __init__(self, writer: GroupCommitWriter, reader: Reader, known: _KnownMembers) -> None:
        self._writer = writer
        self._reader = reader
        self._known = known

    def keep(self, members: str, likes: str, new_members: list[Member]) -> asyncio.Future[Any]:
        """Queue the burst (like_bursts' arguments as JSON text) and its count; the keep's future."""
        kept = self._writer.submit(Statement(KEEP_BURST, (members, likes)))
        self._count(new_members, kept, FIRST_RETRY_SECONDS)
        return kept

    def _count(self, new_members: list[Member], kept: asyncio.Future[Any] | None, retry: float) -> None:
        try:
            counted = self._writer.submit(Statement(COUNT_KEPT, ()))
        except StoreClosed:
            return  # what is kept is counted when the store next opens
        self._reader.wait_for(counted)
        counted.add_done_callback(partial(self._counted, new_members, kept, retry))

    def _counted(
        self, new_members: list[Member], kept: asyncio.Future[Any] | None, retry: float, counted: asyncio.Future[Any]
    ) -> None:
        """The count committed, or failed: then it is tried again after ``retry`` seconds. The burst's new members
        are known to be stored only when its keep committed too: a failed keep upserted nobody, and the plain like
        statement that known members take would drop their later likes without a word."""
        if counted.cancelled():
            return
        error = counted.exception()
        if error is not None:
            logger.warning("kept likes not counted yet (%s); trying again in %.1f s", error, retry)
            loop = asyncio.get_running_loop()
            loop.call_later(retry, self._count, [], None, min(2 * retry, LAST_RETRY_SECONDS))
            return
        if kept is not None and not kept.cancelled() and kept.exception() is None:
            for member in new_members:
                self._known.committed(member)
