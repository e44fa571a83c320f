"""Fixtures for the storage tests: one contract, two stores (issue 13).

``store`` is parametrized: every test that takes it runs on a real SQLite file under tmp_path and on a fresh
database of the real PostgreSQL server the tests start (skipped with a message where PostgreSQL is not
installed; CI makes that a failure). Never a mock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.locations import Database, open_store
from tests.storage.helpers import AnyStore, World, make_world


@pytest.fixture
def no_settings_from_the_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests that run the command line: no setting of the machine's environment or working folder leaks in."""
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_PATH", "DATABASE_URL", "DEFAULT_COURSE", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "studybot.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, db_path: Path) -> Database:
    if request.param == "sqlite":
        return Database.sqlite(db_path)
    return Database.parse(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def store(database: Database) -> AsyncIterator[AnyStore]:
    opened = await open_store(database)
    yield opened
    await opened.close()


@pytest.fixture
async def world(store: AnyStore) -> World:
    return await make_world(store)
