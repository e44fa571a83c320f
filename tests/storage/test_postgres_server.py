"""The PostgreSQL server the store's tests will run against (issue 13): a real server, started and removed by the
tests, on 127.0.0.1, answering in a time zone far from UTC so that SQL reading the server's clock shows up."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.postgres_server import SERVER_TIMEZONE, PostgresServer


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with PostgresServer() as running:
        yield running


def test_a_real_server_answers_in_its_own_time_zone(server: PostgresServer) -> None:
    async def ask() -> tuple[str, str]:
        conn = await asyncpg.connect(server.url, timeout=10)
        try:
            return await conn.fetchval("SHOW TimeZone"), await conn.fetchval("SELECT version()")
        finally:
            await conn.close()

    zone, version = asyncio.run(ask())
    assert zone == SERVER_TIMEZONE and version.startswith("PostgreSQL ")


def test_each_test_may_have_a_fresh_database(server: PostgresServer) -> None:
    url = server.create_database("fresh_one")

    async def tables() -> int:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
        finally:
            await conn.close()

    assert asyncio.run(tables()) == 0


def test_the_server_and_its_files_are_gone_when_stopped() -> None:
    server = PostgresServer()
    server.start()
    root = server._root
    assert root is not None and Path(root).is_dir()
    server.stop()
    assert not Path(root).exists()


def test_a_failed_initdb_says_what_initdb_printed() -> None:
    """A cluster that cannot be made fails with initdb's own words (after a second try), not a bare exit status,
    and the server's folder is removed."""
    server = PostgresServer()
    root = Path(tempfile.mkdtemp(prefix="studybot-pg-"))
    server._root = root
    blocker = root / "a-file"
    blocker.write_text("not a folder")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    with pytest.raises(RuntimeError, match=r"initdb failed \(exit status 1\):\n(.|\n)*a-file/data"):
        server._initdb(blocker / "data")
    assert not root.exists()
