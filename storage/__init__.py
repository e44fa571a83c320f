"""SQLite storage for studybot: implements :class:`handlers.ports.Store`.

The only SQL in the project lives here. :class:`SqliteStore` applies the numbered migrations in
``storage/migrations/`` when it opens a file; :func:`upgrade_database` does only that, for
``studybot db upgrade``.
"""

from storage.errors import DatabaseTooNew, StoreClosed
from storage.schema import latest_version, upgrade_database
from storage.sqlite_store import SqliteStore
from storage.writer import WriterStats

__all__ = ["DatabaseTooNew", "SqliteStore", "StoreClosed", "WriterStats", "latest_version", "upgrade_database"]
