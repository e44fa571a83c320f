from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.config import Settings
from tests.clock import TestClock
from tests.discord.harness import DiscordHarness


@pytest.fixture
async def discord_bot(settings: Settings, clock: TestClock) -> AsyncIterator[DiscordHarness]:
    """The real discord.py backend connected to the local Discord server, on a fresh database."""
    async with DiscordHarness.open(settings, clock) as harness:
        yield harness
