"""Group commit for the like path on PostgreSQL: likes arriving together share one transaction, in call order.

Why a queue when PostgreSQL takes writers side by side: two reasons. Order — an add and a remove of the same
reaction handed to the store one after the other must be applied in that order (the SQLite store's writer
is FIFO, and the like tests hold both stores to it); two pooled connections would race. Cost — a like is a
few microseconds of work and a whole round trip plus a commit of overhead, so the likes that arrive while one
transaction commits go together in the next one (measured in benchmarks/storage.py).

Across processes the rule is lock first: every like transaction locks the rows of the questions it touches, in
id order, before it changes a reaction, and recounts their likes after its changes. So two processes never
wait on each other in a cycle, and the recount, a statement run after the locks were granted, sees every
committed change to those questions' reactions (see :mod:`storage.postgres.likes`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from handlers.vocabulary.domain import Member
from storage.postgres.base import Conn

logger = logging.getLogger(__name__)

Ref = tuple[str, str, str]  # platform, chat_id, message_id
Locked = dict[Ref, int]  # the locked questions' ids by their message
Work = Callable[[Conn, Locked], Awaitable[Any]]
# A reaction change: added, created_at, emoji, member's platform, user_id, post's platform, chat_id, message_id.
Change = tuple[bool, int, str, str, str, str, str, str]

MAX_GROUP = 2000  # operations in one transaction at most (as SQLite's writer batches)
RETRIES = 3  # a deadlock (none is expected: locks are taken in id order) or a serialization failure


@dataclass(slots=True)
class LikeOp:
    """One caller's part of a group: the questions it touches (locked for it), the members it stores, and either
    reaction changes (consecutive ones of a group go as one statement per run of adds or removes) or other work
    on the connection (a clear, a reconciliation)."""

    refs: list[Ref]
    members: list[Member] = field(default_factory=list)
    changes: list[Change] | None = None
    work: Work | None = None
    done: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class LikeQueue:
    """FIFO operations drained by one task at a time, each group in one transaction.

    ``run_group`` is the store's: it locks the group's questions, runs each operation's work in order, and
    recounts. A group that fails is retried one operation per transaction, so one bad operation fails alone.
    """

    def __init__(self, run_group: Callable[[list[LikeOp]], Awaitable[list[Any]]]) -> None:
        self._run_group = run_group
        self._pending: deque[LikeOp] = deque()
        self._task: asyncio.Task[None] | None = None
        self.transactions = 0  # counters for tests and benchmarks: how much the grouping grouped
        self.operations = 0

    async def submit(self, op: LikeOp) -> Any:
        self._pending.append(op)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())
        # Not shielded: a caller cancelled while its operation is queued cancels only its wait (the operation
        # is still applied with its group, and its result is dropped).
        return await op.done

    async def drain(self) -> None:
        """Until every operation queued so far is applied (or has failed): the store's close waits for this, as
        SQLite's writer commits what is queued before closing, so a like handed over is never dropped."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})

    async def _drain(self) -> None:
        group: list[LikeOp] = []
        try:
            while self._pending:
                group = [self._pending.popleft() for _ in range(min(MAX_GROUP, len(self._pending)))]
                await self._run(group)
        except BaseException as stopped:  # cancelled (the loop is closing): no caller may wait forever
            for op in [*group, *self._pending]:
                _fail(op, stopped)
            self._pending.clear()
            raise

    async def _run(self, group: list[LikeOp]) -> None:
        """One group in one transaction; when it fails, each of its operations alone, so only a bad one fails."""
        try:
            results = await self._with_retries(group)
        except Exception as error:
            if len(group) == 1:
                _fail(group[0], error)
                return
            logger.info("a group of %d like operations failed (%s); retrying one by one", len(group), error)
            for op in group:
                try:
                    result = await self._with_retries([op])
                except Exception as alone:
                    _fail(op, alone)
                else:
                    _succeed(op, result[0])
            return
        for op, result in zip(group, results, strict=True):
            _succeed(op, result)

    async def _with_retries(self, group: list[LikeOp]) -> list[Any]:
        for attempt in range(RETRIES):
            try:
                results = await self._run_group(group)
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                if attempt == RETRIES - 1:
                    raise
                logger.warning("like transaction retried after a deadlock or serialization failure")
                continue
            self.transactions += 1
            self.operations += len(group)
            return results
        raise AssertionError("unreachable")


def _succeed(op: LikeOp, result: Any) -> None:
    if not op.done.done():
        op.done.set_result(result)


def _fail(op: LikeOp, error: BaseException) -> None:
    if op.done.done():
        return
    if isinstance(error, asyncio.CancelledError):
        op.done.cancel()
    else:
        op.done.set_exception(error)
