"""The user stories on Discord: the same functions as on the console, through the local Discord server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from bot.config import Settings
from tests.discord.harness import DiscordHarness
from tests.scenarios.stories import STORIES


@pytest.fixture
def settings(settings_on_each_store: Settings) -> Settings:
    """Every story on both stores: an SQLite file and a PostgreSQL database (issue 13)."""
    return settings_on_each_store


@pytest.mark.parametrize("story", STORIES, ids=lambda story: story.__name__)
async def test_story_on_discord(
    discord_bot: DiscordHarness, story: Callable[[DiscordHarness], Awaitable[None]]
) -> None:
    await story(discord_bot)
