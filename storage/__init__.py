"""SQLite storage for studybot: implements :class:`handlers.ports.Store`.

The only SQL in the project lives here. :class:`SqliteStore` applies the numbered migrations in
``storage/migrations/`` when it opens a file; :func:`upgrade_database` does only that, for
``studybot db upgrade``.
"""

from storage.connection import explain_failure
from storage.errors import DatabaseDamaged, DatabaseNotWritable, DatabaseTooNew, DatabaseUnusable, StoreClosed
from storage.locations import AnyStore, Database, explain_database_failure, open_store, upgrade_store
from storage.schema import latest_version, upgrade_database
from storage.sqlite_store import SqliteStore
from storage.writer import WriterStats

__all__ = [
    "AnyStore",
    "Database",
    "DatabaseDamaged",
    "DatabaseNotWritable",
    "DatabaseTooNew",
    "DatabaseUnusable",
    "SqliteStore",
    "StoreClosed",
    "WriterStats",
    "explain_database_failure",
    "explain_failure",
    "latest_version",
    "open_store",
    "upgrade_database",
    "upgrade_store",
]
