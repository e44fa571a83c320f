"""The single writer: every write goes through one connection, batched into group commits.

Why: SQLite allows one writer at a time, and the cost of a write is dominated by the commit, not the
statement. So write methods do not write; they enqueue an operation and await its future. One task drains
everything queued (up to ``batch_max``), runs it in as few commits as it can (one transaction, or a few lone
statements), and only then resolves the futures — so when a write method returns, its data is committed, and
a thousand likes arriving together cost one commit instead of a thousand.

Within a batch:

* Operations keep their FIFO order (a reaction queued after the question it targets sees the question),
  except those marked ``hoist`` — idempotent upserts such as members' names that later operations may need
  — which run first, in their own order.
* Consecutive :class:`Statement` operations with identical SQL run as ONE ``executemany`` (or one statement
  over a JSON array, see ``batch_sql``).
* If an ``executemany`` fails, the batch is rolled back and replayed one operation at a time, so only the bad
  operation's future gets the exception and the rest commit. A single statement is atomic on its own.
* A :class:`Batch` is several statements with one future: they run in order (consecutive ones with the same
  SQL as one call, like neighbouring statements) and succeed or fail together. For bursts, where a future
  and its callbacks per row cost more than the row.
* Operations at the front of a batch that are one statement each commit as lone statements, without BEGIN and
  COMMIT (see :meth:`GroupCommitWriter._run_lone_statements`); the rest of the batch is one transaction.
* An operation marked ``at_once`` (a burst of likes that is one statement over a JSON array: a group already)
  goes to SQLite's thread in the submitter's own step when the writer is idle, without waiting for the writer
  task to wake (see :mod:`storage.thread_queue`); it still runs after everything handed over before it.
* :class:`Call` operations run an async function on the writer connection inside a SAVEPOINT (a failing one
  is rolled back alone) and resolve to its return value; they are for writes that must read back what they
  wrote, and must not BEGIN or COMMIT themselves.

A cancelled caller does not cancel its write: the operation was queued and will still be committed.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import aiosqlite

from storage import planner_statistics
from storage.errors import StoreClosed
from storage.json_text import json_text
from storage.thread_queue import DirectQueue, direct_queue

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(slots=True, eq=False)
class Statement:
    """One parameterised statement; batched with its neighbours that have the same SQL.

    ``batch_sql``, when given, does what a whole group of these statements does in ONE statement that takes
    the group's parameter lists as a single JSON array (read back with ``json_each``). The group then costs one
    call into SQLite, which holds the GIL only to bind one string, instead of a bind and a GIL hand-over per
    row: under load the writer thread otherwise queues for the GIL behind the event loop at every row.
    """

    sql: str
    params: Sequence[Any]
    hoist: bool = False
    future: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    batch_sql: str | None = None
    at_once: bool = False


@dataclass(slots=True, eq=False)
class Call:
    """An async function run on the writer connection inside the batch's transaction."""

    fn: Callable[[aiosqlite.Connection], Awaitable[Any]]
    future: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def hoist(self) -> bool:
        return False


@dataclass(slots=True, eq=False)
class Batch:
    """Rows of (sql, params, batch_sql) applied in order, all or none, resolving one future to None.

    ``batch_sql`` has the meaning it has on :class:`Statement`: consecutive rows with the same SQL then run as
    one statement over a JSON array of their parameter lists.
    """

    rows: Sequence[tuple[str, Sequence[Any], str | None]]
    future: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    at_once: bool = False

    @property
    def hoist(self) -> bool:
        return False


Operation = Statement | Batch | Call
Row = tuple[str, Sequence[Any], str | None]  # sql, params, batch_sql
Outcome = tuple[Operation, Any, BaseException | None]  # the op, its result, or the error it alone failed with


@dataclass(slots=True)
class WriterStats:
    """Counters for tests and benchmarks: how much group commit actually grouped."""

    operations: int = 0
    batches: int = 0
    commits: int = 0
    transactions: int = 0  # commits that needed BEGIN and COMMIT (two more round trips than a lone statement)
    executemany_calls: int = 0
    fallbacks: int = 0
    failed_operations: int = 0
    at_once: int = 0  # operations handed to SQLite's thread in the submitter's step


class GroupCommitWriter:
    """Owns the writer connection and the task that drains the queue. Create with :meth:`start`."""

    def __init__(self, conn: aiosqlite.Connection, batch_max: int) -> None:
        if batch_max < 1:
            raise ValueError("batch_max must be at least 1")
        self._conn = conn
        self._batch_max = batch_max
        self._pending: deque[Operation] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closing = False
        self._conn_closed = False
        self._task: asyncio.Task[None] | None = None
        self._busy = False  # the writer task is running a batch
        self._direct = direct_queue(conn)
        self._in_flight: set[asyncio.Future[Any]] = set()  # at-once operations not yet answered
        self._sent_this_step = False  # an at-once operation went in this step of the event loop
        self.stats = WriterStats()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="storage-writer")

    # -- submitting ------------------------------------------------------------------------------------------
    def submit(self, op: Operation) -> asyncio.Future[Any]:
        """Queue ``op`` without yielding, so several submits in a row always land in the same batch."""
        if self._closing:
            raise StoreClosed("the store is closed; the write was not stored")
        idle = not self._busy and not self._pending and not self._sent_this_step
        if not isinstance(op, Call) and op.at_once and self._direct is not None and idle:
            rows = _at_once_rows(op)
            if rows is not None:
                self._send_at_once(op, rows, self._direct)
                return op.future
        self._pending.append(op)
        self._wake()
        return op.future

    def _send_at_once(self, op: Statement | Batch, rows: list[Row], direct: DirectQueue) -> None:
        """``op`` to SQLite's thread now, behind what is there already (nothing of the writer task's: it is
        idle, and whatever it runs next is queued behind this). One statement, committed on its own."""
        done = direct(partial(_run_rows_on, rows))
        # What else is handed over in this step waits for the writer task, which joins neighbours with the same
        # SQL into one statement: two bursts queued together still cost one more statement, not one each.
        self._sent_this_step = True
        asyncio.get_running_loop().call_soon(self._next_step)
        self._in_flight.add(done)
        self.stats.operations += 1
        self.stats.batches += 1
        self.stats.at_once += 1
        done.add_done_callback(partial(self._at_once_done, op))

    def _next_step(self) -> None:
        self._sent_this_step = False

    def _at_once_done(self, op: Statement | Batch, done: asyncio.Future[Any]) -> None:
        self._in_flight.discard(done)
        if done.cancelled():
            _fail(op, asyncio.CancelledError())
            return
        error = done.exception()
        if error is not None:
            self.stats.failed_operations += 1
            _fail(op, error)
            return
        self.stats.commits += 1
        if not op.future.done():
            op.future.set_result(None)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        await self.submit(Statement(sql, params))

    async def call(self, fn: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        result: T = await self.submit(Call(fn))
        return result

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- closing ---------------------------------------------------------------------------------------------
    async def close(self) -> None:
        """Refuse new writes, commit everything already queued, then return."""
        self._closing = True
        self._wake()
        if self._task is not None:
            await asyncio.shield(self._task)
        if self._in_flight:
            await asyncio.wait(set(self._in_flight))

    async def close_connection(self) -> None:
        """After :meth:`close`: let SQLite refresh its planner statistics, then close the connection."""
        if self._conn_closed:
            return
        self._conn_closed = True
        try:
            await self._conn.execute("PRAGMA optimize")
            await planner_statistics.forget_small_tables(self._conn)
        except Exception as error:
            # Only statistics for the planner, refreshed at the next close: another process writing the same
            # file (webhook workers, shards) may hold the lock past the busy timeout. Nothing is lost; say so
            # in one line, the traceback only at DEBUG.
            logger.info("planner statistics not refreshed at close (%s); they will be at the next one", error)
            logger.debug("PRAGMA optimize failed while closing", exc_info=True)
        await self._conn.close()

    # -- the writer task -------------------------------------------------------------------------------------
    async def _run(self) -> None:
        """Drain the queue batch by batch; on close, finish what is queued and stop.

        A plain deque and one wake-up future instead of an asyncio.Queue: the queue is touched twice per
        write, and at tens of thousands of writes a second its bookkeeping showed in profiles.
        """
        pending, loop = self._pending, asyncio.get_running_loop()
        while True:
            if not pending:
                if self._closing:
                    return
                self._waiter = loop.create_future()
                await self._waiter
                self._waiter = None
                continue
            if len(pending) <= self._batch_max:
                batch = list(pending)
                pending.clear()
            else:
                batch = [pending.popleft() for _ in range(self._batch_max)]
            try:
                await self._run_batch(batch)
            except Exception as error:  # the writer must outlive any one batch
                logger.exception("storage writer: a batch of %d operations failed", len(batch))
                for op in batch:
                    _fail(op, error)

    async def _run_batch(self, batch: list[Operation]) -> None:
        self._busy = True
        try:
            await self._run_batch_now(batch)
        finally:
            self._busy = False

    async def _run_batch_now(self, batch: list[Operation]) -> None:
        self.stats.batches += 1
        self.stats.operations += len(batch)
        hoisted = [op for op in batch if op.hoist]
        ordered = hoisted + [op for op in batch if not op.hoist] if hoisted else batch
        left = await self._run_lone_statements(ordered)
        if left:
            await self._run_transaction(left)

    async def _run_transaction(self, ordered: list[Operation]) -> None:
        conn = self._conn
        self.stats.transactions += 1
        await conn.execute("BEGIN IMMEDIATE")
        try:
            results = await self._run_grouped(ordered)
            if results is None:
                # An executemany failed part-way: its earlier rows are applied and no one knows which row
                # failed. Start the batch again, one operation at a time.
                await conn.execute("ROLLBACK")
                self.stats.fallbacks += 1
                await conn.execute("BEGIN IMMEDIATE")
                results = [await self._run_one(op) for op in ordered]
            await conn.execute("COMMIT")
        except Exception:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise
        self.stats.commits += 1
        for op, value, error in results:
            if error is not None:
                _fail(op, error)
            elif not op.future.done():
                op.future.set_result(value)

    async def _run_lone_statements(self, ordered: list[Operation]) -> list[Operation]:
        """Run the front of the batch as lone statements, without BEGIN and COMMIT; return the rest.

        A lone statement is a transaction of its own in SQLite, atomic and committed when it returns. Why: each
        BEGIN and COMMIT is a round trip to the writer thread, and under a burst its answer waits for an event
        loop busy parsing the next events. So operations that are one statement each (a burst of likes through
        one JSON statement, a single upsert) run that way, neighbours with the same SQL as one statement; each
        operation stays atomic, and the order is kept, since the rest runs after. The front ends at the first
        operation that is not one statement (a call, a batch of several statements). A failed statement applied
        nothing: its operations go to the transaction with the rest, which tells the bad one from the others.
        Each statement's callers are told as soon as it is committed, before the next one runs: a caller that
        needs only the first (a kept burst of likes, then its count) goes on while the second runs.
        """
        start = 0
        while start < len(ordered):
            sql = _lone_sql(ordered[start])
            if sql is None:
                break
            end = start + 1
            while end < len(ordered) and _lone_sql(ordered[end]) == sql:
                end += 1
            rows = _flatten(ordered[start:end])
            assert rows is not None  # no call among them
            if len(rows) > 1 and rows[0][2] is None:
                break  # an executemany outside a transaction would commit row by row
            try:
                await self._run_rows(rows)
            except Exception as error:
                logger.debug("a lone statement of %d rows failed (%s); it goes to a transaction", len(rows), error)
                break
            self.stats.commits += 1
            for op in ordered[start:end]:
                if not op.future.done():
                    op.future.set_result(None)
            start = end
        return ordered[start:]

    async def _run_grouped(self, ordered: list[Operation]) -> list[Outcome] | None:
        """The fast path: one executemany per group. None when an executemany failed (the caller replays).

        No savepoint around an executemany: SQLite then has to copy every page the statement touches into a
        sub-journal, which doubled its cost. A failure is rare enough to pay for with a replay instead.
        """
        results: list[Outcome] = []
        for group in _groups(ordered):
            first = group[0]
            if len(group) == 1 and not isinstance(first, Batch):
                results.append(await self._run_one(first))
                continue
            rows = _flatten(group)
            assert rows is not None  # a group of more than one op has no call
            try:
                await self._run_rows(rows)
            except Exception as error:
                self._check_transaction(error)
                logger.debug("a group of %d rows failed (%s); replaying the batch one by one", len(rows), error)
                return None
            results.extend((op, None, None) for op in group)
        return results

    async def _run_rows(self, rows: Sequence[tuple[str, Sequence[Any], str | None]]) -> None:
        """Rows in order; each run of consecutive rows with the same SQL is one call into SQLite."""
        start = 0
        while start < len(rows):
            sql, params, batch_sql = rows[start]
            end = start + 1
            while end < len(rows) and rows[end][0] == sql:
                end += 1
            if end - start == 1:
                await self._conn.execute(sql, params)
            else:
                self.stats.executemany_calls += 1
                group = [row[1] for row in rows[start:end]]
                if batch_sql is not None:
                    await self._conn.execute(batch_sql, (json_text(group),))
                else:
                    await self._conn.executemany(sql, group)
            start = end

    async def _run_one(self, op: Operation) -> Outcome:
        """One operation whose failure must not undo its neighbours.

        A single statement is atomic by itself (SQLite undoes a failed statement and keeps the transaction);
        a batch or a call may run several, so it runs inside a savepoint.
        """
        conn = self._conn
        if isinstance(op, Statement):
            try:
                await conn.execute(op.sql, op.params)
            except Exception as error:
                self._check_transaction(error)
                self.stats.failed_operations += 1
                return op, None, error
            return op, None, None
        await conn.execute("SAVEPOINT one")
        try:
            value = await (self._run_rows(op.rows) if isinstance(op, Batch) else op.fn(conn))
        except Exception as error:
            self._check_transaction(error)
            await conn.execute("ROLLBACK TO one")
            await conn.execute("RELEASE one")
            self.stats.failed_operations += 1
            return op, None, error
        await conn.execute("RELEASE one")
        return op, value, None

    def _check_transaction(self, error: Exception) -> None:
        """Some errors (disk full, I/O) make SQLite roll back the whole transaction: then the batch is lost."""
        if not self._conn.in_transaction:
            raise error


def _groups(ops: list[Operation]) -> list[list[Operation]]:
    """Consecutive statements and batches (hoisted ones apart) form one group; every call is a group of its own."""
    groups: list[list[Operation]] = []
    for op in ops:
        previous = groups[-1][0] if groups else None
        if (
            not isinstance(op, Call)
            and previous is not None
            and not isinstance(previous, Call)
            and previous.hoist == op.hoist
        ):
            groups[-1].append(op)
        else:
            groups.append([op])
    return groups


def _flatten(ops: list[Operation]) -> list[tuple[str, Sequence[Any], str | None]] | None:
    """The rows of statements and batches in order; None when there is a call among them."""
    rows: list[tuple[str, Sequence[Any], str | None]] = []
    for op in ops:
        if isinstance(op, Call):
            return None
        if isinstance(op, Batch):
            rows.extend(op.rows)
        else:
            rows.append((op.sql, op.params, op.batch_sql))
    return rows


def _lone_sql(op: Operation) -> str | None:
    """The SQL of an operation that is one statement (one row, or rows of one SQL run as a JSON batch)."""
    if isinstance(op, Statement):
        return op.sql
    if isinstance(op, Batch) and op.rows:
        sql, _, batch_sql = op.rows[0]
        if all(row[0] == sql for row in op.rows) and (len(op.rows) == 1 or batch_sql is not None):
            return sql
    return None


def _fail(op: Operation, error: BaseException) -> None:
    if not op.future.done():
        op.future.set_exception(error)


def _at_once_rows(op: Statement | Batch) -> list[Row] | None:
    """The rows of an operation that is one statement, or None (several statements, or rows that would be an
    executemany: outside a transaction that commits row by row)."""
    if _lone_sql(op) is None:
        return None
    rows = _flatten([op])
    if rows is None or (len(rows) > 1 and rows[0][2] is None):
        return None
    return rows


def _run_rows_on(rows: list[Row], conn: sqlite3.Connection) -> None:
    """On SQLite's thread: an at-once operation's rows as one statement (as :meth:`GroupCommitWriter._run_rows`)."""
    sql, params, batch_sql = rows[0]
    if len(rows) == 1:
        conn.execute(sql, params)
    else:
        assert batch_sql is not None
        conn.execute(batch_sql, (json_text([row[1] for row in rows]),))
