"""Opening SQLite connections the one way studybot uses them.

Every connection gets the same pragmas: foreign keys are off by default in SQLite and must be turned on per
connection; WAL lets the reader connection read while the writer writes; synchronous=NORMAL is durable
against application crashes in WAL mode (only an OS crash can lose the last commits) and avoids an fsync per
commit; busy_timeout makes a second process (``studybot db upgrade``, an export) wait instead of failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import aiosqlite

from storage.errors import DatabaseDamaged, DatabaseNotWritable, DatabaseUnusable

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


async def connect_raw(path: str | Path) -> aiosqlite.Connection:
    """A connection in autocommit mode with only the busy timeout set.

    Used before the schema version is checked: setting journal_mode=WAL writes the file header, and a
    database that is too new must be left exactly as it was found.
    """
    pending = aiosqlite.connect(str(path), isolation_level=None)
    try:
        conn = await pending
    except BaseException:
        # aiosqlite stops its worker thread after a failed connect but does not wait for it; when the event
        # loop closes first, the thread dies with a second traceback ("Event loop is closed") after the real
        # error was reported. Wait for it, so that a failed open ends with the one error. (The thread is
        # ``_thread`` since aiosqlite 0.21; before, the connection was the thread itself.)
        thread = cast(threading.Thread, getattr(pending, "_thread", pending))
        await asyncio.to_thread(thread.join, 5)
        raise
    conn.row_factory = sqlite3.Row
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


async def apply_pragmas(conn: aiosqlite.Connection, *, foreign_keys: bool = True) -> None:
    """The pragmas every studybot connection runs with (see the module docstring for why)."""
    async with conn.execute("PRAGMA journal_mode = WAL") as cursor:
        row = await cursor.fetchone()
    if row is None or str(row[0]).lower() != "wal":
        # e.g. an in-memory database; everything still works, only without concurrent reads.
        logger.warning("SQLite refused WAL mode (journal_mode is %s)", row[0] if row else None)
    await conn.execute("PRAGMA synchronous = NORMAL")
    await conn.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("PRAGMA temp_store = MEMORY")


async def connect(path: str | Path, *, read_only: bool = False) -> aiosqlite.Connection:
    """A ready connection. ``read_only`` ones refuse writes, so a query can never write by mistake."""
    conn = await connect_raw(path)
    try:
        await apply_pragmas(conn)
        if read_only:
            await conn.execute("PRAGMA query_only = ON")
    except BaseException:
        await conn.close()
        raise
    return conn


async def check_writable(conn: aiosqlite.Connection) -> None:
    """Raise SQLite's own error now if the database cannot be written, and change nothing.

    SQLite opens a file it may not write read-only without a word, and in WAL mode even takes the write lock;
    only the first page written fails. Writing the schema version back unchanged inside a transaction that is
    rolled back finds that out at start instead of at the first question, and leaves the file as it was.
    """
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    version = int(row[0]) if row else 0
    await conn.execute("BEGIN IMMEDIATE")
    try:
        await conn.execute(f"PRAGMA user_version = {version:d}")
    finally:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")


@contextlib.contextmanager
def explained(path: str | Path) -> Iterator[None]:
    """SQLite's errors about the file at ``path`` leave this block as :class:`DatabaseUnusable` (see below)."""
    try:
        yield
    except sqlite3.Error as error:
        problem = explain_failure(path, error)
        if problem is None:
            raise
        raise problem from error


def explain_failure(path: str | Path, error: BaseException) -> DatabaseUnusable | None:
    """What an SQLite error about the file at ``path`` means for whoever set DATABASE_PATH, or None.

    None for everything that is not about the file itself (a bug in a query, a busy database): those keep
    their own message. The file and its folder are looked at after the failure, so the explanation names the
    cause (the folder is missing, is not writable, ...) rather than repeating SQLite's "unable to open".
    """
    if not isinstance(error, sqlite3.Error):
        return None
    name = getattr(error, "sqlite_errorname", "") or ""
    reason = f"(SQLite: {error})"
    shown = str(path)
    file = Path(os.path.abspath(path))
    folder = file.parent
    if name.startswith("SQLITE_CORRUPT"):
        return DatabaseDamaged(
            shown,
            f"is damaged {reason}",
            f"Restore it from a backup, or save what is left with `sqlite3 {shown} .recover | sqlite3 recovered.db`"
            " and point DATABASE_PATH at recovered.db.",
        )
    if name == "SQLITE_NOTADB":
        return DatabaseDamaged(
            shown,
            f"is not an SQLite database {reason}",
            "Point DATABASE_PATH at studybot's database, or at a new file name to start an empty one.",
        )
    if name == "SQLITE_FULL":
        return DatabaseNotWritable(
            shown, f"cannot be written: the disk is full {reason}", f"Free some space on the disk holding {folder}."
        )
    if not name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_IOERR", "SQLITE_AUTH")):
        return None
    if file.is_dir():
        return DatabaseNotWritable(
            shown, "is a folder, not a file", f"Point DATABASE_PATH at a file, e.g. {Path(shown) / 'studybot.db'}."
        )
    if not folder.exists():
        return DatabaseNotWritable(
            shown,
            f"cannot be created: the folder {folder} does not exist",
            f"Create it (mkdir -p {folder}) or point DATABASE_PATH at a file in an existing folder.",
        )
    if not folder.is_dir():
        return DatabaseNotWritable(
            shown, f"cannot be created: {folder} is a file, not a folder", "Point DATABASE_PATH at a file in a folder."
        )
    if _read_only_file_system(folder):
        return DatabaseNotWritable(
            shown,
            f"is on a read-only file system ({folder})",
            "Point DATABASE_PATH at a file on a writable disk, or mount this one read-write.",
        )
    if file.exists() and not os.access(file, os.W_OK):
        return DatabaseNotWritable(
            shown,
            f"is read-only {reason}",
            f"Make it writable for the user running studybot (chmod u+w {shown}), or copy it to a writable place"
            " and point DATABASE_PATH at the copy.",
        )
    if not os.access(folder, os.W_OK):
        if file.exists():
            return DatabaseNotWritable(
                shown,
                f"cannot be opened: the folder {folder} is not writable, and SQLite keeps its -wal and -shm files"
                " next to the database",
                "Let the user running studybot write to that folder, or move the database to a writable one and"
                " point DATABASE_PATH there.",
            )
        return DatabaseNotWritable(
            shown,
            f"cannot be created: the folder {folder} is not writable",
            "Let the user running studybot write there, or point DATABASE_PATH at a file in a writable folder.",
        )
    return DatabaseNotWritable(
        shown,
        f"cannot be opened or written {reason}",
        "Check that the user running studybot may read and write the file and its folder.",
    )


def _read_only_file_system(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False
