"""Where the data lives: an SQLite file (the embedded default) or a PostgreSQL database, and opening either.

One value, :class:`Database`, names it, parsed from the URLs an operator writes (``sqlite:///path/to/studybot.db``,
``postgresql://user:password@host:5432/name``) or from a plain path. :func:`open_store` and
:func:`upgrade_store` then do the same thing on both, so the rest of studybot never asks which it has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias
from urllib.parse import urlsplit, urlunsplit

from storage.errors import DatabaseUnusable

if TYPE_CHECKING:  # the stores (and their drivers) are imported when opened: settings only parse the URL
    from storage.postgres.store import PostgresStore
    from storage.sqlite_store import SqliteStore


Progress = Callable[[int, int], None]
# Either store; a string, so that naming the type imports neither driver.
AnyStore: TypeAlias = "SqliteStore | PostgresStore"
DEFAULT_POOL_SIZE = 10

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def without_password(url: str) -> str:
    """The URL as it may be shown in a message or a log line: the password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"{parts.username or ''}:***@{host}", parts.path, parts.query, parts.fragment))


@dataclass(frozen=True, slots=True)
class Database:
    """An SQLite file (``path``) or a PostgreSQL database (``url``), exactly one of them."""

    kind: Literal["sqlite", "postgresql"]
    path: Path | None = None
    url: str | None = None

    @classmethod
    def sqlite(cls, path: str | Path) -> Database:
        return cls("sqlite", path=Path(path))

    @classmethod
    def parse(cls, text: str) -> Database:
        """``sqlite:///relative/or//absolute/path`` or ``postgresql://…``; ValueError saying what is expected."""
        text = text.strip()
        if text.startswith(SQLITE_PREFIX) and len(text) > len(SQLITE_PREFIX):
            return cls.sqlite(text[len(SQLITE_PREFIX) :])
        if text.startswith(POSTGRES_PREFIXES):
            return cls("postgresql", url=text)
        raise ValueError(
            f"{without_password(text)!r} is not a database URL: expected sqlite:///path/to/studybot.db "
            "or postgresql://user:password@host:5432/name"
        )

    def shown(self) -> str:
        """How it may appear in messages and logs: the path, or the URL without its password."""
        if self.path is not None:
            return str(self.path)
        return without_password(self.url or "")

    @property
    def setting(self) -> str:
        return "DATABASE_PATH" if self.kind == "sqlite" else "DATABASE_URL"


def explain_database_failure(database: Database, error: BaseException) -> DatabaseUnusable | None:
    """What an error in the middle of a command means for the operator, or None when it is not the database's.

    SQLite: a damaged file, a file turned read-only, a full disk (:func:`storage.connection.explain_failure`).
    PostgreSQL: the server went away or stopped answering.
    """
    if database.path is not None:
        from storage.connection import explain_failure

        return explain_failure(database.path, error)
    from storage.postgres.connection import explain_failure as explain_postgres_failure

    return explain_postgres_failure(database.shown(), error)


async def open_store(database: Database, *, pool_size: int = DEFAULT_POOL_SIZE) -> AnyStore:
    """Open (creating and migrating as needed) the store ``database`` names."""
    if database.path is not None:
        from storage.sqlite_store import SqliteStore

        return await SqliteStore.open(database.path)
    from storage.postgres.store import PostgresStore

    assert database.url is not None
    return await PostgresStore.open(database.url, pool_size=pool_size)


async def upgrade_store(database: Database, progress: Progress | None = None) -> tuple[int, int]:
    """``studybot db upgrade`` on either: migrate (and cluster once, see storage.clusters); (from, to) versions."""
    if database.path is not None:
        from storage.schema import upgrade_database

        return await upgrade_database(database.path, progress)
    from storage.postgres.connection import open_pool
    from storage.postgres.schema import migrate as migrate_postgres

    assert database.url is not None
    pool = await open_pool(database.url, 1)
    try:
        async with pool.acquire() as conn:
            return await migrate_postgres(conn, database.shown())
    finally:
        await pool.close()
