from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from tests.clock import TestClock
from tests.postgres_server import PostgresServer, PostgresUnavailable, migrated_template
from tests.scenarios.harness import ConsoleHarness

# CI sets this so that a machine without PostgreSQL fails the PostgreSQL tests instead of skipping them.
REQUIRE_POSTGRES = "TESTS_REQUIRE_POSTGRES"
_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole run, with a migrated template database to copy."""
    try:
        server = PostgresServer()
    except PostgresUnavailable as missing:
        if os.environ.get(REQUIRE_POSTGRES):
            pytest.fail(f"{missing} ({REQUIRE_POSTGRES} is set, so the PostgreSQL tests may not be skipped)")
        pytest.skip(f"PostgreSQL tests skipped: {missing}")
    with server:
        migrated_template(server)
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database at the latest schema version, dropped after the test."""
    name = f"test_{os.getpid()}_{next(_databases)}"
    url = postgres_server.create_database(name, template=migrated_template(postgres_server))
    yield url
    postgres_server.drop_database(name)


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_path=tmp_path / "studybot.db", default_language="en", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(params=["sqlite", "postgresql"])
def settings_on_each_store(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for an SQLite file, then for a fresh PostgreSQL database: a test module that overrides
    ``settings`` with this one runs every test on both stores (issue 13: one contract, one test suite)."""
    if request.param == "sqlite":
        return Settings(database_path=tmp_path / "studybot.db", default_language="en", _env_file=None)  # type: ignore[call-arg]
    url = request.getfixturevalue("postgres_url")
    return Settings(database_url=url, default_language="en", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
async def console(settings: Settings, clock: TestClock, tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with ConsoleHarness.open(settings, clock, tmp_path / "charts") as harness:
        yield harness
