"""Work handed to an aiosqlite connection's thread in the caller's own step, without awaiting first.

Why: every aiosqlite call is a coroutine, and the writer runs them from its own task. Under a burst of reactions
that task wakes one step of the event loop after a burst is handed to it, and on Discord that step comes after
discord.py's next parse of a socket read: 0.2–0.3 s in which SQLite, on its own thread, sits idle while the burst
waits (measured: a lot of ~3,300 likes handed over at −0.76 s began in SQLite at −0.47 s). A burst that is a group
already gains nothing by waiting for the writer task, so :class:`storage.writer.GroupCommitWriter` hands it to the
thread at once, through :func:`direct_queue`.

aiosqlite runs every call on its connection's thread, taken in order from ``Connection._tx``; its own ``_execute``
puts a ``(future, function)`` pair there and awaits the future. :func:`direct_queue` puts the pair there and
returns the future: the same order, the same thread, one step sooner. These are private names of aiosqlite (0.20
to 0.22 here): where they are missing, :func:`direct_queue` returns None and the writer takes its ordinary path,
and tests/storage/test_writer_at_once.py fails, so an upgrade that loses the path is seen.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite

DirectQueue = Callable[[Callable[[sqlite3.Connection], Any]], "asyncio.Future[Any]"]


def direct_queue(conn: aiosqlite.Connection) -> DirectQueue | None:
    """A function that runs ``fn(sqlite3_connection)`` on ``conn``'s thread after everything queued there, and
    returns its future at once; None when this aiosqlite does not allow it."""
    tx = getattr(conn, "_tx", None)
    if tx is None or not callable(getattr(tx, "put_nowait", None)) or not hasattr(conn, "_running"):
        return None

    def enqueue(fn: Callable[[sqlite3.Connection], Any]) -> asyncio.Future[Any]:
        if not conn._running or conn._connection is None:  # as aiosqlite's own _execute checks
            raise ValueError("Connection closed")
        raw: sqlite3.Connection = conn._connection
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        tx.put_nowait((future, partial(fn, raw)))
        return future

    return enqueue
