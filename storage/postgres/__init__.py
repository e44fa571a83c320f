"""The PostgreSQL store (issue 13): the same contract as the SQLite one, for several processes on several hosts.

Selected by ``DATABASE_URL=postgresql://…``; see :func:`storage.open_store`.
"""

from storage.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
