"""The store each ingest round's studybot writes to (``--store``): a fresh SQLite file in the round's folder, the
default, or a fresh database on a PostgreSQL server started for the run (issue 13 asks for the ingest ratio on
PostgreSQL too). The server is the tests' (:mod:`tests.postgres_server`: fsync off, on 127.0.0.1), so the
figure is the store's cost, not a disk's.

Every round still checks its work: exactly the expected reaction rows and like counts, on either store.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import asyncpg

from benchmarks.rounds import RoundFailed, check_committed
from bot.config import Settings

if TYPE_CHECKING:
    from tests.postgres_server import PostgresServer


class RoundStores:
    """``async with RoundStores("postgresql") as stores: stores.settings(folder)`` — one fresh store per round."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._server: PostgresServer | None = None
        self._numbers = itertools.count(1)

    async def __aenter__(self) -> RoundStores:
        if self.kind == "postgresql":
            from storage.postgres import PostgresStore
            from tests.postgres_server import TEMPLATE, PostgresServer

            server = PostgresServer()
            server.start()
            self._server = server
            template = await PostgresStore.open(server.create_database(TEMPLATE), pool_size=1)  # migrated once
            await template.close()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.stop()

    def settings(self, folder: Path) -> Settings:
        if self._server is None:
            return Settings(database_path=folder / "bench.db", default_language="en", _env_file=None)  # type: ignore[call-arg]
        from tests.postgres_server import TEMPLATE

        url = self._server.create_database(f"round_{next(self._numbers)}", template=TEMPLATE)
        return Settings(database_url=url, default_language="en", _env_file=None)  # type: ignore[call-arg]

    async def check_committed(self, settings: Settings, expected: int) -> int:
        """As :func:`benchmarks.rounds.check_committed`, on whichever store the round used."""
        if settings.database_url is None:
            return check_committed(settings.database_path, expected)
        conn = await asyncpg.connect(settings.database_url.get_secret_value())
        try:
            rows = int(await conn.fetchval("SELECT COUNT(*) FROM reactions"))
            likes = int(await conn.fetchval("SELECT COALESCE(SUM(likes), 0) FROM counted_questions"))
        finally:
            await conn.close()
        if rows != expected or likes != expected:
            raise RoundFailed(
                f"{expected:,} likes sent, but {rows:,} reaction rows and a like count of {likes:,} committed"
            )
        return likes
