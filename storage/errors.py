"""Errors the storage layer raises on purpose (SQLite's own errors pass through unchanged)."""

from __future__ import annotations


class DatabaseTooNew(RuntimeError):
    """The database was written by a newer studybot; opening it could corrupt data the newer schema relies on."""

    def __init__(self, path: str, found: int, known: int) -> None:
        super().__init__(
            f"database schema version {found} is newer than this studybot (knows up to {known}); "
            f"upgrade studybot or point DATABASE_PATH at another file ({path})"
        )
        self.path = path
        self.found = found
        self.known = known


class StoreClosed(RuntimeError):
    """A write was attempted after :meth:`storage.SqliteStore.close` began; it was not stored."""
