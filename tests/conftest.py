from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from tests.clock import TestClock
from tests.scenarios.harness import ConsoleHarness


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_path=tmp_path / "studybot.db", default_language="en", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
async def console(settings: Settings, clock: TestClock) -> AsyncIterator[ConsoleHarness]:
    async with ConsoleHarness.open(settings, clock) as harness:
        yield harness
