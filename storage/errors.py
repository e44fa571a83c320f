"""Errors the storage layer raises on purpose (SQLite's own errors pass through unchanged, except at opening).

The database problems an operator has to fix (:class:`DatabaseTooNew`, :class:`DatabaseUnusable`) say so in
terms of the setting, ``DATABASE_PATH``, and the path, with what to do next: they end up on the terminal of
whoever started studybot, as its last words.
"""

from __future__ import annotations


class DatabaseTooNew(RuntimeError):
    """The database was written by a newer studybot; opening it could corrupt data the newer schema relies on."""

    def __init__(self, path: str, found: int, known: int, *, setting: str = "DATABASE_PATH") -> None:
        super().__init__(
            f"database schema version {found} is newer than this studybot (knows up to {known}); "
            f"upgrade studybot or point {setting} at another database ({path})"
        )
        self.path = path
        self.found = found
        self.known = known


class DatabaseUnusable(RuntimeError):
    """DATABASE_PATH cannot be used as it is. Nothing stored was changed; the message says what to do."""

    def __init__(self, path: str, problem: str, advice: str, *, setting: str = "DATABASE_PATH") -> None:
        super().__init__(f"{setting} {path} {problem}.\n{advice}")
        self.path = path
        self.problem = problem
        self.advice = advice


class DatabaseNotWritable(DatabaseUnusable):
    """The file cannot be created, opened or written where it is: the place is wrong, not the data.

    A folder, a missing or unwritable folder, a read-only file, a full disk.
    """


class DatabaseDamaged(DatabaseUnusable):
    """The file is not an SQLite database, or SQLite found it damaged: the data is wrong, not the place."""


class StoreClosed(RuntimeError):
    """A write was attempted after :meth:`storage.SqliteStore.close` began; it was not stored."""
